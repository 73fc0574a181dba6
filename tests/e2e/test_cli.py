"""`make sync` (python -m hubspot_sync.cli sync): manual runs in dependency order, one table."""

from __future__ import annotations

import pytest

from hubspot_sync import cli
from tests.e2e.conftest import write_calls

pytestmark = pytest.mark.e2e


def table_rows(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("entity "))
    rows = {}
    for line in lines[header + 2:]:
        if not line.strip():
            break
        entity, *cells = line.split()
        rows[entity] = cells
    return rows


def test_sync_runs_entities_in_dependency_order_and_prints_one_table(sync_env, capsys) -> None:
    assert cli.main(["sync", "members", "companies"]) == 0
    first = capsys.readouterr().out
    assert first.index("== sync_companies") < first.index("== sync_members")
    rows = table_rows(first)
    assert list(rows) == ["companies", "members"]
    columns = cli.COLUMNS[1:]
    members = dict(zip(columns, rows["members"], strict=True))
    assert members["state"] == "success"
    assert int(members["created"]) == len(sync_env.warehouse.id_map("members")) > 0

    before = write_calls(sync_env.hubspot.stats())
    assert cli.main(["sync", "members", "companies"]) == 0
    again = table_rows(capsys.readouterr().out)
    assert all(dict(zip(columns, cells, strict=True))["created"] == "0" for cells in again.values())
    assert write_calls(sync_env.hubspot.stats()) == before, "a second sync writes nothing"


def test_unknown_entity_is_refused(sync_env, capsys) -> None:
    assert cli.main(["sync", "nonsense"]) == 2
    assert "no mapping for: nonsense" in capsys.readouterr().err
