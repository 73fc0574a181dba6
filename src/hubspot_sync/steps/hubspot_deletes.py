"""Step ``check_hubspot_deletions``: respect what people did in HubSpot.

A record the sync wrote before (it is in the id map) that HubSpot no longer finds by the id
property was archived, deleted or merged by a person. Its mapped HubSpot id is read once
(``batch/read``, then ``?archived=true`` for what is still missing):

- merged: HubSpot answers for the old id with the surviving record (a different id, the old
  one listed in ``hs_merged_object_ids``); the sync adopts the surviving id (id map and this
  run's HubSpot snapshot, matched by ``hs_object_id``, so load writes it by id and sets the
  id property on it). A surviving record that already carries another source record's id is
  not taken over: that is a tombstone (kind ``merged``);
- archived (in HubSpot's recycle bin) or deleted for good (a GDPR delete): a tombstone with
  when it was first and last seen, and a reject (rule ``hubspot_deleted``) that keeps load
  from creating it again; the reject is resolved only by a write (``recreate_deleted: true``).

Children (a contract's line items) follow their parent and are not checked here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hubspot_sync.gc_pause import paused_gc
from hubspot_sync.mapping import EntityMapping
from hubspot_sync.records import Reject
from hubspot_sync.steps import rejects as reject_book
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.values import is_blank

log = logging.getLogger(__name__)

MATCHED_BY_HUBSPOT_ID = "hs_object_id"  # a snapshot row adopted through the id map
MERGED_IDS = "hs_merged_object_ids"
RULE = "hubspot_deleted"
LISTED = 50  # tombstones named in a run's report (the table keeps them all)


@dataclass(frozen=True)
class Finding:
    """What became of one mapped HubSpot record: ``adopt`` (merged, or it lost its id
    property: the sync follows it), ``merged`` (into another synced record), ``archived``
    or ``deleted``."""

    source_id: str
    hubspot_id: str
    kind: str
    reason: str
    record: Mapping[str, Any] | None = None


def answers(requested: Iterable[str], records: Iterable[Mapping[str, Any]]
            ) -> dict[str, Mapping[str, Any]]:
    """Requested HubSpot id -> the live record answering for it: the record itself, or the
    record it was merged into (whose ``hs_merged_object_ids`` lists it)."""
    wanted = {str(i) for i in requested}
    out: dict[str, Mapping[str, Any]] = {}
    for record in records:
        rid = str(record.get("id"))
        merged = str((record.get("properties") or {}).get(MERGED_IDS) or "").split(";")
        for old in [rid, *(m.strip() for m in merged)]:
            if old in wanted:
                out.setdefault(old, record)
    return out


def classify(mapping: EntityMapping, missing: Mapping[str, str],
             live: Mapping[str, Mapping[str, Any]],
             archived: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """One finding per source id (``missing``: source id -> its mapped HubSpot id) from
    HubSpot's answers by HubSpot id (``live``) and among archived records (``archived``)."""
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    out = []
    for sid, hid in sorted(missing.items()):
        record = live.get(hid)
        if record is not None:
            new_id = str(record.get("id"))
            owner = (record.get("properties") or {}).get(id_property)
            how = (f"HubSpot {obj} {hid} was merged into {new_id}" if new_id != hid
                   else f"HubSpot {obj} {hid} no longer carries this record's {id_property}")
            if owner and owner != mapping.source_id_value(sid):
                out.append(Finding(sid, hid, "merged", f"{how}, which is synced from {owner}; "
                                   "not re-created and not taken over", record))
            else:
                out.append(Finding(sid, hid, "adopt", f"{how}; the sync follows it", record))
        elif hid in archived:
            when = archived[hid].get("archivedAt")
            out.append(Finding(sid, hid, "archived", (
                f"HubSpot {obj} {hid} was archived in HubSpot"
                f"{f' at {when}' if when else ''}; not re-created (recreate_deleted: false)")))
        else:
            out.append(Finding(sid, hid, "deleted", (
                f"HubSpot {obj} {hid} no longer exists in HubSpot (deleted permanently, e.g. on "
                "a GDPR request); not re-created (recreate_deleted: false)")))
    return out


def tombstone_rejects(rows: Iterable[Mapping[str, Any]]) -> list[Reject]:
    """The rejects that keep tombstoned records from being written (and show them)."""
    return [{"source_id": r["source_id"], "rule": RULE, "property": None,
             "value": r.get("hubspot_id"), "reason": r["reason"], "source": "hubspot",
             "category": str(r["kind"]).upper()} for r in rows]


