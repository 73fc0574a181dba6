"""The distributed deployment (`make cluster`), started once per test session in isolation.

The cluster runs from the very settings files the target uses (deploy/cluster.env and
deploy/sandboxes.env); only what would collide with another cluster on this machine is
replaced: the database names (a unique suffix; dropped at the end), the Redis database
number, and every port (free ones). A few settings make failures show within the test's
time (heartbeat timeout, retry delay: see TEST_SETTINGS). Every process is started and
stopped by scripts/cluster.sh; the fixture then checks by session id that nothing is left,
killing whatever is, even when a test failed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (ROOT / "deploy" / "cluster.env", ROOT / "deploy" / "sandboxes.env")
REDIS_URL = os.environ.get("SYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Only here, so a killed worker's task is noticed and retried within the test: Airflow's
# defaults (300 s heartbeat timeout, 60 s retry delay) are right for a deployment.
TEST_SETTINGS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "SYNC_TASK_RETRY_DELAY_SECONDS": "2",
    "SYNC_TASK_RETRIES": "2",
    # Fewer slots than the workers have (2 x 4), so the pool, not the workers, bounds
    # how many HubSpot tasks run at once.
    "SYNC_HUBSPOT_POOL_SLOTS": "2",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    # No hourly runs: unpausing a DAG would otherwise start its latest scheduled run first,
    # doubling the test's time. Manual and backfill runs still run.
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
}
OFFICERND_SCALE = 60


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines taken literally, as scripts/cluster.sh and docker-compose read them."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_reason(url: str = REDIS_URL) -> str | None:
    """None when Redis answers at url, else why not."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
        client.close()
        return None
    except Exception as exc:  # any client/connection failure means "not here"
        return f"Redis not reachable at {url}: {type(exc).__name__}: {str(exc)[:120]}"


def redis_db_client(db: int) -> Any:
    """A client of database ``db`` on REDIS_URL's server (from_url's own db argument would
    lose to the URL's path, so the path is replaced)."""
    import redis

    parts = urlsplit(REDIS_URL)
    return redis.Redis.from_url(urlunsplit(parts._replace(path=f"/{db}")))


def free_redis_db() -> int:
    """A Redis database number with no keys (the cluster's own broker queue)."""
    for db in range(15, 1, -1):
        client = redis_db_client(db)
        try:
            if client.dbsize() == 0:
                return db
        finally:
            client.close()
    raise RuntimeError("no empty Redis database between 2 and 15")


