"""Step ``write_officernd``: the reverse direction's writes, after the forward load.

1. Updates: the run's decisions that send a HubSpot value to OfficeRnD, per record one
   ``PUT`` with only those fields (a nested object merged with the record's current one).
2. Reverse creation: each HubSpot record ``reverse_create`` accepted (a deal without the id
   property in a stage the stage map knows) becomes one OfficeRnD record, linked to the
   company and member the deal is associated with when those are synced. The created
   record carries ``properties.hubspot_deal_id`` (``hubspot_<object>_id``), looked up before
   every create, so a create whose answer was lost is found, not repeated. Then the new
   id goes to the HubSpot record's id property (batch update, 100 a call) and the id map.

Everything is validated before it is sent: a required value left blank, a value the
inverse conversion cannot turn back (a stage the stage map does not know, a number that is
not one, a looked-up record that does not exist) is a reject with its reason in the rejects
table, as the forward direction's are. OfficeRnD's refusal of one record (400 with its
reason, 404) is that record's reject; the run goes on. Before the first update is sent the
values of all updates are recorded as pending (write-ahead, one bulk write); after each write
the baseline of the properties written is the value written (pending cleared), so the next
run does not read it as an edit; a refusal clears the pending values, and an update whose
outcome is unknown (the answer lost, the worker killed) leaves them pending, so the next run
still recognises the value if OfficeRnD applied it.
A dry run sends nothing and lists the plan.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from hubspot_sync.records import Reject
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.steps.rejects import REVERSE_RULES
from hubspot_sync.steps.reverse_extract import hubspot_types, reverse_names

log = logging.getLogger(__name__)

# Reject rules of the reverse direction (steps/rejects.py: REVERSE_RULES).
RULE_REQUIRED, RULE_CONVERSION, RULE_REFUSED, RULE_LINK = REVERSE_RULES
PLAN_LISTED = 50


def created_key(mapping_object: str) -> str:
    """The custom property a reverse-created OfficeRnD record carries its HubSpot id in."""
    singular = {"deals": "deal", "contacts": "contact", "companies": "company"}
    return f"hubspot_{singular.get(mapping_object, mapping_object)}_id"


def creation_source_id(hubspot_id: str) -> str:
    """The rejects table's key of a HubSpot record not yet in OfficeRnD."""
    return f"hubspot:{hubspot_id}"


def _reject(sid: str, rule: str, prop: str | None, value: Any, reason: str) -> Reject:
    return {"source_id": sid, "rule": rule, "property": prop,
            "value": None if value is None else str(value), "reason": reason,
            "source": "officernd"}


class Payloads:
    """Builds and validates OfficeRnD bodies from HubSpot values (no I/O but lookups)."""

    def __init__(self, run: EntityRun, definitions: Mapping[str, dict]) -> None:
        self.run = run
        self.mapping = run.mapping
        self.types = hubspot_types(definitions)
        self._lookups: dict[str, Any] | None = None

    def lookups(self) -> dict[str, Any]:
        """Each lookup's resource in full (read once, only when a payload needs one)."""
        if self._lookups is None:
            self._lookups = {name: list(self.run.source.extract(spec.resource, None, None,
                                                                None))
                             for name, spec in self.mapping.lookups.items()}
        return self._lookups

    def build(self, sid: str, changes: Mapping[str, str | None], current: Mapping[str, Any]
              ) -> tuple[dict[str, Any] | None, list[Reject]]:
        """The body, or None with the rejects that explain why it is not sent."""
        from hubspot_sync.two_way.convert import ConversionError, to_officernd_payload

        by_name = {p.to: p for p in self.mapping.properties}
        rejects = [_reject(sid, RULE_REQUIRED, name, value,
                           f"{name} is required, and HubSpot's value is blank: not sent to "
                           "OfficeRnD")
                   for name, value in changes.items()
                   if value in (None, "") and by_name[name].required]
        if rejects:
            return None, rejects
        needs_lookup = any((by_name[n].from_ or "").split(".")[0] in self.mapping.lookups
                           for n in changes)
        try:
            body = to_officernd_payload(self.mapping, changes, current,
                                        self.lookups() if needs_lookup else {}, self.types)
        except ConversionError as exc:
            name = getattr(exc, "property", None)
            value = changes.get(name) if isinstance(name, str) else None
            return None, [_reject(sid, RULE_CONVERSION, name, value,
                                  f"HubSpot's value cannot be written to OfficeRnD: {exc}")]
        return body, []


