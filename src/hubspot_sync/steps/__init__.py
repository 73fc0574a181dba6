"""The steps of one entity run, declared once.

``STEPS`` is the one list the DAG factory (``dags/sync_entities.py``), the benchmarks and
tests run: each step's name (the task id), the function that does it, which earlier
outputs it receives, which earlier steps it only waits for, and whether it calls HubSpot
(then it runs in the shared pool and retries on top of the client's own backoff).

This module is imported when the DAG file is parsed, so it stays light: a step's module
(pandas, SQLAlchemy, GX, HTTP) is imported only when the step runs. One module per step:
``context`` (EntityRun, RunWindow, the window rules), ``properties``, ``extract``,
``hubspot_side``, ``delta`` (rules in ``delta_frame``), ``validate``, ``load``,
``associate``, ``report``, and ``rejects`` (reject bookkeeping for all of them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.mapping import EntityMapping
    from hubspot_sync.steps.context import EntityRun

Outputs = dict[str, Any]


@dataclass(frozen=True)
class Step:
    name: str
    target: str  # "module:function" under hubspot_sync.steps, imported when the step runs
    doc: str
    needs: tuple[str, ...] = ()  # earlier outputs the function receives (by step name)
    after: tuple[str, ...] = ()  # earlier steps it only waits for
    calls_hubspot: bool = False
    network: bool = False  # talks to an API: retried as a task (the pure ones fail fast)
    emits_asset: bool = False  # its output's counts go out as the entity's Asset event
    # a mapping key that must be non-empty for the step to exist (e.g. "timeline")
    only_if: str | None = None

    def function(self) -> Callable[..., Outputs]:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(f"hubspot_sync.steps.{module}"), name)

    @property
    def upstream(self) -> tuple[str, ...]:
        return (*self.needs, *self.after)

    def applies_to(self, mapping: EntityMapping) -> bool:
        """The step exists for this mapping (a step declared ``only_if`` a key it lacks
        does not: no timeline task for an entity without a ``timeline:``)."""
        return self.only_if is None or bool(getattr(mapping, self.only_if, None))


STEPS: tuple[Step, ...] = (
    Step("ensure_properties", "tasks:ensure_properties",
         "Create the id property and missing custom properties; check value maps.",
         calls_hubspot=True, network=True),
    # After the schema check: a run that cannot write reads nothing.
    Step("extract_source", "tasks:extract_source",
         "The entity's records changed in the run's window, into the source snapshot.",
         after=("ensure_properties",), network=True),
    Step("extract_hubspot", "tasks:extract_hubspot",
         "HubSpot's current side of exactly those records (by id property, then match keys).",
         needs=("ensure_properties",), after=("extract_source",), calls_hubspot=True,
         network=True),
    # Records a person archived, deleted or merged in HubSpot: tombstoned, or merges followed.
    Step("check_hubspot_deletions", "tasks:check_hubspot_deletions",
         "Records archived, deleted or merged in HubSpot: tombstones (not re-created); merges "
         "followed.", needs=("ensure_properties", "extract_hubspot"), calls_hubspot=True,
         network=True),
    # Two-way sync (only for a mapping with a reverse property or reverse_create): what
    # people changed in HubSpot in the window, then both sides decided before either writes.
    Step("extract_hubspot_changes", "tasks:extract_hubspot_changes",
         "HubSpot records people changed in the window (search by last-modified time, keyset "
         "pages); OfficeRnD's side of those not extracted; deals waiting to be created.",
         needs=("ensure_properties", "extract_source"), after=("check_hubspot_deletions",),
         calls_hubspot=True, network=True, only_if="has_reverse"),
    Step("reconcile", "tasks:reconcile",
         "Per two-way property: which side's value wins against the last agreed value; "
         "conflicts recorded with both values and the rule.",
         needs=("ensure_properties", "extract_hubspot_changes"), only_if="has_reverse"),
    Step("compute_delta", "tasks:compute_delta",
         "Normalise both sides by property type; classify create / update / unchanged / ...",
         needs=("ensure_properties", "extract_hubspot"),
         after=("check_hubspot_deletions", "reconcile")),
    Step("validate", "tasks:validate",
         "Great Expectations on the rows to write; failures quarantined with reasons.",
         needs=("ensure_properties",), after=("compute_delta",)),
    # Before load: a run the delete guard stops has written nothing.
    Step("deletes", "tasks:deletes",
         "Records deleted in OfficeRnD or out of the filter: flag / archive per mapping, "
         "behind the delete guard.", after=("validate",), calls_hubspot=True, network=True),
    Step("load", "tasks:load",
         "Batched upserts (100 a call) of the validated rows; per-row outcomes; id map.",
         after=("validate", "deletes"), calls_hubspot=True, network=True),
    Step("associate", "tasks:associate",
         "Associations v4 for this run's records; targets not yet synced wait for the next.",
         after=("load",), calls_hubspot=True, network=True),
    Step("timeline", "tasks:timeline",
         "The mapping's timeline events as HubSpot notes on their records, each written once.",
         after=("associate",), calls_hubspot=True, network=True, only_if="timeline"),
    # After the forward writes: the reverse ones (PUT changed fields, reverse creations).
    Step("write_officernd", "tasks:write_officernd",
         "HubSpot edits the decisions send to OfficeRnD (validated, only changed fields) and "
         "OfficeRnD records created from deals in a mapped stage; refusals per record.",
         needs=("ensure_properties", "extract_hubspot_changes"),
         after=("reconcile", "associate", "timeline"), calls_hubspot=True, network=True,
         only_if="has_reverse"),
    Step("report", "tasks:report",
         "Counts to sync_runs, the task log and XCom; an Asset event for the entity.",
         needs=("ensure_properties", "extract_source", "extract_hubspot", "compute_delta",
                "validate", "load", "associate", "check_hubspot_deletions", "deletes",
                "reconcile", "write_officernd"),
         after=("timeline",), emits_asset=True),
)
STEP_NAMES = tuple(s.name for s in STEPS)


def call_step(step: Step, run: EntityRun, outputs: Mapping[str, Outputs | None]) -> Outputs:
    """Run one step with the earlier outputs it needs (timed, its HubSpot calls and 429s
    counted, as Airflow metrics: ``hubspot_sync.metrics``)."""
    from hubspot_sync.metrics import step_metrics

    with step_metrics(run, step.name):
        return step.function()(run, **{name: outputs.get(name) or {} for name in step.needs})


def run_steps(run: EntityRun) -> dict[str, Outputs]:
    """Every step in order, in this process (benchmarks, tests); each step's output."""
    outputs: dict[str, Outputs] = {}
    for step in STEPS:
        if step.applies_to(run.mapping):
            outputs[step.name] = call_step(step, run, outputs)
    return outputs


