"""End-to-end harness: the real DAGs run with dag.test() against both sandboxes over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ_ROUTES = ("/batch/read", "/search")
# A company url whose host has no top-level domain: the companies mapping's `domain` rule
# rejects it, so the company is held back (companies sharing a domain are not: HubSpot
# allows that).
INVALID_COMPANY_URL = "https://not_a_domain"


def hold_back_company(officernd: Any, company_id: str) -> None:
    """Makes one OfficeRnD company fail validation, so it is not synced (its members'
    and contracts' associations with it wait)."""
    officernd.patch_record("companies", company_id, {"url": INVALID_COMPANY_URL})


def write_calls(stats: dict) -> int:
    """HubSpot calls that can change data (everything but GETs, batch reads and searches)."""
    return sum(r["count"] for r in stats["requests"]
               if r["method"] != "GET" and not r["route"].endswith(READ_ROUTES))


def record_write_calls(stats: dict) -> int:
    """Write calls that touch records or associations (not the property schema)."""
    return sum(r["count"] for r in stats["requests"]
               if r["method"] != "GET" and not r["route"].endswith(READ_ROUTES)
               and not r["route"].startswith("/crm/v3/properties"))


def calls(stats: dict) -> int:
    return sum(r["count"] for r in stats["requests"])


@dataclass
class SyncEnv:
    hubspot: Any
    officernd: Any
    warehouse: Any
    dags: dict
    last_stats: dict = field(default_factory=dict)

    def run(self, entity: str, *, backfill_at: datetime | None = None,
            scheduled_at: datetime | None = None, **conf: Any) -> dict[str, Any]:
        """One run of sync_<entity>; returns its sync_runs row plus the HubSpot calls it made
        (``calls``, ``write_calls``) and the DagRun (``dag_run``).

        ``backfill_at``: the run is a BACKFILL run for the interval ending at that hour, as
        the scheduler creates for ``airflow backfill create`` (dag.test() itself only makes
        manual runs, so the run type is switched the way the backfill machinery sets it).
        ``scheduled_at``: likewise a SCHEDULED run for the hourly interval ending then.
        """
        before = self.hubspot.stats()
        dag = self.dags[f"sync_{entity}"]
        # Always the whole conf: dag.test() keeps a run's conf on the (shared) DAG object.
        conf = {"full_refresh": False, "dry_run": False, "since": None, "until": None, **conf}
        if backfill_at is not None:
            dag_run = run_dag_as(dag, "BACKFILL_JOB", backfill_at, conf)
        elif scheduled_at is not None:
            dag_run = run_dag_as(dag, "SCHEDULED", scheduled_at, conf)
        else:
            dag_run = dag.test(logical_date=None, run_conf=conf)
        after = self.hubspot.stats()
        state = str(getattr(dag_run.state, "value", dag_run.state))
        row = self.warehouse.get_run(entity, dag_run.run_id) or {}
        routes = {}
        for r in after["requests"]:
            routes[r["route"]] = routes.get(r["route"], 0) + r["count"]
        for r in before["requests"]:
            routes[r["route"]] -= r["count"]
        return {**row, "state": state, "dag_run": dag_run,
                "routes": {k: v for k, v in routes.items() if v},
                "calls": calls(after) - calls(before),
                "write_calls": write_calls(after) - write_calls(before),
                "record_write_calls": record_write_calls(after) - record_write_calls(before)}

    def hook(self):
        from hubspot_sync.hubspot_client import HubSpotHook

        return HubSpotHook.from_url(self.hubspot.url, "sandbox-token")

    def contacts(self, properties=("email", "officernd_id", "firstname", "lastname", "phone")):
        return list(self.hook().list_objects("contacts", list(properties)))

    def records(self, object_type: str, properties: list[str]) -> list[dict]:
        return list(self.hook().list_objects(object_type, properties))


def run_dag_as(dag: Any, run_type: str, logical_date: datetime, conf: dict):
    """dag.test() for the data interval ending at ``logical_date`` (the timetable's manual
    inference), created with ``DagRunType[run_type]`` and its run id prefix."""
    import airflow.serialization.definitions.dag as serialized
    from airflow.utils.types import DagRunType

    create = serialized.SerializedDAG.create_dagrun
    kind = DagRunType[run_type]

    def as_kind(self, *args, **kwargs):
        kwargs["run_type"] = kind
        kwargs["run_id"] = kwargs["run_id"].replace("manual__", f"{kind.value}__")
        return create(self, *args, **kwargs)

    with mock.patch.object(serialized.SerializedDAG, "create_dagrun", as_kind):
        return dag.test(logical_date=logical_date, run_conf=conf)


@pytest.fixture(scope="session")
def entity_dags(airflow_db) -> dict:
    from hubspot_sync.dag_files import entity_dags

    return entity_dags()


def dag_from_file(name: str) -> Any:
    """The DAG of ``dags/<name>.py`` (its module-level ``DAG``), loaded by path once."""
    import importlib.util
    import sys

    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "dags" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module.DAG


@pytest.fixture(scope="session")
def alerts_dag(airflow_db) -> Any:
    return dag_from_file("sync_alerts")


@pytest.fixture
def sync_env(entity_dags, hubspot_sandbox, officernd_sandbox, warehouse_url) -> Iterator[SyncEnv]:
    from hubspot_sync.warehouse import Warehouse

    warehouse = Warehouse(warehouse_url)
    try:
        yield SyncEnv(hubspot_sandbox, officernd_sandbox, warehouse, entity_dags)
    finally:
        warehouse.dispose()
