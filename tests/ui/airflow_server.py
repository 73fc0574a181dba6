"""A real ``airflow api-server`` for browser tests: a subprocess on a free port, with its
own AIRFLOW_HOME, SimpleAuthManager with one known user, this repository's plugins folder,
and the metadata database of the test session (so the DAG runs the tests made with
dag.test() are the runs the UI shows). Stopped by its pid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


@dataclass
class AirflowServer:
    url: str
    username: str
    password: str
    log: Path
    process: subprocess.Popen

    def wait_ready(self, timeout: float = 150) -> None:
        """Until the API answers (seconds of imports on a busy machine); fails with the
        server's log when it dies or never answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"api-server exited {self.process.returncode}:\n"
                                   f"{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"api-server not ready after {timeout} s:\n"
                           f"{self.log.read_text()[-3000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def airflow_api_server(home: Path, metadata_db_url: str, warehouse_url: str, *,
                       username: str = "ann", role: str = "viewer",
                       password: str = "health-view-test-password") -> Iterator[AirflowServer]:
    """Starts the server (not waiting for it: call wait_ready()), stops it on exit."""
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({username: password}))
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_")) and k != "AIRFLOW_HOME"}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url,
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{username}:{role}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW_CONN_SYNC_WAREHOUSE": json.dumps({"conn_type": "generic",
                                                   "extra": {"url": warehouse_url}}),
    })
    log = home / "api-server.log"
    airflow = str(Path(sys.executable).parent / "airflow")
    with open(log, "w") as out:
        process = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--apps", "core"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = AirflowServer(f"http://127.0.0.1:{port}", username, password, log, process)
    try:
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: uvicorn and its worker
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