@paused_gc()  # millions of acyclic objects at scale: see hubspot_sync.gc_pause
def check_hubspot_deletions(run: EntityRun, definitions: Mapping[str, dict],
                            dropped: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Tombstones and merges of the run's records; ``dropped``: id map pairs a full
    refresh removed because HubSpot no longer lists them (they are checked too)."""
    mapping, wh = run.mapping, run.warehouse
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    out: dict[str, Any] = {"tombstoned": 0, "new_tombstones": 0, "merges_adopted": 0,
                           "recreated": 0, "tombstone_list": []}
    if run.parent is not None or (definitions.get(id_property) or {}).get("planned"):
        return out
    source = wh.read_source_snapshot(run.entity, run.run_id, columns=("source_id", "skip_reason"))
    writing = [sid for sid, skip in zip(source["source_id"], source["skip_reason"],
                                        strict=True) if is_blank(skip)] if len(source) else []
    hubspot = wh.read_hubspot_snapshot(run.entity, run.run_id,
                                       columns=("source_id", "matched_by"))
    by_id = set(hubspot.loc[hubspot["matched_by"] == id_property, "source_id"]) \
        if len(hubspot) else set()
    unseen = [sid for sid in writing if sid not in by_id]
    if not unseen:
        return out
    known = {r["source_id"]: r for r in wh.tombstones(run.entity, unseen).to_dict("records")}
    mapped = wh.id_map(run.entity, [s for s in unseen if s not in known])
    mapped.update({s: h for s, h in (dropped or {}).items() if s in unseen and s not in known})
    findings = _findings(run, definitions, mapped) if mapped else []
    adopted = [f for f in findings if f.kind == "adopt"]
    gone = [f for f in findings if f.kind != "adopt"]
    if adopted:
        _adopt(run, adopted)
    rows = [{"source_id": f.source_id, "hubspot_id": f.hubspot_id, "kind": f.kind,
             "reason": f.reason} for f in gone]
    if mapping.recreate_deleted:
        again = [r["source_id"] for r in rows] + list(known)
        wh.drop_id_map(run.entity, again)
        wh.clear_tombstones(run.entity, again)
        out["recreated"] = len(again)
        if again:
            log.info("%s: %d records deleted in HubSpot are created again (recreate_deleted)",
                     run.entity, len(again))
    else:
        wh.record_tombstones(run.entity, obj, run.run_id, rows)
        wh.drop_id_map(run.entity, [r["source_id"] for r in rows])
        seen_again = list(known.values())
        wh.record_tombstones(run.entity, obj, run.run_id, seen_again)
        everything = [*rows, *seen_again]
        reject_book.record_held(run, tombstone_rejects(everything))
        out.update(tombstoned=len(everything), new_tombstones=len(rows),
                   tombstone_list=[f"{r['source_id']}: {r['reason']}"
                                   for r in everything][:LISTED])
        if everything:
            log.warning("%s: %d records deleted or merged away in HubSpot are not written "
                        "(%d newly seen); see the tombstones table", run.entity,
                        len(everything), len(rows))
    out["merges_adopted"] = len(adopted)
    out["api_calls"] = run.api_calls()
    return out


def _findings(run: EntityRun, definitions: Mapping[str, dict],
              mapped: Mapping[str, str]) -> list[Finding]:
    """Read the mapped HubSpot ids (live, then archived) and classify each source id."""
    mapping, hook = run.mapping, run.hook
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    props = [n for n in [*(p.to for p in mapping.properties), id_property, MERGED_IDS]
             if not (definitions.get(n) or {}).get("planned")]
    ids = sorted(set(mapped.values()))
    live = answers(ids, hook.batch_read(obj, ids, props))
    missing = [h for h in ids if h not in live]
    archived = {str(r.get("id")): r for r in hook.batch_read(obj, missing, [id_property],
                                                               archived=True)} if missing else {}
    return classify(mapping, mapped, live, archived)


def _adopt(run: EntityRun, adopted: list[Finding]) -> None:
    """The surviving records join the id map and this run's HubSpot snapshot (replacing a
    row a match key found for the same source record)."""
    import pandas as pd

    from hubspot_sync.steps import hubspot_side

    wh = run.warehouse
    pairs = {f.source_id: str((f.record or {}).get("id")) for f in adopted}
    wh.upsert_id_map(run.entity, run.mapping.hubspot.object, run.run_id, pairs.items())
    # The survivor's current associations, as extract_hubspot records them for the others.
    links, types = hubspot_side._current_associations(run, set(pairs.values()))
    frame = wh.read_hubspot_snapshot(run.entity, run.run_id)
    frame = frame[~frame["source_id"].isin(list(pairs))] if len(frame) else frame
    rows = []
    for f in adopted:
        props = {k: v for k, v in dict((f.record or {}).get("properties") or {}).items()
                 if k != MERGED_IDS}
        props[hubspot_side.ASSOCIATIONS_KEY] = links.get(pairs[f.source_id], {})
        props[hubspot_side.TYPES_KEY] = types.get(pairs[f.source_id], {})
        rows.append({"source_id": f.source_id, "hubspot_id": pairs[f.source_id],
                     "matched_by": MATCHED_BY_HUBSPOT_ID, "properties": props})
        log.info("%s %s: %s", run.entity, f.source_id, f.reason)
    wh.write_hubspot_snapshot(run.entity, run.run_id,
                              pd.concat([frame, pd.DataFrame(rows, columns=frame.columns)],
                                        ignore_index=True))
