"""Records of each object type, their indexes, validated writes, lookups and rendering.

Indexes: records by id per object type, a sorted id list for paging, unique values
(contact email, every ``hasUniqueValue`` property) and company domain, so a batch call
costs O(batch); only search and listing scan. The low-level writes keep the indexes, the
search-lag snapshots and the persistence dirty set up to date.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.models.errors import (
    HubSpotError,
    PropertyValuesError,
    problem,
    validation_error,
)
from sandbox.hubspot.models.history import PropertyHistory
from sandbox.hubspot.models.pipelines import PipelinesMixin
from sandbox.hubspot.models.properties import PropertiesMixin
from sandbox.hubspot.models.values import canonical_number, fmt_ms, normalize, now_ms


@dataclass
class Record:
    id: int
    props: dict[str, str]
    created: int
    updated: int
    archived: bool = False
    archived_at: int | None = None
    # search index lag: until ``search_until`` (monotonic seconds) search sees ``search_old``
    # (a (props, archived) snapshot) or, when None, does not see the record at all.
    search_until: float = 0.0
    search_old: tuple[dict[str, str], bool] | None = None

    def dump(self) -> dict:
        return {"id": self.id, "props": self.props, "created": self.created,
                "updated": self.updated, "archived": self.archived,
                "archived_at": self.archived_at}


class ObjectStore:
    """Records of one object type with the indexes lookups need."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[int, Record] = {}
        self.ids: list[int] = []  # ascending; ids are allocated increasing
        # property -> value -> id (live records only); "email" for contacts plus unique props
        self.unique: dict[str, dict[str, int]] = {}
        # company domain -> ids (not unique)
        self.domains: dict[str, list[int]] = {}
        self.redirects: dict[int, int] = {}  # merged id -> surviving id
        self.live = 0

    def add(self, rec: Record) -> None:
        self.records[rec.id] = rec
        if not self.ids or rec.id > self.ids[-1]:
            self.ids.append(rec.id)
        else:
            bisect.insort(self.ids, rec.id)
        if not rec.archived:
            self.live += 1


