"""Step ``load``: batched writes of the validated delta (``batch/upsert`` by the id
property, ``batch/update`` for records adopted by a match key, ``batch/archive`` for a
child removed from its parent); one outcome per row; the id map follows."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from hubspot_sync.mapping import PARENT_LINK, EntityMapping
from hubspot_sync.progress import Progress
from hubspot_sync.records import LOAD_OUTCOME_COLUMNS, LoadOutcome, WriteAction
from hubspot_sync.steps import lookup_refresh
from hubspot_sync.steps import rejects as reject_book
from hubspot_sync.steps.context import EntityRun, StopRun
from hubspot_sync.steps.hubspot_deletes import MATCHED_BY_HUBSPOT_ID
from hubspot_sync.steps.rejects import UNEXPECTED_RESULT

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)


class SupersededRun(StopRun):
    """A newer run of the entity succeeded after this one read HubSpot: this run's delta is
    stale and writing it could put older values over newer ones."""


def newer_successful_run(this: Mapping[str, Any] | None,
                         runs: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest successful, non-dry run of the entity that started after ``this`` run
    (rows of ``sync_runs``); None when there is none or ``this`` is not logged."""
    if not this or this.get("started_at") is None:
        return None
    newer = [r for r in runs if r.get("status") == "success" and not r.get("dry_run")
             and r.get("run_id") != this.get("run_id") and r.get("started_at") is not None
             and r["started_at"] > this["started_at"]]
    return max(newer, key=lambda r: r["started_at"], default=None)


def refuse_if_superseded(run: EntityRun) -> None:
    """Refuse to load a run older than the newest successful run of its entity (a task
    cleared and re-run later): its delta was computed against HubSpot values that a newer
    run may have changed since."""
    this = run.warehouse.get_run(run.entity, run.run_id)
    later = (run.warehouse.successful_runs_started_after(run.entity, this["started_at"])
             .to_dict("records") if this and this.get("started_at") is not None else [])
    newer = newer_successful_run(this, later)
    if newer is not None:
        raise SupersededRun(
            f"{run.entity}: run {run.run_id} (started {this and this['started_at']}) is older "
            f"than run {newer['run_id']} (started {newer['started_at']}), which succeeded; "
            "loading this run's delta could write older values over newer ones, so nothing "
            "was written. Start a new run instead (it reads both systems afresh).")


def write_payload(delta_row: Mapping[str, Any], mapping: EntityMapping) -> dict[str, str]:
    """The properties one write sends: the changed fields, "" to clear a value the source
    no longer has, and the id property."""
    after = delta_row["after"]
    payload: dict[str, str] = {}
    for name in delta_row["changed_fields"]:
        if name == mapping.hubspot.id_property:
            continue
        value = after.get(name)
        payload[name] = "" if value is None else str(value)
    payload[mapping.hubspot.id_property] = mapping.source_id_value(delta_row["source_id"])
    return payload


def written(source_id: str, hubspot_id: str, action: str) -> LoadOutcome:
    return {"source_id": source_id, "hubspot_id": hubspot_id,
            "action": cast(WriteAction, action), "status": "written", "category": None,
            "message": None}


def upsert_outcomes(results: Iterable[Mapping[str, Any]], errors: Iterable[Any],
                    actions: Mapping[str, str], id_property: str,
                    prefix: str) -> list[LoadOutcome]:
    """Outcomes of an upsert by the id property: HubSpot's ``new`` flag tells a create from
    an update (the delta's action when absent). A result whose id property lacks ``prefix``
    (or names another record than the input it answers) is not a write of ours: the input
    it answers fails as UNEXPECTED_RESULT, never counted as written nor silently dropped."""
    outcomes: list[LoadOutcome] = []
    strangers: list[str] = []  # unexpected results no input can be named for
    for record in results:
        value = str((record.get("properties") or {}).get(id_property) or "")
        sid = value[len(prefix):] if value.startswith(prefix) else None
        trace = record.get("objectWriteTraceId")
        if sid is not None and (trace in (None, "") or str(trace) == sid
                                or str(trace) not in actions):
            action = "create" if record.get("new", actions.get(sid) == "create") else "update"
            outcomes.append(written(sid, str(record["id"]), action))
            continue
        what = (f"HubSpot answered with record {record.get('id')} whose {id_property} is "
                f"{value!r}, not this input's (expected prefix {prefix!r})")
        if trace not in (None, "") and str(trace) in actions:
            outcomes.append(unexpected(str(trace), actions, what))
        else:
            strangers.append(what)
    outcomes += failures(errors, actions)
    accounted = {o["source_id"] for o in outcomes}
    missing = [sid for sid in actions if sid not in accounted]
    if strangers and not missing:
        log.warning("upsert results that answer no input: %s", "; ".join(strangers))
    reason = "; ".join(strangers) or "HubSpot's answer has no result for this input"
    return outcomes + [unexpected(sid, actions, reason) for sid in missing]


