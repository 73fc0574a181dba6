"""The one declared list of steps the DAG, the benchmarks and the tests run."""

from __future__ import annotations

import pytest

import hubspot_sync.steps as steps
from hubspot_sync.steps import STEPS, Step, call_step, run_steps
from hubspot_sync.steps.context import EntityRun

from .conftest import mapping


def test_every_step_depends_only_on_earlier_ones_and_resolves() -> None:
    seen: set[str] = set()
    for step in STEPS:
        assert set(step.upstream) <= seen, step.name
        assert callable(step.function()), step.name
        seen.add(step.name)
    assert [s.name for s in STEPS][-1] == "report" and STEPS[-1].emits_asset
    # report waits for the steps only some mappings have (timeline) without their output;
    # it reads the two-way counts from reconcile and write_officernd, not from the extract
    assert set(STEPS[-1].needs) == seen - {"report", "timeline", "extract_hubspot_changes"}
    assert set(STEPS[-1].after) == {"timeline"}


def test_steps_that_call_hubspot_are_network_steps() -> None:
    assert {s.name for s in STEPS if s.calls_hubspot} == {
        "ensure_properties", "extract_hubspot", "load", "associate",
        "check_hubspot_deletions", "deletes", "timeline", "extract_hubspot_changes",
        "write_officernd"}
    assert all(s.network for s in STEPS if s.calls_hubspot)
    assert not any(s.network for s in STEPS if s.name in ("compute_delta", "validate"))


def test_run_steps_feeds_each_step_the_outputs_it_needs(monkeypatch) -> None:
    received: dict[str, dict] = {}

    def fake(name: str):
        def function(run, **inputs):
            received[name] = inputs
            return {"from": name}
        return function

    monkeypatch.setattr(Step, "function", lambda self: fake(self.name))
    run = EntityRun(mapping=mapping(), run_id="r")
    outputs = run_steps(run)
    assert list(outputs) == [s.name for s in STEPS if s.applies_to(run.mapping)]
    assert "timeline" not in outputs, "a mapping without timeline: has no timeline step"
    assert received["compute_delta"] == {"ensure_properties": {"from": "ensure_properties"},
                                         "extract_hubspot": {"from": "extract_hubspot"}}
    assert received["load"] == {}
    assert call_step(STEPS[0], run, {}) == {"from": "ensure_properties"}


def test_a_step_that_cannot_succeed_fails_the_task_without_retry(monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from hubspot_sync.steps.context import ConfigurationError

    def broken(run, **inputs):
        raise ConfigurationError("mapping and portal disagree")

    monkeypatch.setattr(Step, "function", lambda self: broken)
    context = {"run_id": "r", "params": {}}
    with pytest.raises(AirflowFailException, match="disagree"):
        steps.airflow_task(mapping(), "ensure_properties", context, {})