class RecordsMixin(PropertiesMixin, PipelinesMixin):
    """The record stores and every rule a written value must pass (against the property
    definitions and, for deals, the pipelines)."""

    search_lag_ms: int
    next_id: int
    stores: dict[str, ObjectStore]

    def _init_records(self) -> None:
        self.next_id = 1001
        self.stores = {n: ObjectStore(n) for n in schema.OBJECT_TYPE_IDS}
        self.stores["contacts"].unique["email"] = {}
        self.history = PropertyHistory()

    def counts(self) -> dict[str, int]:
        return {n: s.live for n, s in self.stores.items()}

    def _id_allocate(self) -> int:
        rid = self.next_id
        self.next_id += 1
        self.dirty_meta = True
        return rid

    def _check_properties(self, otype: str, props: dict[str, Any],
                          rec: Record | None) -> dict[str, str]:
        """Validate and normalise written values; raise PropertyValuesError listing all."""
        if not isinstance(props, dict):
            raise validation_error("Invalid input JSON: properties must be an object")
        out: dict[str, str] = {}
        problems: list[dict] = []
        for name, raw in props.items():
            pdef = self._prop(otype, name)
            if pdef is None:
                problems.append(problem(name, "PROPERTY_DOESNT_EXIST",
                                         f'Property "{name}" does not exist'))
                continue
            if pdef.read_only_value:
                if name == "hs_object_id" and rec is not None and str(raw) == str(rec.id):
                    continue
                problems.append(problem(name, "READ_ONLY_VALUE",
                                         f'"{name}" is a read only property; its value '
                                         "cannot be set."))
                continue
            value, issue = normalize(otype, pdef, raw)
            if issue:
                problems.append(issue)
            else:
                out[name] = value  # type: ignore[assignment]
        if otype == "deals" and not problems and ("dealstage" in out or "pipeline" in out):
            current = rec.props if rec else {}
            pipeline_id = out.get("pipeline") or current.get("pipeline") \
                or schema.DEFAULT_PIPELINE_ID
            stage = out.get("dealstage", current.get("dealstage"))
            pipeline = self.pipelines.get(pipeline_id)
            if pipeline and stage:
                stage_ids = [s["id"] for s in pipeline.stages]
                if stage not in stage_ids:
                    problems.append(problem(
                        "dealstage", "INVALID_OPTION",
                        f"{stage} was not one of the allowed options: [{', '.join(stage_ids)}]"))
        if otype == "line_items" and not problems and out.get("hs_product_id"):
            pid = int(Decimal(out["hs_product_id"]))
            prod = self.stores["products"].records.get(pid)
            if prod is None or prod.archived:
                problems.append(problem("hs_product_id", "INVALID_OBJECT_REFERENCE",
                                         f"Product with ID {out['hs_product_id']} does not exist"))
        if problems:
            raise PropertyValuesError(problems)
        if rec is None:
            missing = [n for n in schema.REQUIRED_ON_CREATE.get(otype, []) if not out.get(n)]
            if missing:
                raise HubSpotError(400, "VALIDATION_ERROR",
                                   f"Error creating {schema.UPPER[otype]}.  Some required "
                                   "properties were not set.", context={"properties": missing})
        if otype == "notes" and len(out.get("hs_note_body") or "") > schema.NOTE_BODY_MAX:
            raise PropertyValuesError([problem(
                "hs_note_body", "INVALID_STRING_LENGTH",
                f"hs_note_body is longer than {schema.NOTE_BODY_MAX} characters")])
        return out


    def _check_unique(self, otype: str, values: dict[str, str], self_id: int | None,
                      pending: dict[tuple[str, str], int] | None = None) -> None:
        store = self.stores[otype]
        for name, index in store.unique.items():
            v = values.get(name)
            if not v:
                continue
            other = index.get(v)
            if other is None and pending is not None:
                other = pending.get((name, v))
            if other is not None and other != self_id:
                if otype == "contacts" and name == "email":
                    raise HubSpotError(409, "CONFLICT",
                                       f"Contact already exists. Existing ID: {other}")
                raise HubSpotError(
                    409, "CONFLICT",
                    f"A {schema.SINGULAR[otype]} with the unique value \"{v}\" for property "
                    f"\"{name}\" already exists. Existing ID: {other}",
                    context={"propertyName": [name]})

    # ---- index maintenance

    def _index_remove(self, store: ObjectStore, rec: Record) -> None:
        for name, index in store.unique.items():
            v = rec.props.get(name)
            if v and index.get(v) == rec.id:
                del index[v]
        if store.name == "companies":
            d = rec.props.get("domain")
            if d and d in store.domains:
                ids = store.domains[d]
                if rec.id in ids:
                    ids.remove(rec.id)
                if not ids:
                    del store.domains[d]

    def _index_add(self, store: ObjectStore, rec: Record) -> None:
        if rec.archived:
            return
        for name, index in store.unique.items():
            v = rec.props.get(name)
            if v:
                index[v] = rec.id
        if store.name == "companies":
            d = rec.props.get("domain")
            if d:
                bisect.insort(store.domains.setdefault(d, []), rec.id)

    def _search_snapshot(self, rec: Record, existed: bool) -> None:
        if self.search_lag_ms <= 0:
            return
        mono = time.monotonic()
        if rec.search_until <= mono:
            rec.search_old = (dict(rec.props), rec.archived) if existed else None
        rec.search_until = mono + self.search_lag_ms / 1000.0

    # ---- low-level writes (no validation)

    def _insert(self, otype: str, values: dict[str, str]) -> Record:
        store = self.stores[otype]
        t = now_ms()
        rid = self._id_allocate()
        props = {k: v for k, v in values.items() if v != ""}
        props["hs_object_id"] = str(rid)
        props["createdate"] = fmt_ms(t)
        props[schema.LAST_MODIFIED[otype]] = fmt_ms(t)
        rec = Record(rid, props, t, t)
        if otype == "line_items":
            self._line_item_fill(rec, values)
        store.add(rec)
        self._index_add(store, rec)
        self.history.created(otype, rec)
        self._search_snapshot(rec, existed=False)
        self.dirty_records.add((otype, rid))
        return rec

    def _apply(self, otype: str, rec: Record, values: dict[str, str]) -> None:
        """Write ``values``; only a write that changes a value bumps the last-modified date
        and adds to the property history (an unchanged value is not a new version)."""
        changed = {k: v for k, v in values.items() if rec.props.get(k, "") != v}
        if not changed:
            return
        store = self.stores[otype]
        t = max(now_ms(), rec.updated)
        self.history.changed(otype, rec, changed, t)
        self._search_snapshot(rec, existed=True)
        self._index_remove(store, rec)
        for k, v in values.items():
            if v == "":
                rec.props.pop(k, None)
            else:
                rec.props[k] = v
        if otype == "line_items":
            self._line_item_fill(rec, values)
        rec.updated = t
        rec.props[schema.LAST_MODIFIED[otype]] = fmt_ms(t)
        self._index_add(store, rec)
        self.dirty_records.add((otype, rec.id))

    def _line_item_fill(self, rec: Record, written: dict[str, str]) -> None:
        pid = written.get("hs_product_id")
        if pid:
            prod = self.stores["products"].records.get(int(Decimal(pid)))
            if prod is not None:
                for name in schema.LINE_ITEM_INHERITED:
                    if name not in written and name in prod.props:
                        rec.props[name] = prod.props[name]
        price = rec.props.get("price")
        if price is not None:
            qty = Decimal(rec.props.get("quantity", "1"))
            rec.props["amount"] = canonical_number(qty * Decimal(price)) or "0"
        else:
            rec.props.pop("amount", None)

    def _archive(self, otype: str, rec: Record) -> None:
        store = self.stores[otype]
        if rec.archived:
            return
        self._search_snapshot(rec, existed=True)
        self._index_remove(store, rec)
        rec.archived = True
        rec.archived_at = now_ms()
        store.live -= 1
        self.dirty_records.add((otype, rec.id))

    # ---- lookups

    def _get_record(self, otype: str, id_value: str, id_property: str | None = None,
                    archived: bool = False) -> Record | None:
        store = self.stores[otype]
        if id_property and id_property != "hs_object_id":
            pdef = self._prop(otype, id_property)
            if pdef is None:
                return None
            if id_property in store.unique:
                key = str(id_value).strip()
                if id_property == "email":
                    key = key.lower()
                rid = store.unique[id_property].get(key)
                rec = store.records.get(rid) if rid is not None else None
                if rec is None and archived:
                    # archived records are not in the unique index: scan
                    for r in store.records.values():
                        if r.archived and r.props.get(id_property, "").lower() == key.lower():
                            return r
                return rec if rec is not None and rec.archived == archived else None
            if otype == "companies" and id_property == "domain":
                ids = store.domains.get(str(id_value).strip())
                return store.records[ids[0]] if ids and not archived else None
            return None
        try:
            rid = int(str(id_value).strip())
        except ValueError:
            return None
        rid = store.redirects.get(rid, rid)
        rec = store.records.get(rid)
        if rec is None or rec.archived != archived:
            return None
        return rec

    # ---- rendering

    def _select(self, otype: str, props: dict[str, str], names: list[str] | None) -> dict:
        if names is None:
            names = schema.DEFAULT_RETURNED[otype]
        else:
            names = list(names) + ["createdate", "hs_object_id", schema.LAST_MODIFIED[otype]]
        return {n: props[n] for n in names if n in props}

    def _render(self, otype: str, rec: Record, names: list[str] | None = None, *,
                all_props: bool = False, props: dict[str, str] | None = None) -> dict:
        source = rec.props if props is None else props
        out: dict[str, Any] = {
            "id": str(rec.id),
            "properties": dict(source) if all_props else self._select(otype, source, names),
            "createdAt": fmt_ms(rec.created),
            "updatedAt": fmt_ms(rec.updated),
            "archived": rec.archived,
        }
        if rec.archived and rec.archived_at is not None:
            out["archivedAt"] = fmt_ms(rec.archived_at)
        return out

    def _is_system(self, otype: str, name: str) -> bool:
        return name in ("hs_object_id", "createdate", schema.LAST_MODIFIED[otype],
                        "hs_merged_object_ids")