def unexpected(source_id: str, actions: Mapping[str, str], what: str) -> LoadOutcome:
    """A failed outcome for an input whose result cannot be trusted (the write may have been
    applied elsewhere; the next run reads HubSpot back by the id property)."""
    return {"source_id": source_id, "hubspot_id": None,
            "action": cast(WriteAction, actions.get(source_id, "update")), "status": "failed",
            "category": UNEXPECTED_RESULT,
            "message": f"{what}; not recorded as written nor mapped"}


def update_outcomes(results: Iterable[Mapping[str, Any]], errors: Iterable[Any],
                    source_of: Mapping[str, str]) -> list[LoadOutcome]:
    """Outcomes of updates by HubSpot id (``source_of``: hubspot id -> source id)."""
    outcomes = [written(source_of[str(r["id"])], str(r["id"]), "update") for r in results
                if str(r["id"]) in source_of]
    return outcomes + failures(errors, dict.fromkeys(source_of.values(), "update"))


def failures(errors: Iterable[Any], actions: Mapping[str, str]) -> list[LoadOutcome]:
    """One failed outcome per error of a batch (its trace id is the source id)."""
    out: list[LoadOutcome] = []
    for error in errors:
        sid = error.trace_id or error.input_id
        out.append({"source_id": sid, "hubspot_id": None,
                    "action": cast(WriteAction, actions.get(sid, "update")), "status": "failed",
                    "category": error.category, "message": error.message})
    return out


def load_counts(outcomes: Iterable[LoadOutcome]) -> dict[str, int]:
    """created / updated / failed of a run's outcomes (archives are counted apart)."""
    counts = {"created": 0, "updated": 0, "failed": 0}
    for o in outcomes:
        if o["status"] == "failed":
            counts["failed"] += 1
        elif o["action"] in ("create", "update"):
            counts[o["action"] + "d"] += 1
    return counts


def orphaned_children(delta_ids: Iterable[str], parent_of: Mapping[str, str | None],
                      synced_parents: Iterable[str]) -> set[str]:
    """Children whose parent is not in HubSpot: they wait for it."""
    synced = set(synced_parents)
    return {sid for sid in delta_ids if parent_of.get(sid) not in synced}