def write_officernd(run: EntityRun, definitions: Mapping[str, dict],
                    changes: Mapping[str, Any]) -> dict[str, Any]:
    """Send the run's reverse writes; see the module docstring."""
    from hubspot_sync.steps import rejects as reject_book

    payloads = Payloads(run, definitions)
    writer = None if run.dry_run else _writer(run)
    resource = run.mapping.source.resource or ""
    unit: dict[str, Any] = {"officernd_updated": 0, "officernd_created": 0,
                            "officernd_rejected": 0, "waiting": int(changes.get("waiting", 0)),
                            "waiting_list": list(changes.get("waiting_list") or [])}
    rejects: list[Reject] = []
    written: list[str] = []
    baseline: list[tuple[str, str, str | None]] = []
    plan: list[dict[str, Any]] = []

    updates = _updates(run)
    raw = _snapshot_raw(run, updates)
    sends: list[tuple[str, dict[str, str | None], dict[str, Any]]] = []
    for sid, values in updates.items():
        side = (changes.get("officernd") or {}).get(sid)
        current = (side or {}).get("current") or raw.get(sid) or {}
        body, problems = payloads.build(sid, values, current)
        if body is None:
            rejects += problems
            continue
        if writer is None:
            plan.append({"action": "update", "source_id": sid, "body": body})
            continue
        sends.append((sid, dict(values), body))
    if sends:  # write-ahead: the values stay pending until OfficeRnD confirms them
        run.warehouse.write_pending(run.entity, run.run_id, [
            (sid, name, value) for sid, values, _ in sends for name, value in values.items()])
    for sid, values, body in sends:
        assert writer is not None  # sends are collected only with a writer
        result = writer.update(resource, sid, body)
        if not result.ok:  # refused (4xx): definitely not applied
            rejects.append(_reject(sid, RULE_REFUSED, None, None, result.reason))
            run.warehouse.clear_pending(run.entity, [(sid, name) for name in values])
            continue
        unit["officernd_updated"] += 1
        written.append(sid)
        baseline += [(sid, name, value) for name, value in values.items()]

    created = _create(run, payloads, writer, list(changes.get("creates") or []), rejects,
                      plan, baseline)
    unit["officernd_created"] = created
    if writer is not None:
        if baseline:
            run.warehouse.write_baseline(run.entity, run.run_id, baseline)
        reject_book.record_held(run, rejects)
        _resolve(run, written)
        unit["officernd_calls"] = {f"{m} {r}": n for (m, r), n in writer.http.calls.items()}
    unit["officernd_rejected"] = len({r["source_id"] for r in rejects})
    unit["reject_list"] = [f"{r['source_id']}: {r['reason']}" for r in rejects[:PLAN_LISTED]]
    if run.dry_run:
        unit["reverse_plan"] = plan[:PLAN_LISTED]
        unit["planned_officernd_updates"] = sum(p["action"] == "update" for p in plan)
        unit["planned_officernd_creates"] = sum(p["action"] == "create" for p in plan)
    return {"units": {run.entity: unit}, "api_calls": run.api_calls()}


def _writer(run: EntityRun) -> Any:
    from hubspot_sync.sources.officernd.writer import OfficeRnDWriter

    return OfficeRnDWriter(run.source, [run.mapping.source.resource or ""])  # type: ignore[arg-type]


def _updates(run: EntityRun) -> dict[str, dict[str, str | None]]:
    """source id -> property -> the HubSpot value the run's decisions send to OfficeRnD."""
    frame = run.warehouse.read_decisions(run.entity, run.run_id)
    out: dict[str, dict[str, str | None]] = {}
    if not len(frame):
        return out
    chosen = frame[frame["to_officernd"].astype(bool)]
    for sid, prop, value in zip(chosen["source_id"], chosen["property"], chosen["value"],
                                strict=True):
        out.setdefault(str(sid), {})[str(prop)] = None if value is None else str(value)
    return out


