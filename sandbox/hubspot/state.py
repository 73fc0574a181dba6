"""The HubSpot CRM model: records, properties, pipelines, associations and every rule.

Pure Python, no HTTP. Methods take and return the JSON-shaped dicts HubSpot uses and
raise :class:`HubSpotError` (status, category, message) for errors; ``api.py`` only
translates. Batch methods return ``(status_code, body)`` because HubSpot answers 200,
201 or 207 depending on the outcome.

Indexes: records by id per object type, a sorted id list for paging, unique values
(contact email, every ``hasUniqueValue`` property) and company domain. Batch calls cost
O(batch); only search and listing scan.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.hubspot import schema

MAX_BATCH = 100
MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000
MAX_LIST_LIMIT = 100
MAX_UNIQUE_PROPERTIES = 10
PROPERTY_TYPES = {"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"}
FIELD_TYPES = {"booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html",
               "number", "phonenumber", "radio", "select", "text", "textarea"}
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT_RE = re.compile(r"^-?\d+$")
TOKEN_SPLIT = re.compile(r"[^\w*?]+")


# --------------------------------------------------------------------------- errors


class HubSpotError(Exception):
    """An error HubSpot would answer with; ``body()`` is its JSON."""

    def __init__(self, status: int, category: str, message: str, *,
                 context: dict[str, list[str]] | None = None,
                 errors: list[dict] | None = None, sub_category: str | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.context = context
        self.errors = errors
        self.sub_category = sub_category
        self.extra = extra or {}

    def body(self) -> dict:
        out: dict[str, Any] = {"status": "error", "message": self.message,
                               "correlationId": str(uuid.uuid4()), "category": self.category}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.context:
            out["context"] = self.context
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out

    def batch_error(self, *, ids: list[str] | None = None, trace: str | None = None) -> dict:
        """This error as one entry of a 207 ``errors`` list (``StandardError``)."""
        context = dict(self.context or {})
        if ids is not None:
            context.pop("id", None)
            context["ids"] = ids
        if trace is not None:
            context["objectWriteTraceId"] = [trace]
        out: dict[str, Any] = {"status": "error", "category": self.category,
                               "message": self.message, "context": context,
                               "errors": self.errors or [], "links": {}}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        return out


def validation_error(message: str, **kw: Any) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, **kw)


class PropertyValuesError(HubSpotError):
    """400 VALIDATION_ERROR "Property values were not valid: [...]"."""

    def __init__(self, problems: list[dict]) -> None:
        self.problems = problems
        super().__init__(
            400, "VALIDATION_ERROR",
            "Property values were not valid: " + json.dumps(problems, separators=(",", ":")),
            errors=[{"message": p["message"], "code": p["error"],
                     "context": {"propertyName": [p["name"]]}} for p in problems])


def _problem(name: str, code: str, message: str) -> dict:
    return {"isValid": False, "message": message, "error": code, "name": name,
            "localizedErrorMessage": message}


def not_found(object_id: str) -> HubSpotError:
    return HubSpotError(404, "OBJECT_NOT_FOUND",
                        "Object not found.  objectId are usually numeric.",
                        context={"id": [str(object_id)]})


# --------------------------------------------------------------------------- time / values


def now_ms() -> int:
    return int(time.time() * 1000)


def fmt_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _parse_iso(value: str) -> int | None:
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))


def to_epoch_ms(value: str) -> int | None:
    """Epoch ms from epoch-ms digits, an ISO datetime or YYYY-MM-DD; None if unparseable."""
    text = str(value).strip()
    if INT_RE.match(text):
        return int(text)
    if DATE_RE.match(text):
        try:
            d = date.fromisoformat(text)
        except ValueError:
            return None
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)
    return _parse_iso(text)


def canonical_number(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


# --------------------------------------------------------------------------- model


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[dict] = field(default_factory=list)
    has_unique_value: bool = False
    hubspot_defined: bool = False
    read_only_value: bool = False
    read_only_definition: bool = False
    calculated: bool = False
    display_order: int = -1
    hidden: bool = False
    form_field: bool = False
    created_at: int = 0
    updated_at: int = 0
    archived: bool = False
    archived_at: int | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "name": self.name, "label": self.label, "type": self.type,
            "fieldType": self.field_type, "description": self.description,
            "groupName": self.group_name, "options": self.options,
            "displayOrder": self.display_order, "calculated": self.calculated,
            "externalOptions": False, "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden, "formField": self.form_field,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.read_only_definition,
                                     "readOnlyValue": self.read_only_value},
            "createdAt": fmt_ms(self.created_at), "updatedAt": fmt_ms(self.updated_at),
            "archived": self.archived,
        }
        if self.hubspot_defined:
            out["hubspotDefined"] = True
        if self.archived_at is not None:
            out["archivedAt"] = fmt_ms(self.archived_at)
        return out

    @classmethod
    def from_json(cls, d: dict) -> PropertyDef:
        return cls(**d)

    def dump(self) -> dict:
        return dict(self.__dict__)

    def option_values(self) -> list[str]:
        return [o["value"] for o in self.options]


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


@dataclass
class Pipeline:
    id: str
    label: str
    stages: list[dict]
    created: int
    display_order: int = 0


# --------------------------------------------------------------------------- the state


class HubSpotState:
    """One HubSpot portal: everything the sandbox serves."""

    def __init__(self, search_lag_ms: int = 0) -> None:
        self.search_lag_ms = search_lag_ms
        self.lock = threading.RLock()
        self.on_change: Callable[[], None] | None = None
        self._init()

    # ---- setup / reset

    def _init(self) -> None:
        t = now_ms()
        self.next_id = 1001
        self.stores: dict[str, ObjectStore] = {n: ObjectStore(n) for n in schema.OBJECT_TYPE_IDS}
        self.properties: dict[str, dict[str, PropertyDef]] = {}
        self.groups: dict[str, dict[str, dict]] = {}
        for otype in schema.OBJECT_TYPE_IDS:
            props: dict[str, PropertyDef] = {}
            group = schema.GROUPS[otype][0][0]
            for order, (name, label, ptype, ftype, extra) in enumerate(
                    schema.DEFAULT_PROPERTIES[otype]):
                props[name] = PropertyDef(
                    name=name, label=label, type=ptype, field_type=ftype, group_name=group,
                    options=schema.default_options(extra.get("options", [])),
                    hubspot_defined=True, read_only_value=bool(extra.get("read_only")),
                    read_only_definition=True, calculated=ftype == "calculation_equation",
                    display_order=order, form_field=not extra.get("read_only"),
                    created_at=t, updated_at=t)
            self.properties[otype] = props
            self.groups[otype] = {
                g: {"name": g, "label": label, "displayOrder": i, "archived": False}
                for i, (g, label) in enumerate(schema.GROUPS[otype])}
        self.stores["contacts"].unique["email"] = {}
        self.pipelines: dict[str, Pipeline] = {
            schema.DEFAULT_PIPELINE_ID: Pipeline(
                schema.DEFAULT_PIPELINE_ID, schema.DEFAULT_PIPELINE_LABEL,
                [{"id": sid, "label": label, "displayOrder": i,
                  "metadata": {"isClosed": "true" if sid.startswith("closed") else "false",
                               "probability": prob}}
                 for i, (sid, label, prob) in enumerate(schema.DEFAULT_DEAL_STAGES)], t)}
        # associations: (otype, id) -> to_otype -> to_id -> set of type ids
        self.assoc: dict[tuple[str, int], dict[str, dict[int, set[int]]]] = {}
        # persistence bookkeeping (read by store.py)
        self.dirty_records: set[tuple[str, int]] = set()
        self.dirty_properties: set[tuple[str, str]] = set()
        self.dirty_assoc: set[tuple[str, int]] = set()
        self.dirty_meta = False
        self.cleared = False  # set by reset(): the persisted copy must be wiped

    def reset(self) -> None:
        with self.lock:
            self._init()
            self.cleared = True
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # ---- object types

    @staticmethod
    def resolve_type(name: str) -> str:
        key = name.strip().lower()
        for otype, tid in schema.OBJECT_TYPE_IDS.items():
            if key in (otype, tid, schema.SINGULAR[otype], otype.replace("_", ""),
                       schema.SINGULAR[otype].replace("_", "")):
                return otype
        raise validation_error(f"Unable to infer object type from: {name}")

    def counts(self) -> dict[str, int]:
        return {n: s.live for n, s in self.stores.items()}

    # ---- property helpers

    def _prop(self, otype: str, name: str) -> PropertyDef | None:
        p = self.properties[otype].get(name)
        if p is None or p.archived:
            return None
        return p

    def _id_allocate(self) -> int:
        rid = self.next_id
        self.next_id += 1
        self.dirty_meta = True
        return rid

    def _normalize(self, otype: str, pdef: PropertyDef, raw: Any) -> tuple[str | None, dict | None]:
        """(canonical string value or "" to clear, problem dict)."""
        name = pdef.name
        if raw is None:
            return "", None
        if isinstance(raw, bool):
            value = "true" if raw else "false"
        elif isinstance(raw, (int, float)):
            value = canonical_number(raw) or str(raw)
        else:
            value = str(raw)
        if value == "":
            return "", None
        t = pdef.type
        if name == "email" and otype == "contacts":
            v = value.strip()
            if not EMAIL_RE.match(v):
                return None, _problem(name, "INVALID_EMAIL", f"Email address {value} is invalid")
            return v.lower(), None
        if t == "number":
            num = canonical_number(value)
            if num is None:
                return None, _problem(name, "INVALID_INTEGER",
                                      f"{value} was not a valid number.")
            if name == "price" and otype in ("line_items", "products") and num.startswith("-"):
                return None, _problem(name, "INVALID_LONG",
                                      f"{value} is not a valid price. Price cannot be negative.")
            return num, None
        if t == "bool":
            low = value.strip().lower()
            if low in ("true", "false"):
                return low, None
            return None, _problem(name, "INVALID_BOOLEAN",
                                  f"{value} was not a valid boolean. Expected true or false.")
        if t == "enumeration":
            allowed = pdef.option_values()
            parts = value.split(";") if pdef.field_type == "checkbox" else [value]
            for part in parts:
                if part not in allowed:
                    return None, _problem(
                        name, "INVALID_OPTION",
                        f"{part} was not one of the allowed options: [{', '.join(allowed)}]")
            return value, None
        if t == "date":
            text = value.strip()
            if DATE_RE.match(text):
                try:
                    date.fromisoformat(text)
                except ValueError:
                    return None, _problem(name, "INVALID_DATE", f"{value} is not a valid date")
                return text, None
            ms = to_epoch_ms(text)
            if ms is None:
                return None, _problem(name, "INVALID_DATE", f"{value} is not a valid date")
            if ms % 86_400_000:
                at = datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
                return None, _problem(name, "INVALID_DATE",
                                      f"{value} is at {at} UTC, not midnight!")
            return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%d"), None
        if t == "datetime":
            ms = to_epoch_ms(value)
            if ms is None:
                return None, _problem(name, "INVALID_DATE", f"{value} is not a valid datetime")
            return fmt_ms(ms), None
        return value, None

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
                problems.append(_problem(name, "PROPERTY_DOESNT_EXIST",
                                         f'Property "{name}" does not exist'))
                continue
            if pdef.read_only_value:
                if name == "hs_object_id" and rec is not None and str(raw) == str(rec.id):
                    continue
                problems.append(_problem(name, "READ_ONLY_VALUE",
                                         f'"{name}" is a read only property; its value '
                                         "cannot be set."))
                continue
            value, problem = self._normalize(otype, pdef, raw)
            if problem:
                problems.append(problem)
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
                    problems.append(_problem(
                        "dealstage", "INVALID_OPTION",
                        f"{stage} was not one of the allowed options: [{', '.join(stage_ids)}]"))
        if otype == "line_items" and not problems and out.get("hs_product_id"):
            pid = int(Decimal(out["hs_product_id"]))
            prod = self.stores["products"].records.get(pid)
            if prod is None or prod.archived:
                problems.append(_problem("hs_product_id", "INVALID_OBJECT_REFERENCE",
                                         f"Product with ID {out['hs_product_id']} does not exist"))
        if problems:
            raise PropertyValuesError(problems)
        return out

    def _unique_names(self, otype: str) -> list[str]:
        return list(self.stores[otype].unique)

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
        self._search_snapshot(rec, existed=False)
        self.dirty_records.add((otype, rid))
        return rec

    def _apply(self, otype: str, rec: Record, values: dict[str, str]) -> None:
        store = self.stores[otype]
        self._search_snapshot(rec, existed=True)
        self._index_remove(store, rec)
        for k, v in values.items():
            if v == "":
                rec.props.pop(k, None)
            else:
                rec.props[k] = v
        if otype == "line_items":
            self._line_item_fill(rec, values)
        t = max(now_ms(), rec.updated)
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

    def _render_assoc_v3(self, otype: str, rec: Record, to_types: list[str]) -> dict:
        out: dict[str, Any] = {}
        links = self.assoc.get((otype, rec.id), {})
        for raw in to_types:
            try:
                to = self.resolve_type(raw)
            except HubSpotError:
                continue
            targets = links.get(to)
            if not targets:
                continue
            results = []
            for tid in sorted(targets):
                for type_id in sorted(targets[tid], key=lambda x: self._type_order(otype, to, x)):
                    results.append({"id": str(tid), "type": self._v3_type_name(otype, to, type_id)})
            out[raw] = {"results": results}
        return out

    @staticmethod
    def _type_order(from_t: str, to_t: str, type_id: int) -> int:
        types = schema.ASSOCIATION_TYPES.get((from_t, to_t), [])
        for i, (tid, label) in enumerate(types):
            if tid == type_id:
                return -1 if label else i
        return 99

    @staticmethod
    def _v3_type_name(from_t: str, to_t: str, type_id: int) -> str:
        base = f"{schema.SINGULAR[from_t]}_to_{schema.SINGULAR[to_t]}"
        types = schema.ASSOCIATION_TYPES.get((from_t, to_t), [])
        has_primary = any(label for _, label in types)
        for tid, label in types:
            if tid == type_id:
                return base if (label or not has_primary) else base + "_unlabeled"
        return f"{base}_{type_id}"

    # ------------------------------------------------------------------ objects: basic

    def list_objects(self, otype: str, *, limit: int = 10, after: str | None = None,
                     properties: list[str] | None = None, archived: bool = False,
                     associations: list[str] | None = None, base_url: str = "") -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            if limit < 1:
                raise validation_error("limit must be at least 1")
            limit = min(limit, MAX_LIST_LIMIT)
            store = self.stores[otype]
            start = 0
            if after:
                try:
                    start = bisect.bisect_left(store.ids, int(after))
                except ValueError as exc:
                    raise validation_error(f"Invalid after cursor: {after}") from exc
            results = []
            i = start
            next_after = None
            while i < len(store.ids):
                rec = store.records[store.ids[i]]
                i += 1
                if rec.archived != archived:
                    continue
                if len(results) == limit:
                    next_after = str(rec.id)
                    break
                item = self._render(otype, rec, properties)
                if associations:
                    assoc = self._render_assoc_v3(otype, rec, associations)
                    if assoc:
                        item["associations"] = assoc
                results.append(item)
            out: dict[str, Any] = {"results": results}
            if next_after is not None:
                out["paging"] = {"next": {
                    "after": next_after,
                    "link": f"{base_url}/crm/v3/objects/{otype}?after={next_after}"}}
            return out

    def get_object(self, otype: str, object_id: str, *, id_property: str | None = None,
                   properties: list[str] | None = None, archived: bool = False,
                   associations: list[str] | None = None) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            rec = self._get_record(otype, object_id, id_property, archived)
            if rec is None:
                raise not_found(object_id)
            item = self._render(otype, rec, properties)
            if associations:
                assoc = self._render_assoc_v3(otype, rec, associations)
                if assoc:
                    item["associations"] = assoc
            return item

    def create_object(self, otype: str, properties: dict[str, Any],
                      associations: list[dict] | None = None) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            values = self._check_properties(otype, properties or {}, None)
            self._check_unique(otype, values, None)
            links = self._check_create_associations(otype, associations or [])
            rec = self._insert(otype, values)
            for to, to_id, type_id in links:
                self._link(otype, rec.id, to, to_id, type_id)
            self._changed()
            return self._render(otype, rec, all_props=True)

    def update_object(self, otype: str, object_id: str, properties: dict[str, Any], *,
                      id_property: str | None = None) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            rec = self._get_record(otype, object_id, id_property)
            if rec is None:
                raise not_found(object_id)
            values = self._check_properties(otype, properties or {}, rec)
            self._check_unique(otype, values, rec.id)
            self._apply(otype, rec, values)
            self._changed()
            return self._render(otype, rec, all_props=True)

    def archive_object(self, otype: str, object_id: str) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            rec = self._get_record(otype, object_id)
            if rec is not None:
                self._archive(otype, rec)
                self._changed()

    def merge(self, otype: str, primary_id: str, merge_id: str) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            if otype not in ("contacts", "companies", "deals"):
                raise validation_error(f"Merging is not supported for {otype}")
            primary = self._get_record(otype, primary_id)
            other = self._get_record(otype, merge_id)
            if primary is None:
                raise not_found(primary_id)
            if other is None:
                raise not_found(merge_id)
            if primary.id == other.id:
                raise validation_error("Cannot merge an object with itself")
            store = self.stores[otype]
            fill = {k: v for k, v in other.props.items()
                    if k not in primary.props and not self._is_system(otype, k)}
            merged_ids = [x for x in primary.props.get("hs_merged_object_ids", "").split(";") if x]
            merged_ids += [str(other.id)] + [
                x for x in other.props.get("hs_merged_object_ids", "").split(";") if x]
            # free the merged record's unique values, then give them to the primary
            self._index_remove(store, other)
            self._archive(otype, other)
            fill["hs_merged_object_ids"] = ";".join(merged_ids)
            self._apply(otype, primary, fill)
            for name, index in store.unique.items():
                v = other.props.get(name)
                if v and v not in index:
                    index[v] = primary.id
            store.redirects[other.id] = primary.id
            for old, new in list(store.redirects.items()):
                if new == other.id:
                    store.redirects[old] = primary.id
            # move associations
            for to, targets in list(self.assoc.get((otype, other.id), {}).items()):
                for tid, types in list(targets.items()):
                    for type_id in list(types):
                        self._link(otype, primary.id, to, tid, type_id)
            self._unlink_all(otype, other.id)
            self.dirty_meta = True
            self._changed()
            return self._render(otype, primary, all_props=True)

    def _is_system(self, otype: str, name: str) -> bool:
        return name in ("hs_object_id", "createdate", schema.LAST_MODIFIED[otype],
                        "hs_merged_object_ids")

    # ------------------------------------------------------------------ objects: batch

    @staticmethod
    def _inputs(body: dict, max_inputs: int = MAX_BATCH) -> list[dict]:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise validation_error("Invalid input JSON: inputs is required")
        inputs = body["inputs"]
        if not all(isinstance(i, dict) for i in inputs):
            raise validation_error("Invalid input JSON: each input must be an object")
        if len(inputs) > max_inputs:
            raise validation_error(
                f"Too many inputs: {len(inputs)}. The maximum number of inputs supported in a "
                f"batch request is {max_inputs}.",
                context={"maxInputs": [str(max_inputs)]})
        return inputs

    @staticmethod
    def _batch_body(results: list[dict], errors: list[dict], started: int) -> tuple[int, dict]:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                "startedAt": fmt_ms(started), "completedAt": fmt_ms(now_ms())}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, body
        return 200, body

    def batch_read(self, otype: str, body: dict, *, archived: bool = False) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = self._inputs(body)
            id_property = body.get("idProperty")
            names = body.get("properties") or None
            if id_property and id_property not in ("hs_object_id", "email", "domain") \
                    and id_property not in self.stores[otype].unique:
                raise validation_error(
                    f"Unable to perform read by non-unique {schema.OBJECT_TYPE_IDS[otype]} "
                    f"property {id_property}")
            results, missing, seen = [], [], set()
            for inp in inputs:
                key = str(inp.get("id", "")) if isinstance(inp, dict) else ""
                rec = self._get_record(otype, key, id_property, archived)
                if rec is None:
                    missing.append(key)
                elif rec.id not in seen:
                    seen.add(rec.id)
                    results.append(self._render(otype, rec, names))
            errors = []
            if missing:
                errors.append({
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {schema.UPPER[otype]} objects, they may be "
                               "deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing}, "errors": [], "links": {}})
            return self._batch_body(results, errors, started)

    def batch_create(self, otype: str, body: dict,
                     refuse: Callable[[dict], str | None] | None = None) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = self._inputs(body)
            traced = bool(inputs) and all(
                isinstance(i, dict) and i.get("objectWriteTraceId") for i in inputs)
            if traced:
                results, errors = [], []
                for inp in inputs:
                    trace = str(inp["objectWriteTraceId"])
                    try:
                        self._refuse(refuse, inp)
                        values = self._check_properties(otype, inp.get("properties") or {}, None)
                        self._check_unique(otype, values, None)
                        links = self._check_create_associations(otype, inp.get("associations") or [])
                    except HubSpotError as err:
                        errors.append(err.batch_error(trace=trace))
                        continue
                    rec = self._insert(otype, values)
                    for to, to_id, type_id in links:
                        self._link(otype, rec.id, to, to_id, type_id)
                    item = self._render(otype, rec, all_props=True)
                    item["objectWriteTraceId"] = trace
                    results.append(item)
                if results:
                    self._changed()
                status, out = self._batch_body(results, errors, started)
                return (201 if status == 200 else status), out
            # all or nothing: validate every input first
            pending: dict[tuple[str, str], int] = {}
            staged = []
            for n, inp in enumerate(inputs):
                if not isinstance(inp, dict):
                    raise validation_error("Invalid input JSON: each input must be an object")
                self._refuse(refuse, inp)
                values = self._check_properties(otype, inp.get("properties") or {}, None)
                self._check_unique(otype, values, None, pending)
                for name in self.stores[otype].unique:
                    if values.get(name):
                        pending[(name, values[name])] = -(n + 1)
                staged.append((values, self._check_create_associations(
                    otype, inp.get("associations") or [])))
            results = []
            for values, links in staged:
                rec = self._insert(otype, values)
                for to, to_id, type_id in links:
                    self._link(otype, rec.id, to, to_id, type_id)
                results.append(self._render(otype, rec, all_props=True))
            if results:
                self._changed()
            _, out = self._batch_body(results, [], started)
            return 201, out

    @staticmethod
    def _refuse(refuse: Callable[[dict], str | None] | None, inp: dict) -> None:
        if refuse is None:
            return
        reason = refuse(inp.get("properties") or {})
        if reason:
            raise validation_error(reason, sub_category="SANDBOX_REFUSED")

    def _check_id_property_for_write(self, otype: str, id_property: str | None,
                                     upsert: bool) -> None:
        if not id_property:
            return
        store = self.stores[otype]
        ok = id_property in store.unique and id_property != "email"
        if upsert:
            ok = id_property in store.unique or (otype == "companies" and id_property == "domain")
        if not ok:
            raise validation_error(
                f"Unable to perform update/upsert by non-unique {schema.OBJECT_TYPE_IDS[otype]} "
                f"property {id_property}")

    def batch_update(self, otype: str, body: dict,
                     refuse: Callable[[dict], str | None] | None = None) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = self._inputs(body)
            keys = []
            for inp in inputs:
                if not isinstance(inp, dict) or "id" not in inp:
                    raise validation_error("Invalid input JSON: each input needs an id")
                self._check_id_property_for_write(otype, inp.get("idProperty"), upsert=False)
                keys.append((inp.get("idProperty") or "", str(inp["id"])))
            dupes = sorted({k[1] for k in keys if keys.count(k) > 1})
            if dupes:
                raise validation_error(
                    f"Duplicate IDs found in batch input: [{', '.join(dupes)}]. "
                    "IDs must be unique")
            results, errors = [], []
            for inp in inputs:
                trace = inp.get("objectWriteTraceId")
                trace = str(trace) if trace else None
                try:
                    self._refuse(refuse, inp)
                    rec = self._get_record(otype, str(inp["id"]), inp.get("idProperty"))
                    if rec is None:
                        raise not_found(str(inp["id"]))
                    values = self._check_properties(otype, inp.get("properties") or {}, rec)
                    self._check_unique(otype, values, rec.id)
                except HubSpotError as err:
                    errors.append(err.batch_error(ids=[str(inp["id"])], trace=trace))
                    continue
                self._apply(otype, rec, values)
                item = self._render(otype, rec, all_props=True)
                if trace:
                    item["objectWriteTraceId"] = trace
                results.append(item)
            if results:
                self._changed()
            return self._batch_body(results, errors, started)

    def batch_upsert(self, otype: str, body: dict,
                     refuse: Callable[[dict], str | None] | None = None) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = self._inputs(body)
            store = self.stores[otype]
            resolved: list[tuple[dict, str, str, Record | None]] = []
            seen_keys: dict[tuple[str, str], str] = {}
            seen_recs: dict[int, str] = {}
            for inp in inputs:
                if not isinstance(inp, dict) or "id" not in inp:
                    raise validation_error("Invalid input JSON: each input needs an id")
                id_property = inp.get("idProperty") or "hs_object_id"
                if id_property == "hs_object_id" or (
                        id_property not in store.unique
                        and not (otype == "companies" and id_property == "domain")):
                    raise validation_error(
                        f"Unable to perform update/upsert by non-unique "
                        f"{schema.OBJECT_TYPE_IDS[otype]} property {id_property}")
                key = str(inp["id"]).strip()
                if id_property == "email":
                    key = key.lower()
                rec = self._get_record(otype, key, id_property)
                if (id_property, key) in seen_keys or (rec is not None and rec.id in seen_recs):
                    raise validation_error(
                        f"Duplicate IDs found in batch input: [{inp['id']}]. "
                        "Two inputs resolve to the same object; IDs must be unique",
                        context={"ids": [str(inp["id"])]})
                seen_keys[(id_property, key)] = key
                if rec is not None:
                    seen_recs[rec.id] = key
                resolved.append((inp, id_property, key, rec))
            results, errors = [], []
            for inp, id_property, _key, rec in resolved:
                trace = inp.get("objectWriteTraceId")
                trace = str(trace) if trace else None
                props = dict(inp.get("properties") or {})
                try:
                    self._refuse(refuse, inp)
                    if rec is None:
                        props.setdefault(id_property, inp["id"])
                        values = self._check_properties(otype, props, None)
                        self._check_unique(otype, values, None)
                    else:
                        values = self._check_properties(otype, props, rec)
                        self._check_unique(otype, values, rec.id)
                except HubSpotError as err:
                    errors.append(err.batch_error(ids=[str(inp["id"])], trace=trace))
                    continue
                if rec is None:
                    rec = self._insert(otype, values)
                    new = True
                else:
                    self._apply(otype, rec, values)
                    new = False
                item = self._render(otype, rec, all_props=True)
                item["new"] = new
                if trace:
                    item["objectWriteTraceId"] = trace
                results.append(item)
            if results:
                self._changed()
            return self._batch_body(results, errors, started)

    def batch_archive(self, otype: str, body: dict) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            inputs = self._inputs(body)
            changed = False
            for inp in inputs:
                rec = self._get_record(otype, str(inp.get("id", ""))) \
                    if isinstance(inp, dict) else None
                if rec is not None:
                    self._archive(otype, rec)
                    changed = True
            if changed:
                self._changed()

    # ------------------------------------------------------------------ search

    def _search_view(self, rec: Record, mono: float) -> dict[str, str] | None:
        if rec.search_until > mono:
            if rec.search_old is None:
                return None
            props, archived = rec.search_old
            return None if archived else props
        return None if rec.archived else rec.props

    def _numeric_kind(self, otype: str, name: str) -> str | None:
        if name == "hs_object_id":
            return "number"
        pdef = self.properties[otype].get(name)
        if pdef is None:
            return None
        if pdef.type == "number":
            return "number"
        if pdef.type in ("date", "datetime"):
            return "time"
        return None

    @staticmethod
    def _as_number(kind: str | None, value: Any) -> Any:
        if value is None:
            return None
        if kind == "number":
            try:
                return Decimal(str(value).strip())
            except (InvalidOperation, ValueError):
                return None
        if kind == "time":
            return to_epoch_ms(str(value))
        return str(value).lower()

    def _compile_filter(self, otype: str, f: dict) -> Callable[[dict[str, str]], bool]:
        if not isinstance(f, dict):
            raise validation_error("Invalid filter")
        name = f.get("propertyName")
        op = str(f.get("operator", "EQ")).upper()
        if not name:
            raise validation_error("Filter propertyName is required")
        if op not in OPERATORS:
            raise validation_error(f"Unknown operator {op}")
        kind = self._numeric_kind(otype, name)
        conv = lambda v: self._as_number(kind, v)  # noqa: E731

        def get(props: dict[str, str]) -> Any:
            return conv(props.get(name)) if name in props else None

        if op == "HAS_PROPERTY":
            return lambda p: name in p
        if op == "NOT_HAS_PROPERTY":
            return lambda p: name not in p
        if op in ("IN", "NOT_IN"):
            vals = f.get("values")
            if not isinstance(vals, list):
                raise validation_error(f"Operator {op} requires values")
            wanted = {conv(v) for v in vals}
            if op == "IN":
                return lambda p: get(p) in wanted
            return lambda p: get(p) not in wanted
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = str(f.get("value", "")).lower().strip()
            tokens = [t for t in TOKEN_SPLIT.split(pattern) if t]

            def contains(p: dict[str, str]) -> bool:
                v = p.get(name)
                if v is None:
                    return False
                low = v.lower()
                if "*" in pattern or "?" in pattern:
                    if fnmatch.fnmatchcase(low, pattern):
                        return True
                have = [t for t in TOKEN_SPLIT.split(low) if t]
                return bool(tokens) and all(
                    any(fnmatch.fnmatchcase(h, t) for h in have) for t in tokens)

            if op == "CONTAINS_TOKEN":
                return contains
            return lambda p: not contains(p)
        if "value" not in f:
            raise validation_error(f"Operator {op} requires a value")
        target = conv(f.get("value"))
        if target is None:
            raise validation_error(f"Invalid value for {name}: {f.get('value')}")
        if op == "EQ":
            return lambda p: get(p) == target
        if op == "NEQ":
            return lambda p: get(p) != target
        if op == "BETWEEN":
            high = conv(f.get("highValue"))
            if high is None:
                raise validation_error("BETWEEN requires highValue")

            def between(p: dict[str, str]) -> bool:
                v = get(p)
                return v is not None and target <= v <= high
            return between
        cmp = {"LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
               "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}[op]

        def compare(p: dict[str, str]) -> bool:
            v = get(p)
            try:
                return v is not None and cmp(v, target)
            except TypeError:
                return False
        return compare

    def search(self, otype: str, body: dict | None) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            body = body or {}
            if not isinstance(body, dict):
                raise validation_error("Invalid input JSON")
            groups = body.get("filterGroups") or []
            if len(groups) > 5:
                raise validation_error(
                    f"too many filterGroups (count: {len(groups)}, max allowed: 5)")
            total_filters = 0
            compiled = []
            for g in groups:
                filters = (g or {}).get("filters") or []
                if len(filters) > 6:
                    raise validation_error(
                        f"too many filters in a filterGroup (count: {len(filters)}, "
                        "max allowed: 6)")
                total_filters += len(filters)
                compiled.append([self._compile_filter(otype, f) for f in filters])
            if total_filters > 18:
                raise validation_error(
                    f"too many filters (count: {total_filters}, max allowed: 18)")
            query = str(body.get("query") or "").strip().lower()
            if len(query) > 3000:
                raise validation_error("query is longer than 3000 characters")
            try:
                limit = int(body.get("limit", 10) or 10)
                offset = int(body.get("after") or 0)
            except (TypeError, ValueError) as exc:
                raise validation_error("limit and after must be integers") from exc
            if limit < 1 or limit > MAX_SEARCH_LIMIT:
                raise validation_error(
                    f"limit must be between 1 and {MAX_SEARCH_LIMIT}, got {limit}")
            if offset < 0:
                raise validation_error("after must not be negative")
            if offset + limit > MAX_SEARCH_RESULTS:
                raise validation_error(
                    f"Paging past {MAX_SEARCH_RESULTS} results is not supported: "
                    f"after={offset} with limit={limit}. A search returns at most "
                    f"{MAX_SEARCH_RESULTS} results; narrow the filters instead.")
            sorts = body.get("sorts") or []
            if len(sorts) > 1:
                raise validation_error("Only one sort is supported")
            names = body.get("properties") or None
            query_props = schema.QUERY_PROPERTIES[otype]
            qtokens = [t for t in TOKEN_SPLIT.split(query) if t] if query else []

            mono = time.monotonic()
            store = self.stores[otype]
            matched: list[tuple[Record, dict[str, str]]] = []
            for rid in store.ids:
                rec = store.records[rid]
                props = self._search_view(rec, mono)
                if props is None:
                    continue
                if compiled and not any(all(f(props) for f in grp) for grp in compiled):
                    continue
                if qtokens:
                    words = []
                    for qp in query_props:
                        v = props.get(qp)
                        if v:
                            words.extend(t for t in TOKEN_SPLIT.split(v.lower()) if t)
                            words.append(v.lower())
                    if not all(any(w.startswith(q) for w in words) for q in qtokens):
                        continue
                matched.append((rec, props))
            if sorts:
                s = sorts[0]
                if isinstance(s, str):
                    desc = s.startswith("-")
                    sname = s.lstrip("-+")
                else:
                    sname = s.get("propertyName")
                    desc = str(s.get("direction", "ASCENDING")).upper().startswith("DESC")
                kind = self._numeric_kind(otype, sname) if sname else None
                present = [m for m in matched if sname in m[1]]
                absent = [m for m in matched if sname not in m[1]]

                def sort_key(m: tuple[Record, dict[str, str]]) -> Any:
                    v = self._as_number(kind, m[1][sname])
                    return (v is None, v if v is not None else 0, m[0].id)
                present.sort(key=sort_key, reverse=desc)
                matched = present + absent
            total = len(matched)
            page = matched[offset:offset + limit]
            out: dict[str, Any] = {
                "total": total,
                "results": [self._render(otype, rec, names, props=props) for rec, props in page],
            }
            if offset + limit < total:
                out["paging"] = {"next": {"after": str(offset + limit)}}
            return out

    # ------------------------------------------------------------------ properties

    def list_properties(self, otype: str, archived: bool = False) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            return {"results": [p.to_json() for p in self.properties[otype].values()
                                if p.archived == archived]}

    def get_property(self, otype: str, name: str, archived: bool = False) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            p = self.properties[otype].get(name)
            if p is None or p.archived != archived:
                raise HubSpotError(404, "OBJECT_NOT_FOUND",
                                   f"Unable to find property {name} on object type "
                                   f"{schema.OBJECT_TYPE_IDS[otype]}",
                                   context={"propertyName": [name]})
            return p.to_json()

    def _property_from_input(self, otype: str, body: dict) -> PropertyDef:
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName")
                   if not body.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise validation_error(
                f"Property name {name} is invalid: use lower-case letters, digits and _")
        if body["type"] not in PROPERTY_TYPES:
            raise validation_error(f"Invalid property type {body['type']}")
        if body["fieldType"] not in FIELD_TYPES:
            raise validation_error(f"Invalid fieldType {body['fieldType']}")
        if body["groupName"] not in self.groups[otype]:
            raise validation_error(f"Property group {body['groupName']} does not exist")
        options = self._options(body.get("options") or [])
        if body["type"] == "enumeration" and not options and body["fieldType"] != "booleancheckbox":
            raise validation_error("Enumeration properties need options")
        if body["type"] == "bool" and not options:
            options = [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                       {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]
        unique = bool(body.get("hasUniqueValue"))
        if unique and len(self.stores[otype].unique) - (otype == "contacts") \
                >= MAX_UNIQUE_PROPERTIES:
            raise validation_error(
                f"An object can have at most {MAX_UNIQUE_PROPERTIES} unique properties")
        t = now_ms()
        return PropertyDef(
            name=name, label=str(body["label"]), type=body["type"],
            field_type=body["fieldType"], group_name=body["groupName"],
            description=str(body.get("description") or ""), options=options,
            has_unique_value=unique, display_order=int(body.get("displayOrder", -1)),
            hidden=bool(body.get("hidden", False)), form_field=bool(body.get("formField", False)),
            created_at=t, updated_at=t)

    @staticmethod
    def _options(options: list) -> list[dict]:
        out = []
        for i, o in enumerate(options):
            if not isinstance(o, dict) or "value" not in o or "label" not in o:
                raise validation_error("Each option needs a label and a value")
            out.append({"label": str(o["label"]), "value": str(o["value"]),
                        "displayOrder": int(o.get("displayOrder", i)),
                        "hidden": bool(o.get("hidden", False)),
                        **({"description": o["description"]} if o.get("description") else {})})
        return out

    def _add_property(self, otype: str, pdef: PropertyDef) -> None:
        existing = self.properties[otype].get(pdef.name)
        if existing is not None and not existing.archived:
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                               f"Property named '{pdef.name}' already exists.",
                               context={"name": [pdef.name]})
        if existing is not None and existing.hubspot_defined:
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                               f"Property named '{pdef.name}' already exists.")
        self.properties[otype][pdef.name] = pdef
        if pdef.has_unique_value:
            store = self.stores[otype]
            index: dict[str, int] = {}
            for rec in store.records.values():
                v = rec.props.get(pdef.name)
                if v and not rec.archived:
                    index.setdefault(v, rec.id)
            store.unique[pdef.name] = index
        self.dirty_properties.add((otype, pdef.name))

    def create_property(self, otype: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            pdef = self._property_from_input(otype, body)
            self._add_property(otype, pdef)
            self._changed()
            return pdef.to_json()

    def update_property(self, otype: str, name: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            p = self.properties[otype].get(name)
            if p is None or p.archived:
                self.get_property(otype, name)  # raises 404
                raise AssertionError
            if p.read_only_definition:
                raise validation_error(f"Property {name} is HubSpot-defined and read-only")
            if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != p.has_unique_value:
                raise validation_error("hasUniqueValue cannot be changed once set")
            for key, attr in (("label", "label"), ("description", "description"),
                              ("groupName", "group_name"), ("displayOrder", "display_order"),
                              ("hidden", "hidden"), ("formField", "form_field")):
                if key in body:
                    setattr(p, attr, body[key])
            if "type" in body:
                if body["type"] not in PROPERTY_TYPES:
                    raise validation_error(f"Invalid property type {body['type']}")
                p.type = body["type"]
            if "fieldType" in body:
                if body["fieldType"] not in FIELD_TYPES:
                    raise validation_error(f"Invalid fieldType {body['fieldType']}")
                p.field_type = body["fieldType"]
            if "options" in body:
                p.options = self._options(body["options"] or [])
            p.updated_at = now_ms()
            self.dirty_properties.add((otype, name))
            self._changed()
            return p.to_json()

    def archive_property(self, otype: str, name: str) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            p = self.properties[otype].get(name)
            if p is None or p.archived:
                self.get_property(otype, name)
                return
            if p.hubspot_defined:
                raise validation_error(f"Property {name} is HubSpot-defined and cannot be archived")
            p.archived = True
            p.archived_at = now_ms()
            self.stores[otype].unique.pop(name, None)
            self.dirty_properties.add((otype, name))
            self._changed()

    def batch_read_properties(self, otype: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = self._inputs(body, 1000)
            archived = bool(body.get("archived", False))
            results, missing = [], []
            for inp in inputs:
                name = str(inp.get("name", "")) if isinstance(inp, dict) else ""
                p = self.properties[otype].get(name)
                if p is None or p.archived != archived:
                    missing.append(name)
                else:
                    results.append(p.to_json())
            errors = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                       "message": f"Unable to find properties: {missing}",
                       "context": {"properties": missing}, "errors": [], "links": {}}
                      ] if missing else []
            return self._batch_body(results, errors, started)

    def batch_create_properties(self, otype: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = self._inputs(body, 1000)
            results, errors = [], []
            for inp in inputs:
                try:
                    pdef = self._property_from_input(otype, inp)
                    self._add_property(otype, pdef)
                except HubSpotError as err:
                    errors.append(err.batch_error(
                        ids=[str(inp.get("name"))] if isinstance(inp, dict) else None))
                    continue
                results.append(pdef.to_json())
            if results:
                self._changed()
            status, out = self._batch_body(results, errors, started)
            return (201 if status == 200 else status), out

    def batch_archive_properties(self, otype: str, body: dict) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            for inp in self._inputs(body, 1000):
                name = str(inp.get("name", "")) if isinstance(inp, dict) else ""
                p = self.properties[otype].get(name)
                if p is not None and not p.archived and not p.hubspot_defined:
                    self.archive_property(otype, name)

    # groups

    def list_groups(self, otype: str) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            return {"results": [dict(g) for g in self.groups[otype].values()
                                if not g["archived"]]}

    def get_group(self, otype: str, name: str) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            g = self.groups[otype].get(name)
            if g is None or g["archived"]:
                raise HubSpotError(404, "OBJECT_NOT_FOUND",
                                   f"Unable to find property group {name}",
                                   context={"groupName": [name]})
            return dict(g)

    def create_group(self, otype: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            name, label = body.get("name"), body.get("label")
            if not name or not label:
                raise validation_error("Missing required fields: name, label")
            existing = self.groups[otype].get(name)
            if existing is not None and not existing["archived"]:
                raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                                   f"Property group named '{name}' already exists.")
            g = {"name": name, "label": label, "displayOrder": int(body.get("displayOrder", -1)),
                 "archived": False}
            self.groups[otype][name] = g
            self.dirty_meta = True
            self._changed()
            return dict(g)

    def update_group(self, otype: str, name: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            self.get_group(otype, name)
            g = self.groups[otype][name]
            for key in ("label", "displayOrder"):
                if key in body:
                    g[key] = body[key]
            self.dirty_meta = True
            self._changed()
            return dict(g)

    def archive_group(self, otype: str, name: str) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            self.get_group(otype, name)
            self.groups[otype][name]["archived"] = True
            self.dirty_meta = True
            self._changed()

    # ------------------------------------------------------------------ pipelines

    def _pipeline_json(self, p: Pipeline) -> dict:
        ts = fmt_ms(p.created)
        return {"id": p.id, "label": p.label, "displayOrder": p.display_order,
                "stages": [{**s, "createdAt": ts, "updatedAt": ts, "archived": False,
                            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
                           for s in p.stages],
                "createdAt": ts, "updatedAt": ts, "archived": False}

    def list_pipelines(self, otype: str) -> dict:
        otype = self.resolve_type(otype)
        if otype != "deals":
            return {"results": []}
        return {"results": [self._pipeline_json(p) for p in self.pipelines.values()]}

    def get_pipeline(self, otype: str, pipeline_id: str) -> dict:
        otype = self.resolve_type(otype)
        p = self.pipelines.get(pipeline_id) if otype == "deals" else None
        if p is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND",
                               f"Unable to find pipeline {pipeline_id}",
                               context={"pipelineId": [pipeline_id]})
        return self._pipeline_json(p)

    # ------------------------------------------------------------------ associations

    def _assoc_type(self, from_t: str, to_t: str, category: str | None,
                    type_id: Any) -> int:
        types = schema.ASSOCIATION_TYPES.get((from_t, to_t))
        if not types:
            raise validation_error(
                f"No association types between {from_t} and {to_t} in this sandbox")
        try:
            tid = int(type_id)
        except (TypeError, ValueError) as exc:
            raise validation_error(f"Invalid associationTypeId {type_id}") from exc
        if category not in (None, "HUBSPOT_DEFINED") or tid not in {t for t, _ in types}:
            raise validation_error(
                f"associationTypeId {tid} ({category}) is not valid from "
                f"{schema.SINGULAR[from_t]} to {schema.SINGULAR[to_t]}")
        return tid

    def _exists(self, otype: str, object_id: Any) -> Record | None:
        try:
            rid = int(str(object_id))
        except ValueError:
            return None
        rec = self.stores[otype].records.get(rid)
        return rec if rec is not None and not rec.archived else None

    def _check_create_associations(self, otype: str, associations: list) -> list[tuple]:
        """v3 create's ``associations`` list -> [(to_type, to_id, type_id)]."""
        out = []
        if not isinstance(associations, list) or not all(
                isinstance(a, dict) and isinstance(a.get("to") or {}, dict)
                and all(isinstance(t, dict) for t in a.get("types") or [])
                for a in associations):
            raise validation_error("Invalid input JSON: malformed associations")
        for a in associations:
            to_id = (a.get("to") or {}).get("id")
            types = a.get("types") or []
            found = None
            for t in types:
                tid = t.get("associationTypeId")
                for (f, to), defs in schema.ASSOCIATION_TYPES.items():
                    if f == otype and any(x == tid for x, _ in defs):
                        found = to
            if found is None:
                raise validation_error(f"Invalid association types {types}")
            if self._exists(found, to_id) is None:
                raise validation_error(
                    f"{schema.UPPER[found]}={to_id} is not valid", sub_category="INVALID_TO_OBJECT",
                    context={"toObjectId": [str(to_id)]})
            for t in types:
                out.append((found, int(to_id), self._assoc_type(
                    otype, found, t.get("associationCategory"), t.get("associationTypeId"))))
        return out

    def _link(self, from_t: str, from_id: int, to_t: str, to_id: int, type_id: int) -> None:
        pairs = [(type_id, schema.ASSOCIATION_INVERSE[type_id])]
        label = dict(schema.ASSOCIATION_TYPES[(from_t, to_t)]).get(type_id)
        if label:  # a primary type also yields the unlabeled one
            unl = schema.ASSOCIATION_TYPES[(from_t, to_t)][0][0]
            pairs.append((unl, schema.ASSOCIATION_INVERSE[unl]))
        for fwd, inv in pairs:
            self.assoc.setdefault((from_t, from_id), {}).setdefault(to_t, {}) \
                .setdefault(to_id, set()).add(fwd)
            self.assoc.setdefault((to_t, to_id), {}).setdefault(from_t, {}) \
                .setdefault(from_id, set()).add(inv)
        self.dirty_assoc.add((from_t, from_id))
        self.dirty_assoc.add((to_t, to_id))

    def _unlink_pair(self, from_t: str, from_id: int, to_t: str, to_id: int,
                     only: set[int] | None = None) -> None:
        fwd = self.assoc.get((from_t, from_id), {}).get(to_t, {})
        back = self.assoc.get((to_t, to_id), {}).get(from_t, {})
        if only is None:
            fwd.pop(to_id, None)
            back.pop(from_id, None)
        else:
            for tid in only:
                fwd.get(to_id, set()).discard(tid)
                back.get(from_id, set()).discard(schema.ASSOCIATION_INVERSE[tid])
            if not fwd.get(to_id, True):
                fwd.pop(to_id, None)
            if not back.get(from_id, True):
                back.pop(from_id, None)
        self.dirty_assoc.add((from_t, from_id))
        self.dirty_assoc.add((to_t, to_id))

    def _unlink_all(self, otype: str, oid: int) -> None:
        for to, targets in list(self.assoc.get((otype, oid), {}).items()):
            for tid in list(targets):
                self._unlink_pair(otype, oid, to, tid)

    def _labels_json(self, from_t: str, to_t: str, types: Iterable[int]) -> list[dict]:
        labels = dict(schema.ASSOCIATION_TYPES.get((from_t, to_t), []))
        return [{"category": "HUBSPOT_DEFINED", "typeId": t, "label": labels.get(t)}
                for t in sorted(types, key=lambda x: self._type_order(from_t, to_t, x))]

    def _pair_json(self, from_t: str, from_id: int, to_t: str, to_id: int) -> dict:
        types = self.assoc.get((from_t, from_id), {}).get(to_t, {}).get(to_id, set())
        labels = dict(schema.ASSOCIATION_TYPES.get((from_t, to_t), []))
        return {"fromObjectTypeId": schema.OBJECT_TYPE_IDS[from_t], "fromObjectId": from_id,
                "toObjectTypeId": schema.OBJECT_TYPE_IDS[to_t], "toObjectId": to_id,
                "labels": sorted(lab for t, lab in labels.items() if lab and t in types)}

    def _missing_error(self, otype: str, oid: Any, side: str) -> HubSpotError:
        return validation_error(
            f"{schema.UPPER[otype]}={oid} is not valid",
            sub_category="crm.associations.INVALID_OBJECT_IDS",
            context={f"{side}ObjectId": [str(oid)]})

    def assoc_batch_create(self, from_t: str, to_t: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            started = now_ms()
            inputs = self._inputs(body, 2000)
            results, errors = [], []
            for inp in inputs:
                try:
                    fid = (inp.get("from") or {}).get("id")
                    tid = (inp.get("to") or {}).get("id")
                    if self._exists(from_t, fid) is None:
                        raise self._missing_error(from_t, fid, "from")
                    if self._exists(to_t, tid) is None:
                        raise self._missing_error(to_t, tid, "to")
                    types = inp.get("types") or []
                    if not types:
                        raise validation_error("types is required")
                    tids = [self._assoc_type(from_t, to_t, t.get("associationCategory"),
                                             t.get("associationTypeId")) for t in types]
                except HubSpotError as err:
                    errors.append(err.batch_error())
                    continue
                for type_id in tids:
                    self._link(from_t, int(fid), to_t, int(tid), type_id)
                results.append(self._pair_json(from_t, int(fid), to_t, int(tid)))
            if results:
                self._changed()
            status, out = self._batch_body(results, errors, started)
            return (201 if status == 200 else status), out

    def assoc_batch_default(self, from_t: str, to_t: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            started = now_ms()
            inputs = self._inputs(body, 2000)
            results, errors = [], []
            for inp in inputs:
                fid = (inp.get("from") or {}).get("id")
                tid = (inp.get("to") or {}).get("id")
                try:
                    results.append(self._default_link(from_t, fid, to_t, tid))
                except HubSpotError as err:
                    errors.append(err.batch_error())
            if results:
                self._changed()
            # The spec types this endpoint 200-only; failed inputs are listed in ``errors``.
            _, out = self._batch_body(results, errors, started)
            return 200, out

    def _default_link(self, from_t: str, fid: Any, to_t: str, tid: Any) -> dict:
        if self._exists(from_t, fid) is None:
            raise self._missing_error(from_t, fid, "from")
        if self._exists(to_t, tid) is None:
            raise self._missing_error(to_t, tid, "to")
        types = schema.ASSOCIATION_TYPES.get((from_t, to_t))
        if not types:
            raise validation_error(
                f"No association types between {from_t} and {to_t} in this sandbox")
        type_id = types[0][0]
        self._link(from_t, int(fid), to_t, int(tid), type_id)
        return {"from": {"id": str(fid)}, "to": {"id": str(tid)},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                    "associationTypeId": type_id}}

    def assoc_put_default(self, from_t: str, fid: str, to_t: str, tid: str) -> dict:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            started = now_ms()
            result = self._default_link(from_t, fid, to_t, tid)
            self._changed()
            return self._batch_body([result], [], started)[1]

    def assoc_put_labels(self, from_t: str, fid: str, to_t: str, tid: str,
                         types: list[dict]) -> dict:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            if self._exists(from_t, fid) is None:
                raise self._missing_error(from_t, fid, "from")
            if self._exists(to_t, tid) is None:
                raise self._missing_error(to_t, tid, "to")
            if not isinstance(types, list) or not types:
                raise validation_error("A list of association types is required")
            tids = [self._assoc_type(from_t, to_t, t.get("associationCategory"),
                                     t.get("associationTypeId")) for t in types]
            for type_id in tids:
                self._link(from_t, int(fid), to_t, int(tid), type_id)
            self._changed()
            return self._pair_json(from_t, int(fid), to_t, int(tid))

    def assoc_delete(self, from_t: str, fid: str, to_t: str, tid: str) -> None:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            try:
                self._unlink_pair(from_t, int(fid), to_t, int(tid))
            except ValueError:
                return
            self._changed()

    def assoc_list(self, from_t: str, fid: str, to_t: str, *, limit: int = 500,
                   after: str | None = None) -> dict:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            try:
                oid = int(fid)
            except ValueError as exc:
                raise not_found(fid) from exc
            return self._assoc_page(from_t, oid, to_t, limit, after)

    def _assoc_page(self, from_t: str, oid: int, to_t: str, limit: int,
                    after: str | None) -> dict:
        limit = max(1, min(limit, 500))
        targets = self.assoc.get((from_t, oid), {}).get(to_t, {})
        # An archived record's associations are not listed (it can be restored with them).
        records = self.stores[to_t].records
        ids = sorted(t for t in targets if t in records and not records[t].archived)
        start = bisect.bisect_left(ids, int(after)) if after else 0
        page = ids[start:start + limit]
        out: dict[str, Any] = {"results": [
            {"toObjectId": t, "associationTypes": self._labels_json(from_t, to_t, targets[t])}
            for t in page]}
        if start + limit < len(ids):
            out["paging"] = {"next": {"after": str(ids[start + limit])}}
        return out

    def assoc_batch_read(self, from_t: str, to_t: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            started = now_ms()
            inputs = self._inputs(body, 1000)
            results, errors = [], []
            for inp in inputs:
                fid = str((inp or {}).get("id", ""))
                rec = self._exists(from_t, fid)
                if rec is None:
                    errors.append(HubSpotError(
                        404, "OBJECT_NOT_FOUND", f"{schema.UPPER[from_t]}={fid} is not valid",
                        context={"fromObjectId": [fid]}).batch_error())
                    continue
                page = self._assoc_page(from_t, rec.id, to_t, 500, inp.get("after"))
                if not page["results"]:
                    errors.append({
                        "status": "error", "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {schema.SINGULAR[to_t]} is associated to "
                                   f"{schema.SINGULAR[from_t]} {fid}.",
                        "context": {"fromObjectId": [fid]}, "errors": [], "links": {}})
                    continue
                item: dict[str, Any] = {"from": {"id": fid}, "to": page["results"]}
                if "paging" in page:
                    item["paging"] = page["paging"]
                results.append(item)
            return self._batch_body(results, errors, started)

    def assoc_batch_archive(self, from_t: str, to_t: str, body: dict) -> None:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            for inp in self._inputs(body, 2000):
                try:
                    fid = int((inp.get("from") or {}).get("id"))
                    for t in inp.get("to") or []:
                        self._unlink_pair(from_t, fid, to_t, int(t.get("id")))
                except (TypeError, ValueError):
                    continue
            self._changed()

    def assoc_batch_labels_archive(self, from_t: str, to_t: str, body: dict) -> None:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            for inp in self._inputs(body, 2000):
                try:
                    fid = int((inp.get("from") or {}).get("id"))
                    tid = int((inp.get("to") or {}).get("id"))
                except (TypeError, ValueError):
                    continue
                only = {self._assoc_type(from_t, to_t, t.get("associationCategory"),
                                         t.get("associationTypeId"))
                        for t in inp.get("types") or []}
                self._unlink_pair(from_t, fid, to_t, tid, only)
            self._changed()

    def assoc_labels(self, from_t: str, to_t: str) -> dict:
        from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
        return {"results": [{"category": "HUBSPOT_DEFINED", "typeId": t, "label": label}
                            for t, label in schema.ASSOCIATION_TYPES.get((from_t, to_t), [])]}

    # ------------------------------------------------------------------ seeding helper

    def seed(self, otype: str, rows: Iterable[dict[str, Any]], *, validate: bool = False) -> int:
        """Insert many records fast (tests, benchmarks). Unique values are still enforced."""
        with self.lock:
            otype = self.resolve_type(otype)
            n = 0
            for props in rows:
                values = self._check_properties(otype, props, None) if validate else {
                    k: ("" if v is None else str(v)) for k, v in props.items()}
                if otype == "contacts" and values.get("email"):
                    values["email"] = values["email"].lower()
                self._check_unique(otype, values, None)
                self._insert(otype, values)
                n += 1
            self._changed()
            return n