def asset_identity(mapping: EntityMapping) -> dict[str, str]:
    """The Asset a sync of ``mapping`` updates: one per entity (contracts and opportunities
    both write deals, and a downstream DAG schedules on the one it cares about)."""
    return {"name": mapping.dag_id, "uri": f"{mapping.asset_uri}/{mapping.entity}",
            "group": "hubspot"}


def airflow_task(mapping: EntityMapping, name: str, context: Mapping[str, Any],
                 inputs: Mapping[str, Outputs | None]) -> Outputs:
    """The body of the Airflow task ``name``: the step for the task context's run. A run
    that cannot succeed (StopRun) fails the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from hubspot_sync.steps import context as run_context

    step = STEPS[STEP_NAMES.index(name)]
    run = run_context.run_from_airflow(mapping, context)
    try:
        return call_step(step, run, inputs)
    except run_context.StopRun as exc:
        raise AirflowFailException(str(exc)) from exc


def failure_callback(mapping: EntityMapping) -> Callable[[Mapping[str, Any]], None]:
    """An ``on_failure_callback`` marking the run failed in sync_runs (any task, any step)."""

    def on_failure(context: Mapping[str, Any]) -> None:
        from hubspot_sync.steps.context import run_from_airflow
        from hubspot_sync.steps.report import mark_run_failed

        error = context.get("exception")
        error = getattr(error, "__cause__", None) or error  # the step's own exception
        task = context.get("task_instance") or context.get("ti")
        mark_run_failed(run_from_airflow(mapping, context), error,
                        getattr(task, "task_id", None))

    return on_failure

