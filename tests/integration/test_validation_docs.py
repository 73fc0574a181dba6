"""Validation with the file system and a fresh interpreter: the Data Docs of each run, and
importing the package at DAG parse time loads neither pandas nor Great Expectations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hubspot_sync.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from tests.unit.test_validation import EMAIL_DEF, run

MEMBERS = load_mapping(DEFAULT_MAPPINGS_DIR / "members.yaml")


def test_data_docs_built_per_run(tmp_path: Path) -> None:
    records = [{"source_id": "m1", "email": "a@x.com"}, {"source_id": "m2", "email": "nope"}]
    first = run(MEMBERS, records, EMAIL_DEF, run_id="manual__2024-01-01T00:00:00+00:00",
                docs_dir=tmp_path)
    expected = tmp_path / "members" / "manual__2024-01-01T00_00_00_00_00" / "index.html"
    assert first.data_docs_path == str(expected.resolve())
    assert expected.is_file()
    pages = list(expected.parent.glob("validations/**/*.html"))
    assert pages and "nope" in pages[0].read_text(encoding="utf-8")
    # A second run in the same process (dag.test()) gets its own context and folder.
    second = run(MEMBERS, records, EMAIL_DEF, run_id="scheduled__2024-01-01T01:00:00+00:00",
                 docs_dir=tmp_path)
    assert Path(second.data_docs_path).is_file()
    assert second.data_docs_path != first.data_docs_path
    assert "Data Docs: " + second.data_docs_path in second.summary()
    assert run(MEMBERS, records, EMAIL_DEF).data_docs_path is None


def test_import_loads_neither_pandas_nor_great_expectations() -> None:
    code = ("import sys; import hubspot_sync.validation; "
            "print('great_expectations' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
