"""Run metrics end to end: Airflow's Stats facade switched to StatsD (as a deployment's
``[metrics] statsd_on`` does), a real dag.test() run, and a local UDP listener that must
receive every documented metric with the values the run's sync_runs row holds."""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import hold_back_company

PREFIX = "airflow.hubspot_sync"


class StatsdListener:
    """Collects StatsD lines (``name:value|type``) sent to a local UDP port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.lines += [line for line in data.decode().splitlines() if line]

    def close(self) -> None:
        time.sleep(0.3)  # the last datagrams
        self._stop.set()
        self.thread.join()
        self.sock.close()

    def metrics(self, prefix: str) -> dict[str, list[tuple[float, str]]]:
        out: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for line in self.lines:
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if name.startswith(prefix):
                out[name[len(prefix) + 1:]].append((float(value), kind.split("|")[0]))
        return out


@pytest.fixture
def statsd(monkeypatch) -> Iterator[StatsdListener]:
    """Airflow's task-side Stats on StatsD at a local listener; restored afterwards."""
    from airflow.sdk.configuration import conf
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics import stats_utils

    listener = StatsdListener()
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(listener.port))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
    # The task runner builds this once per task process from [metrics]; dag.test() runs
    # the tasks in this process, whose Stats were set up before the settings above.
    stats.initialize(factory=stats_utils.get_stats_factory(),
                     export_legacy_names=conf.getboolean("metrics", "legacy_names_on"))
    try:
        yield listener
    finally:
        listener.close()
        monkeypatch.undo()
        stats.initialize(factory=stats_utils.get_stats_factory(),
                         export_legacy_names=conf.getboolean("metrics", "legacy_names_on"))


def test_a_run_emits_its_counts_calls_429s_and_step_durations(sync_env, statsd,
                                                              monkeypatch) -> None:
    """One companies run with a rate-limited HubSpot (1 call in 10 answered 429, a short
    window): every count of its sync_runs row arrives under hubspot_sync.companies.*, the
    API calls summed over the steps equal what the sandbox served (and cover the row's),
    the 429s equal what the sandbox sent,
    and every step reports its duration."""
    import sandbox.hubspot.limits as limits

    monkeypatch.setattr(limits, "BURST_WINDOW_S", 0.2)  # 429s ask for a 0.2 s wait
    sync_env.hubspot.limiter.burst_limit = 100_000  # rate-limit headers, never reached
    sync_env.hubspot.configure_faults(error_rate=0.1, statuses=[429], seed=7)

    run = sync_env.run("companies")

    assert run["state"] == "success" and run["status"] == "success"
    got = statsd.metrics(f"{PREFIX}.companies")

    def total(metric: str) -> float:
        values = got.get(metric)
        assert values, f"{PREFIX}.companies.{metric} not received; got {sorted(got)}"
        assert all(kind == "c" for _, kind in values)
        return sum(v for v, _ in values)

    for key in ("extracted", "created", "updated", "unchanged", "skipped", "rejected",
                "failed"):
        assert total(key) == run[key], key
    assert total("written") == run["created"] + run["updated"] > 0
    # Every HubSpot request the sandbox saw (retries included), step by step; sync_runs
    # holds the calls of the steps report reads, so never more.
    assert total("api_calls") == run["calls"] >= run["api_calls"] > 0
    served_429 = sum(r["count"] for r in sync_env.hubspot.stats()["requests"]
                     if r["status"] == 429)
    assert served_429 > 0 and total("rate_limited") == served_429
    assert total("runs.success") == 1 and "runs.failed" not in got

    tasks = {ti.task_id for ti in run["dag_run"].get_task_instances()}
    for task_id in tasks:
        timings = got.get(f"step.{task_id}.duration")
        assert timings and all(kind == "ms" and v >= 0 for v, kind in timings), task_id
    (run_ms, kind), = got["run.duration"]
    assert kind == "ms" and run_ms >= max(v for k, vs in got.items()
                                          if k.startswith("step.") for v, _ in vs)


def test_the_hourly_alerts_gauge_lag_and_open_rejects(sync_env, statsd, alerts_dag) -> None:
    """sync_alerts gauges each entity's hours since its last successful window end and its
    open rejects, from the warehouse."""
    hold_back_company(sync_env.officernd, sync_env.officernd.state.records("companies")[0]["_id"])
    run = sync_env.run("companies")
    assert run["state"] == "success" and run["rejected"] >= 1

    alerts = alerts_dag.test(run_conf={"behind_hours": None})

    assert str(getattr(alerts.state, "value", alerts.state)) == "success"
    got = statsd.metrics(f"{PREFIX}.companies")
    (lag, kind), = got["behind_hours"]
    assert kind == "g" and 0 <= lag < 0.1  # the run ended moments ago
    open_rejects = len(sync_env.warehouse.open_rejects("companies"))
    assert got["open_rejects"] == [(float(open_rejects), "g")] and open_rejects >= 1


def test_a_failed_run_counts_as_failed(sync_env, statsd) -> None:
    sync_env.hubspot.configure_faults(error_rate=1.0, statuses=[403])
    run = sync_env.run("companies")
    assert run["state"] == "failed"
    got = statsd.metrics(f"{PREFIX}.companies")
    assert got["runs.failed"] == [(1.0, "c")] and "runs.success" not in got
    # The failing step still reports its time and the calls it made.
    assert got["step.ensure_properties.duration"]
    assert sum(v for v, _ in got["api_calls"]) >= 1
