"""Retention: what the maintenance DAG keeps, for how long, and the pruning itself.

- Run-scoped warehouse rows (snapshots, delta, load outcomes, sightings of resolved
  rejects) and Data Docs folders: ``retention_days``. Never the rows of a running run or
  of the latest successful run of an entity, never the newest Data Docs of an entity.
- Resolved rejects (with their sightings): ``reject_retention_days`` after resolution;
  open rejects stay until resolved. Two-way conflicts: ``reject_retention_days`` after
  detection; the two-way baseline (state) is never pruned, the run's decisions follow the
  run-scoped rows.
- The run log ``sync_runs`` (counts and details): ``run_log_retention_days``.
- Airflow's own metadata (``airflow db clean``): ``retention_days``.

A dry run counts what would go and deletes nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubspot_sync.warehouse import Warehouse

log = logging.getLogger(__name__)

DEFAULTS = {"retention_days": 14, "run_log_retention_days": 400, "reject_retention_days": 30}
ENV = {"retention_days": "SYNC_RETENTION_DAYS",
       "run_log_retention_days": "SYNC_RUN_LOG_RETENTION_DAYS",
       "reject_retention_days": "SYNC_REJECT_RETENTION_DAYS"}


def env_default(name: str) -> int:
    """The default of policy field ``name``: its environment variable, else DEFAULTS."""
    raw = os.environ.get(ENV[name], "").strip()
    return int(raw) if raw else DEFAULTS[name]


@dataclass(frozen=True)
class RetentionPolicy:
    retention_days: int = DEFAULTS["retention_days"]
    run_log_retention_days: int = DEFAULTS["run_log_retention_days"]
    reject_retention_days: int = DEFAULTS["reject_retention_days"]
    dry_run: bool = False

    def __post_init__(self) -> None:
        for name in DEFAULTS:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1 day, not {getattr(self, name)}")
        # A run's rows without its run-log row could no longer be aged, so never keep them.
        if self.run_log_retention_days < self.retention_days:
            raise ValueError(f"run_log_retention_days ({self.run_log_retention_days}) must "
                             f"be at least retention_days ({self.retention_days})")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RetentionPolicy:
        """The policy of a DAG run's params (missing keys: the environment defaults)."""
        values = {name: int(params.get(name) or env_default(name)) for name in DEFAULTS}
        return cls(**values, dry_run=bool(params.get("dry_run", False)))

    def cutoffs(self, now: datetime | None = None) -> dict[str, datetime]:
        """Instants before which each kind of data goes."""
        now = now or datetime.now(UTC)
        return {"runs": now - timedelta(days=self.retention_days),
                "run_log": now - timedelta(days=self.run_log_retention_days),
                "rejects": now - timedelta(days=self.reject_retention_days)}


def default_docs_dir() -> Path:
    """Where the validate step writes Data Docs: ``$AIRFLOW_HOME/data_docs``."""
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "data_docs"


def prune_warehouse(warehouse: Warehouse, policy: RetentionPolicy,
                    now: datetime | None = None) -> dict[str, Any]:
    """Apply ``policy`` to the warehouse; a summary with the rows per table it deleted
    (or would delete, in a dry run). Rejects go first so their sightings count once."""
    cut = policy.cutoffs(now)
    dry = policy.dry_run
    rejects = warehouse.prune_rejects(cut["rejects"], dry_run=dry)
    rows = warehouse.prune_run_rows(cut["runs"], cut["rejects"], dry_run=dry)
    rows["reject_events"] += rejects["reject_events"]
    rows["rejects"] = rejects["rejects"]
    rows["sync_runs"] = warehouse.prune_run_log(cut["run_log"], dry_run=dry)
    # Two-way conflicts are kept like resolved rejects; the baseline is state, never pruned.
    rows["sync_conflicts"] = warehouse.prune_conflicts(cut["rejects"], dry_run=dry)
    summary = {"dry_run": dry, "policy": asdict(policy),
               "cutoffs": {k: v.isoformat() for k, v in cut.items()}, "rows": rows}
    log.info("%s warehouse rows: %s", "Would delete" if dry else "Deleted", rows)
    return summary


def _newest_mtime(folder: Path) -> float:
    """The newest modification time in a folder tree (a folder written to recently stays)."""
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        newest = max(newest, path.stat().st_mtime)
    return newest


def prune_data_docs(docs_dir: Path, policy: RetentionPolicy,
                    now: datetime | None = None) -> dict[str, Any]:
    """Delete run folders ``docs_dir/<entity>/<run>`` last written before the cut-off; the
    newest folder of each entity stays. A summary listing the folders (would be) deleted."""
    before = policy.cutoffs(now)["runs"].timestamp()
    old: list[Path] = []
    if docs_dir.is_dir():
        for entity_dir in sorted(p for p in docs_dir.iterdir() if p.is_dir()):
            runs = sorted(((_newest_mtime(p), p) for p in entity_dir.iterdir() if p.is_dir()),
                          key=lambda pair: pair[0])
            old.extend(path for mtime, path in runs[:-1] if mtime < before)
    if not policy.dry_run:
        for path in old:
            shutil.rmtree(path)
    folders = [str(p) for p in old]
    log.info("%s %d Data Docs folder(s) under %s", "Would delete" if policy.dry_run
             else "Deleted", len(folders), docs_dir)
    return {"dry_run": policy.dry_run, "docs_dir": str(docs_dir), "folders": folders}


def clean_airflow_metadata(policy: RetentionPolicy,
                           now: datetime | None = None) -> dict[str, Any]:
    """``airflow db clean`` of the metadata DB before the run-rows cut-off, without
    archive tables: the Python API when importable, else the CLI in a subprocess. Airflow
    keeps each DAG's latest scheduled run itself. Needs the metadata DB connection where
    the task runs."""
    before = policy.cutoffs(now)["runs"]
    summary: dict[str, Any] = {"dry_run": policy.dry_run, "clean_before": before.isoformat()}
    try:
        from airflow.utils.db_cleanup import run_cleanup
    except ImportError:
        cmd = [sys.executable, "-m", "airflow", "db", "clean", "--clean-before-timestamp",
               before.isoformat(), "--yes", "--skip-archive"]
        if policy.dry_run:
            cmd.append("--dry-run")
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        log.info("%s", done.stdout[-4000:])
        return {**summary, "method": "cli"}
    import pendulum

    run_cleanup(clean_before_timestamp=pendulum.instance(before), dry_run=policy.dry_run,
                confirm=False, skip_archive=True)
    return {**summary, "method": "api"}