@dataclass
class Cluster:
    """A running cluster: its settings, an authenticated REST API client, its files."""

    env: dict[str, str]
    settings: dict[str, str]
    run_dir: Path
    home: Path
    api_url: str
    hubspot_url: str
    officernd_url: str
    password: str
    sessions: dict[str, int] = field(default_factory=dict)
    _token: str | None = None

    # ------------------------------------------------------------------ REST API v2
    def token(self) -> str:
        if self._token is None:
            r = requests.post(f"{self.api_url}/auth/token",
                              json={"username": "admin", "password": self.password}, timeout=30)
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        r = requests.request(method, f"{self.api_url}/api/v2{path}", timeout=60,
                             headers={"Authorization": f"Bearer {self.token()}"}, **kwargs)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json() if r.content else None

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self.api("POST", f"/dags/{dag_id}/dagRuns",
                       json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str = "~") -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                        params={"limit": 200})["task_instances"]

    def wait_runs_done(self, dag_ids: list[str], timeout: float,
                       run_ids: dict[str, str] | None = None) -> dict[str, list[dict]]:
        """Waits until every run of these DAGs (or just ``run_ids[dag]``) has finished;
        returns the runs per DAG. Fails with the states seen when the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            runs = {d: self.runs(d) for d in dag_ids}
            if run_ids:
                runs = {d: [r for r in rs if r["dag_run_id"] == run_ids[d]]
                        for d, rs in runs.items()}
            pending = {d: [(r["dag_run_id"], r["state"]) for r in rs
                           if r["state"] not in ("success", "failed")]
                       for d, rs in runs.items()}
            if not any(pending.values()) and all(runs.values()):
                return runs
            if time.monotonic() > deadline:
                raise AssertionError(f"runs not done after {timeout:.0f} s: {pending}\n"
                                     f"{self.log_tails()}")
            time.sleep(3)

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The airflow CLI with the cluster's settings (as an operator would run it)."""
        return subprocess.run([str(ROOT / ".venv" / "bin" / "airflow"), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=True)

    # ------------------------------------------------------------------ processes
    def session_pids(self, name: str) -> list[int]:
        """Live processes of one component's session (its pid is the session id)."""
        sid = self.sessions.get(name)
        if sid is None:
            return []
        out = subprocess.run(["pgrep", "-s", str(sid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill_session(self, name: str, sig: int = signal.SIGKILL) -> list[int]:
        """Sends sig to every process of a component's session; returns their pids."""
        pids = self.session_pids(name)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def log_tails(self, lines: int = 15) -> str:
        out = []
        for log in sorted(self.run_dir.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)


def cluster_settings(suffix: str, redis_db: int, ports: dict[str, int]) -> dict[str, str]:
    """The settings files' values with this test's databases, Redis db and ports."""
    from sqlalchemy.engine import make_url

    from tests.conftest import POSTGRES_URL

    pg = make_url(POSTGRES_URL)
    pg_where = f"{pg.username}@{pg.host}:{pg.port or 5432}"
    replace = {
        "postgres@127.0.0.1:5432": pg_where,
        "/airflow_cluster": f"/airflow_cluster_{suffix}",
        "/sync_warehouse_cluster": f"/sync_warehouse_cluster_{suffix}",
        "127.0.0.1:6379/1": f"127.0.0.1:6379/{redis_db}",
        "127.0.0.1:8080": f"127.0.0.1:{ports['api']}",
        "127.0.0.1:8091": f"127.0.0.1:{ports['hubspot']}",
        "127.0.0.1:8092": f"127.0.0.1:{ports['officernd']}",
    }
    settings: dict[str, str] = {}
    for path in SETTINGS:
        for key, value in read_env_file(path).items():
            for old, new in replace.items():
                value = value.replace(old, new)
            settings[key] = value
    settings.update({
        "AIRFLOW__API__PORT": str(ports["api"]),
        "HUBSPOT_PORT": str(ports["hubspot"]),
        "OFFICERND_PORT": str(ports["officernd"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["triggerer_logs"]),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker1_logs"]),
        **TEST_SETTINGS,
    })
    return settings


def _clean_environment() -> dict[str, str]:
    """This process's environment without the test session's Airflow and sync settings
    (tests/conftest.py sets AIRFLOW_HOME, unit-test mode, no retries...)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "SYNC_", "CLUSTER_"))}


def _drop_databases(settings: dict[str, str]) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from hubspot_sync.warehouse.connection import normalise_url

    for raw in (settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
                normalise_url(settings["AIRFLOW_CONN_SYNC_WAREHOUSE"])):
        url = make_url(raw)
        engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity "
                                 "where datname = :d and pid <> pg_backend_pid()"),
                         {"d": url.database})
            conn.execute(sa.text(f'drop database if exists "{url.database}"'))
        engine.dispose()


@pytest.fixture(scope="session")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The whole deployment, started once for the session; stopped by pid at the end."""
    reason = redis_reason()
    if reason:
        if "1" in (os.environ.get("REQUIRE_REDIS"), os.environ.get("REQUIRE_POSTGRES")):
            pytest.fail(f"REQUIRE_REDIS/REQUIRE_POSTGRES=1 (this machine kind serves Redis "
                        f"too) but {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("cluster")
    run_dir, home = base / "run", base / "home"
    home.mkdir()
    suffix = secrets.token_hex(4)
    redis_db = free_redis_db()
    names = ("api", "hubspot", "officernd", "triggerer_logs", "worker1_logs", "worker2_logs")
    ports = {name: free_port() for name in names}
    settings = cluster_settings(suffix, redis_db, ports)
    env_file = base / "cluster.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    password = secrets.token_urlsafe(12)
    (home / "simple_auth_manager_passwords.json.generated").write_text(
        json.dumps({"admin": password}))
    env = {**_clean_environment(), "CLUSTER_ENV_FILES": str(env_file),
           "CLUSTER_RUN": str(run_dir), "CLUSTER_AIRFLOW_HOME": str(home),
           "CLUSTER_WORKER_LOG_PORTS": f"{ports['worker1_logs']} {ports['worker2_logs']}",
           "OFFICERND_ARGS": f"--scale {OFFICERND_SCALE}"}
    script = str(ROOT / "scripts" / "cluster.sh")
    # What an operator's shell has after reading the same files (for the airflow CLI).
    cli_env = {**env, **settings, "AIRFLOW_HOME": str(home),
               "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
               "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins")}
    handle = Cluster(env=cli_env, settings=settings, run_dir=run_dir, home=home,
                     api_url=f"http://127.0.0.1:{ports['api']}",
                     hubspot_url=f"http://127.0.0.1:{ports['hubspot']}",
                     officernd_url=f"http://127.0.0.1:{ports['officernd']}",
                     password=password)
    started = time.monotonic()
    try:
        result = subprocess.run([script, "start"], env=env, capture_output=True, text=True,
                                timeout=300)
        for pid_file in run_dir.glob("*.pid"):
            handle.sessions[pid_file.stem] = int(pid_file.read_text())
        assert result.returncode == 0, (f"cluster.sh start failed:\n{result.stdout}\n"
                                        f"{result.stderr}\n{handle.log_tails()}")
        for line in (run_dir / "secrets.env").read_text().splitlines():
            key, _, value = line.partition("=")
            handle.env[key] = value
        handle.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(
            home / "simple_auth_manager_passwords.json.generated")
        print(f"\ncluster started in {time.monotonic() - started:.0f} s: {handle.sessions}")
        yield handle
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=120)
        left = {name: handle.session_pids(name) for name in handle.sessions}
        left = {name: pids for name, pids in left.items() if pids}
        for name in left:
            handle.kill_session(name)
        try:
            _drop_databases(settings)
        finally:
            client = redis_db_client(redis_db)
            assert client.connection_pool.connection_kwargs["db"] == redis_db
            client.flushdb()
            client.close()
        assert not left, f"processes left running after cluster.sh stop: {left}"