def load(run: EntityRun) -> dict[str, Any]:
    """Write what validation let through; record outcomes, the id map and refused writes."""
    import pandas as pd

    from hubspot_sync.hubspot_client.reads import BATCH_SIZE

    mapping, hook, warehouse = run.mapping, run.hook, run.warehouse
    if run.dry_run:
        return {"dry_run": True, "created": 0, "updated": 0, "failed": 0,
                "api_calls": run.api_calls()}
    refuse_if_superseded(run)
    delta = warehouse.read_delta(run.entity, run.run_id, actions=["create", "update"])
    rejected = reject_book.rejected_ids(run)
    held: set[str] = set()
    if run.parent is not None and len(delta):
        held = _hold_back_orphaned_children(run, delta[~delta["source_id"].isin(list(rejected))])
        rejected |= held
    delta = delta[~delta["source_id"].isin(list(rejected))] if len(delta) else delta
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    by_id_property = adopted_rows = delta
    if len(delta):
        # Adopted by a match key, or a merge's survivor (written by HubSpot id).
        adopted = delta["matched_by"].isin([*mapping.hubspot.match_on, MATCHED_BY_HUBSPOT_ID])
        by_id_property, adopted_rows = delta[~adopted], delta[adopted]
    if mapping.has_reverse:  # write-ahead: what is sent stays pending until confirmed
        from hubspot_sync.two_way.delta import record_pending

        record_pending(run, delta)
    outcomes: list[LoadOutcome] = []
    progress = Progress.batched(f"{run.entity} load", (len(by_id_property), len(adopted_rows)),
                                BATCH_SIZE)

    if len(by_id_property):
        inputs = [{"id": mapping.source_id_value(r["source_id"]), "idProperty": id_property,
                   "properties": write_payload(r, mapping), "objectWriteTraceId": r["source_id"]}
                  for r in by_id_property.to_dict("records")]
        result = hook.batch_upsert(obj, inputs, id_property=id_property, progress=progress)
        outcomes += upsert_outcomes(
            result.results, result.errors,
            dict(zip(by_id_property["source_id"], by_id_property["action"], strict=True)),
            id_property, mapping.hubspot.id_prefix)

    if len(adopted_rows):
        inputs = [{"id": str(r["hubspot_id"]), "properties": write_payload(r, mapping),
                   "objectWriteTraceId": r["source_id"]} for r in adopted_rows.to_dict("records")]
        result = hook.batch_update(obj, inputs, progress=progress)
        outcomes += update_outcomes(result.results, result.errors, dict(zip(
            adopted_rows["hubspot_id"].astype(str), adopted_rows["source_id"], strict=True)))
    if progress.total_items:
        progress.done()

    archived = 0
    if run.parent is not None:
        # A child whose entry left its parent's list (a plan removed from a contract).
        removed = warehouse.read_delta(run.entity, run.run_id, actions=["orphan"])
        if len(removed):
            archived = hook.batch_archive(obj, [str(h) for h in removed["hubspot_id"]])
            outcomes += [written(sid, str(hid), "archive") for sid, hid in
                         zip(removed["source_id"], removed["hubspot_id"], strict=True)]
            # Their associations went with them: the ledger forgets them.
            warehouse.forget_records_associations(run.entity, removed["source_id"])

    warehouse.write_load_outcomes(run.entity, run.run_id,
                                  pd.DataFrame(outcomes, columns=LOAD_OUTCOME_COLUMNS))
    pairs = [(o["source_id"], o["hubspot_id"]) for o in outcomes
             if o["status"] == "written" and o["action"] != "archive"]
    if pairs:
        warehouse.upsert_id_map(run.entity, obj, run.run_id, pairs)
        reject_book.resolve_written(run, [sid for sid, _ in pairs])
        updated = {o["source_id"] for o in outcomes
                   if o["status"] == "written" and o["action"] == "update"}
        rows = delta[delta["source_id"].isin(list(updated))] if len(delta) else delta
        reject_book.release_keys(run, reject_book.released_keys(
            mapping.hubspot.match_on,
            ((r["before"] or {}, r["after"] or {}) for r in rows.to_dict("records"))))
    reject_book.record_held(run, reject_book.refused_rejects(
        o for o in outcomes if o["status"] == "failed"))
    _confirm_reread(run)
    lookup_refresh.remember(run, rejected | {o["source_id"] for o in outcomes
                                             if o["status"] == "failed"})
    if mapping.has_reverse:  # two-way: what was written (or found agreed) is the baseline
        from hubspot_sync.two_way.delta import record_written_baseline

        record_written_baseline(run, delta, outcomes)
    counts = load_counts(outcomes)
    return {"created": counts["created"], "updated": counts["updated"],
            "archived": archived, "held_back": len(held), "failed": counts["failed"],
            "api_calls": run.api_calls()}


def _confirm_reread(run: EntityRun) -> None:
    """A record read again for an unknown write outcome (or a released key) that HubSpot
    already holds as the source has it needs no write: its open rejects are resolved."""
    reread = reject_book.to_reread(run)
    if not reread:
        return
    same = run.warehouse.read_delta(run.entity, run.run_id, actions=["unchanged"])
    confirmed = set(same["source_id"]) & reread if len(same) else set()
    reject_book.resolve_written(run, sorted(confirmed))


def _hold_back_orphaned_children(run: EntityRun, delta: pd.DataFrame) -> set[str]:
    """Children whose parent is not in HubSpot (it was rejected or refused) wait for it; they
    are recorded with the reason rather than written without a parent."""
    assert run.parent is not None
    source = run.warehouse.read_source_snapshot(run.entity, run.run_id)
    parent_of = {sid: (links or {}).get(PARENT_LINK)
                 for sid, links in zip(source["source_id"], source["links"], strict=True)}
    synced = run.warehouse.id_map(run.parent.entity, set(parent_of.values()) - {None})
    held = orphaned_children(delta["source_id"], parent_of, synced)
    reject_book.record_held(run, reject_book.parent_not_synced_rejects(
        run.parent.entity, held, parent_of))
    return held
