"""Shared test setup: an isolated AIRFLOW_HOME with its own metadata DB, and the sandboxes.

AIRFLOW_HOME must be set before Airflow is first imported, hence the module-level setup.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="hubspot-sync-tests-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# A failing task in dag.test() must fail the test now, not after minutes of retry delays.
os.environ["SYNC_TASK_RETRIES"] = "0"
# The tests' own connections are set per fixture; never inherit the developer's.
for _name in ("AIRFLOW_CONN_HUBSPOT_DEFAULT", "AIRFLOW_CONN_OFFICERND_DEFAULT",
              "AIRFLOW_CONN_SYNC_WAREHOUSE"):
    os.environ.pop(_name, None)

POSTGRES_URL = os.environ.get("SYNC_TEST_POSTGRES_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def postgres_available(url: str = POSTGRES_URL) -> str | None:
    """None when PostgreSQL answers at url, else the reason it does not."""
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver/connection failure means "not here"
        return f"PostgreSQL not reachable at {url}: {type(exc).__name__}: {str(exc)[:120]}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL URL; skips with the reason when no server answers, unless
    REQUIRE_POSTGRES=1 (CI on this machine kind), where that is a failure."""
    reason = postgres_available()
    if reason:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A migrated Airflow metadata DB (SQLite) under the tests' AIRFLOW_HOME; dag.test()
    writes the DAG folder into it once, not on every call (dag_folder_written_once)."""
    from airflow.utils import db

    db.initdb()
    with dag_folder_written_once():
        yield _HOME


def dag_folder_state() -> tuple:
    """What parsing the DAG folder reads: its files and the mapping files (path, mtime,
    size), and the settings the DAG files take from the environment."""
    folders = [Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]),
               Path(os.environ.get("SYNC_MAPPINGS_DIR", ROOT / "include" / "mappings"))]
    files = sorted((str(f), f.stat().st_mtime_ns, f.stat().st_size)
                   for folder in folders if folder.is_dir()
                   for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("SYNC_"))
    return tuple(files), tuple(settings)


@contextmanager
def dag_folder_written_once() -> Iterator[None]:
    """Every dag.test() call parses the whole DAG folder and serializes each DAG of it into
    the metadata DB again (Airflow 3.3, so that TriggerDagRunOperator targets exist), about
    a second per call before any task runs. The run itself uses the DAG object it is called
    on, and takes from the DB only the DAG's version row; so the folder is written on the
    first call, and again whenever its files or the SYNC_* settings changed or the DAG has
    no version row. Everything else dag.test() does is unchanged."""
    import airflow.dag_processing.dagbag as dagbag
    from airflow.models.dag_version import DagVersion
    from airflow.sdk import DAG

    real_test = DAG.test
    written: list[tuple] = []  # the folder state of the last full call

    def test(self: DAG, *args: Any, **kwargs: Any) -> Any:
        state = dag_folder_state()
        if written and written[-1] == state and DagVersion.get_version(self.dag_id):
            with mock.patch.multiple(dagbag, BundleDagBag=lambda **_: None,
                                     sync_bag_to_db=lambda *_, **__: None):
                return real_test(self, *args, **kwargs)
        result = real_test(self, *args, **kwargs)
        written.append(state)
        return result

    with mock.patch.object(DAG, "test", test):
        yield


def http_connection(host: str, **fields: object) -> str:
    """An Airflow connection as the JSON an AIRFLOW_CONN_* variable holds."""
    return json.dumps({"conn_type": "http", "host": host, **fields})


@pytest.fixture
def hubspot_sandbox() -> Iterator[object]:
    """A fresh HubSpot sandbox (no rate limits, so tests run at full speed), wired to
    the ``hubspot_default`` connection."""
    from sandbox.hubspot import HubSpotSandbox

    sandbox = HubSpotSandbox(port=0, burst_limit=0, search_limit=0).start()
    previous = os.environ.get("AIRFLOW_CONN_HUBSPOT_DEFAULT")
    os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = http_connection(sandbox.url,
                                                                 password="sandbox-token")
    try:
        yield sandbox
    finally:
        sandbox.stop()
        _restore("AIRFLOW_CONN_HUBSPOT_DEFAULT", previous)


@pytest.fixture
def officernd_sandbox(request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh OfficeRnD sandbox (seed 42, scale from the ``officernd_scale`` marker or 200),
    wired to the ``officernd_default`` connection."""
    from sandbox.officernd import OfficeRnDSandbox

    marker = request.node.get_closest_marker("officernd_scale")
    scale = marker.args[0] if marker else 200
    sandbox = OfficeRnDSandbox(port=0, seed=42, scale=scale, rate_limit=0,
                               token_rate_limit=0).start()
    previous = os.environ.get("AIRFLOW_CONN_OFFICERND_DEFAULT")
    os.environ["AIRFLOW_CONN_OFFICERND_DEFAULT"] = http_connection(
        sandbox.url, login="sandbox-client", password="sandbox-secret",
        extra={"org_slug": "sandbox", "token_url": f"{sandbox.url}/oauth/token"})
    try:
        yield sandbox
    finally:
        sandbox.stop()
        _restore("AIRFLOW_CONN_OFFICERND_DEFAULT", previous)


@pytest.fixture
def warehouse_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite warehouse, wired to the ``sync_warehouse`` connection."""
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    previous = os.environ.get("AIRFLOW_CONN_SYNC_WAREHOUSE")
    os.environ["AIRFLOW_CONN_SYNC_WAREHOUSE"] = json.dumps(
        {"conn_type": "generic", "extra": {"url": url}})
    try:
        yield url
    finally:
        _restore("AIRFLOW_CONN_SYNC_WAREHOUSE", previous)


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "officernd_scale(n): members in the OfficeRnD sandbox")


def run_order(item: pytest.Item) -> int:
    """0: a test marked slow, or of an xdist group (a long sequence in one module);
    1: another end-to-end test (marked e2e, or under tests/e2e); 2: the rest."""
    if item.get_closest_marker("slow") or item.get_closest_marker("xdist_group"):
        return 0
    return 1 if item.get_closest_marker("e2e") or "e2e" in item.path.parts else 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest first: xdist (make test: --dist loadfile --no-loadscope-reorder) hands
    files out in collection order, so a minutes-long test collected last (tests/ui sorts
    after tests/e2e) kept one worker busy while the other had nothing left. Whole modules
    move, each in its own order, so module fixtures and tests that build on the one before
    are unchanged."""
    order: dict[object, int] = {}
    for item in items:
        order[item.path] = min(order.get(item.path, 2), run_order(item))
    items.sort(key=lambda item: order[item.path])  # stable: collection order within
