"""`make stop` stops an Airflow started by `make run`: standalone and everything it started
(scheduler, api-server, dag-processor, triggerer, LocalExecutor workers), and the
sandboxes. Run in isolation: its own AIRFLOW_HOME, pid folder and free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with(marker: str) -> list[int]:
    """pids of the processes whose environment holds marker (e.g. AIRFLOW_HOME=<tmp>)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(int(proc.name))
    return found


def test_make_stop_stops_everything_make_run_started(tmp_path: Path) -> None:
    home, run_dir = tmp_path / "home", tmp_path / "run"
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SYNC_"))}
    env.update({
        "AIRFLOW_HOME": str(home), "RUN_DIR": str(run_dir),
        "HUBSPOT_PORT": str(free_port()), "OFFICERND_PORT": str(free_port()),
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    })
    marker = f"AIRFLOW_HOME={home}"
    started = time.monotonic()
    log = (tmp_path / "make-run.log").open("w")
    # Its own session, so this test can clean up whatever `make stop` might miss.
    make_run = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{api_port}/api/v2/monitor/health",
                                timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert make_run.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the api-server never answered"
            time.sleep(1)
        up = time.monotonic() - started
        running = processes_with(marker)
        assert len(running) >= 5, running  # standalone and the components it started
        sandboxes = [int((run_dir / f"{n}.pid").read_text()) for n in ("hubspot", "officernd")]

        subprocess.run(["make", "--no-print-directory", "stop"], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True, timeout=120)
        stopped = time.monotonic() - started - up
        make_run.wait(timeout=30)
        left = processes_with(marker)
        assert not left, f"left running after make stop: {left}"
        for pid in sandboxes:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert not (run_dir / "standalone.pid").exists()
        print(f"make run answered after {up:.0f} s with {len(running)} processes; "
              f"make stop took {stopped:.0f} s and left none")
    finally:
        for pid in processes_with(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if make_run.poll() is None:
            os.killpg(make_run.pid, signal.SIGKILL)
        log.close()
