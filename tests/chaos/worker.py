"""A sync run in its own process, so a test can SIGKILL it mid-step:
``python -m tests.chaos.worker ENTITY ISO_DATETIME`` runs sync_<ENTITY> as the SCHEDULED
run of the hourly interval ending at ISO_DATETIME (a real dag.test() run).

The caller sets AIRFLOW_HOME (a fresh folder: this process migrates its own metadata DB)
and the connections (AIRFLOW_CONN_*) in the environment.
"""

from __future__ import annotations

import sys
from datetime import datetime


def main(argv: list[str]) -> int:
    entity, at = argv
    from airflow.utils import db

    from hubspot_sync.dag_files import entity_dags
    from tests.e2e.conftest import run_dag_as

    db.initdb()
    print("worker: metadata DB ready", flush=True)
    conf = {"full_refresh": False, "dry_run": False, "since": None, "until": None}
    dag_run = run_dag_as(entity_dags()[f"sync_{entity}"], "SCHEDULED",
                         datetime.fromisoformat(at), conf)
    state = str(getattr(dag_run.state, "value", dag_run.state))
    print(f"worker: {entity} {state}", flush=True)
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