def _snapshot_raw(run: EntityRun, ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    """The snapshot's OfficeRnD records of ``ids`` (the current fields a PUT merges into)."""
    wanted = set(ids)
    if not wanted:
        return {}
    source = run.warehouse.read_source_snapshot(run.entity, run.run_id)
    if not len(source):
        return {}
    return {str(sid): raw for sid, raw in zip(source["source_id"], source["raw"], strict=True)
            if str(sid) in wanted and isinstance(raw, Mapping)}


def _create(run: EntityRun, payloads: Payloads, writer: Any, candidates: list[dict],
            rejects: list[Reject], plan: list[dict[str, Any]],
            baseline: list[tuple[str, str, str | None]]) -> int:
    """Reverse creation of the accepted HubSpot records; returns how many were created."""
    spec = run.mapping.reverse_create
    if spec is None or not candidates:
        return 0
    mapping, hook = run.mapping, run.hook
    obj, resource = mapping.hubspot.object, mapping.source.resource or ""
    key = created_key(obj)
    links = _association_links(run, [c["hubspot_id"] for c in candidates])
    names = set(reverse_names(mapping))
    made: list[tuple[str, str, dict[str, str | None]]] = []  # (hubspot id, new id, values)
    for candidate in candidates:
        hid = candidate["hubspot_id"]
        sid = creation_source_id(hid)
        values = {n: v for n, v in candidate["properties"].items()
                  if n in names or _creatable(mapping, n)}
        body, problems = payloads.build(sid, values, {})
        if body is None:
            rejects += problems
            continue
        body = {**body, **spec.as_, **links.get(hid, {}),
                "properties": {**(body.get("properties") or {}), key: hid}}
        if writer is None:
            plan.append({"action": "create", "hubspot_id": hid, "body": body})
            continue
        result = writer.create(resource, body, dedupe=(key, hid))
        if not result.ok or not (result.record or {}).get("_id"):
            rejects.append(_reject(sid, RULE_REFUSED, None, None, result.reason
                                   or "OfficeRnD's answer has no _id"))
            continue
        made.append((hid, str(result.record["_id"]),
                     {n: v for n, v in candidate["properties"].items() if n in names}))
    if not made:
        return 0
    outcome = hook.batch_update(obj, [{"id": hid, "properties": {
        mapping.hubspot.id_property: mapping.source_id_value(new)}} for hid, new, _ in made])
    failed = {str(e.input_id) for e in outcome.errors}
    linked = [(hid, new, values) for hid, new, values in made if hid not in failed]
    for hid, new, _ in made:
        if hid in failed:
            rejects.append(_reject(creation_source_id(hid), RULE_LINK, mapping.hubspot.id_property,
                                   new, f"OfficeRnD {resource} {new} was created for HubSpot "
                                   f"{obj} {hid}, but writing its id back to HubSpot failed; "
                                   "the next run finds it by properties." + key))
    run.warehouse.upsert_id_map(run.entity, obj, run.run_id,
                                [(new, hid) for hid, new, _ in linked])
    baseline += [(new, name, value) for _, new, values in linked
                 for name, value in values.items()]
    return len(made)


def _creatable(mapping: Any, name: str) -> bool:
    """A forward-only property a created record takes too (its name, its dates): mapped
    straight from one OfficeRnD field of the record, without a lookup or a constant."""
    prop = next((p for p in mapping.properties if p.to == name), None)
    if prop is None or prop.from_ is None or prop.value is not None or prop.id_of:
        return False
    head = prop.from_.split(".")[0]
    from hubspot_sync.two_way.spec import INVERTIBLE_TRANSFORMS

    steps = [s if isinstance(s, str) else next(iter(s), "") for s in prop.steps]
    return head not in mapping.lookups and "." not in prop.from_ \
        and all(s in INVERTIBLE_TRANSFORMS for s in steps) and not prop.value_map


def _association_links(run: EntityRun, hubspot_ids: list[str]) -> dict[str, dict[str, str]]:
    """HubSpot id -> the OfficeRnD link fields (``company``, ``member``) of the synced
    records it is associated with (the first, when several are)."""
    out: dict[str, dict[str, str]] = {hid: {} for hid in hubspot_ids}
    for assoc in run.mapping.associations:
        target = run.target_mapping(assoc.to)
        found = run.hook.read_associations(run.mapping.hubspot.object, target.hubspot.object,
                                           hubspot_ids)
        targets = sorted({t for ids in found.values() for t in ids})
        source_of = run.warehouse.source_ids_for(assoc.to, targets) if targets else {}
        for hid, ids in found.items():
            synced = [source_of[t] for t in ids if t in source_of]
            if synced and hid in out:
                out[hid][assoc.via] = synced[0]
    return out


def _resolve(run: EntityRun, written: Iterable[str]) -> None:
    """A record written to OfficeRnD has no open reverse reject left (others stay)."""
    ids = sorted(set(written))
    if not ids:
        return
    open_ = run.warehouse.open_rejects(run.entity, source_ids=ids)
    keep = sorted(set(open_["rule"]) - set(REVERSE_RULES)) if len(open_) else []
    run.warehouse.resolve_rejects(run.entity, run.run_id, ids, keep_rules=keep)
