"""Data Docs pruning: run folders last written before the cut-off go, the newest folder
of each entity and anything written since stay; a dry run lists the same and keeps all."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hubspot_sync.retention import RetentionPolicy, prune_data_docs

NOW = datetime.now(UTC)


def run_folder(docs: Path, entity: str, run: str, days_ago: float,
               touched_days_ago: float | None = None) -> Path:
    """A Data Docs run folder as validate writes it, its files dated ``days_ago`` (one
    file ``touched_days_ago`` when given)."""
    folder = docs / entity / run
    (folder / "validations").mkdir(parents=True)
    files = [folder / "index.html", folder / "validations" / "result.json"]
    for path in files:
        path.write_text("<html/>")
    for path in [*files, folder / "validations", folder]:
        stamp = (NOW - timedelta(days=days_ago)).timestamp()
        os.utime(path, (stamp, stamp))
    if touched_days_ago is not None:
        stamp = (NOW - timedelta(days=touched_days_ago)).timestamp()
        os.utime(files[1], (stamp, stamp))
    return folder


def test_old_folders_go_newest_and_recent_stay(tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    old = run_folder(docs, "members", "run_a", 30)
    touched = run_folder(docs, "members", "run_b", 30, touched_days_ago=1)
    recent = run_folder(docs, "members", "run_c", 2)
    only = run_folder(docs, "companies", "run_x", 90)  # the entity's newest: kept
    older = run_folder(docs, "companies", "run_w", 100)

    dry = prune_data_docs(docs, RetentionPolicy(dry_run=True), now=NOW)
    assert sorted(dry["folders"]) == sorted([str(old), str(older)])
    assert all(p.exists() for p in (old, touched, recent, only, older))

    real = prune_data_docs(docs, RetentionPolicy(), now=NOW)
    assert real["folders"] == dry["folders"] and not real["dry_run"]
    assert not old.exists() and not older.exists()
    assert touched.exists() and recent.exists() and only.exists()


def test_missing_docs_folder_is_nothing_to_do(tmp_path: Path) -> None:
    summary = prune_data_docs(tmp_path / "none", RetentionPolicy(), now=NOW)
    assert summary["folders"] == []
