"""The maintenance DAG parses light and fast: daily, its retention Params with their
environment defaults, three independent tasks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "sync_maintenance.py"


def parse(env: dict[str, str] | None = None) -> list[str]:
    """Parse time, heavy modules imported, and the DAG's shape, in a fresh interpreter."""
    code = (
        "import json, sys, time, runpy, airflow.sdk\n"
        "before = set(sys.modules); t = time.perf_counter()\n"
        f"dag = runpy.run_path({str(DAG_FILE)!r})['DAG']\n"
        "print(time.perf_counter() - t)\n"
        "heavy = ('pandas', 'sqlalchemy', 'great_expectations', 'hubspot_sync.warehouse',"
        " 'airflow.utils.db_cleanup')\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith(heavy)))\n"
        "tt = dag.timetable\n"
        "print(json.dumps({'id': dag.dag_id, 'timetable': type(tt).__name__,"
        " 'cron': tt.expression, 'tz': str(tt.timezone), 'catchup': dag.catchup,"
        " 'max_active_runs': dag.max_active_runs,"
        " 'params': {k: dag.params[k] for k in dag.params.keys()},"
        " 'tasks': {t: sorted(dag.task_dict[t].upstream_task_ids) for t in dag.task_dict}}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT, env={**_base_env(), **(env or {})})
    return result.stdout.strip().splitlines()[-3:]


def _base_env() -> dict[str, str]:
    """This environment without retention settings of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SYNC_RE")}


def test_shape_schedule_and_defaults() -> None:
    seconds, heavy, shape = parse()
    assert float(seconds) < 1.0 and heavy == "[]"
    dag = json.loads(shape)
    assert dag["id"] == "sync_maintenance"
    assert (dag["timetable"], dag["cron"], dag["tz"]) == (
        "CronDataIntervalTimetable", "30 3 * * *", "UTC")
    assert not dag["catchup"] and dag["max_active_runs"] == 1
    assert dag["params"] == {"retention_days": 14, "run_log_retention_days": 400,
                             "reject_retention_days": 30, "dry_run": False}
    assert dag["tasks"] == {"prune_warehouse": [], "prune_data_docs": [],
                            "clean_airflow_metadata": []}


def test_param_defaults_come_from_the_environment() -> None:
    *_, shape = parse({"SYNC_RETENTION_DAYS": "7", "SYNC_RUN_LOG_RETENTION_DAYS": "90",
                       "SYNC_REJECT_RETENTION_DAYS": "10"})
    assert json.loads(shape)["params"] == {"retention_days": 7, "run_log_retention_days": 90,
                                           "reject_retention_days": 10, "dry_run": False}
