"""Batch calls on objects (``/crm/v3/objects/{objectType}/batch/*``).

Batch create is all or nothing unless every input carries ``objectWriteTraceId``; update
and upsert write what they can and list per-input errors (207).
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.hubspot import schema
from sandbox.hubspot.models.associations import AssociationsMixin
from sandbox.hubspot.models.batch_io import batch_answer, read_inputs
from sandbox.hubspot.models.errors import HubSpotError, not_found, validation_error
from sandbox.hubspot.models.history import system_properties
from sandbox.hubspot.models.records import Record
from sandbox.hubspot.models.values import now_ms

#: batch/read inputs allowed when propertiesWithHistory is asked
MAX_HISTORY_BATCH = 50


class BatchesMixin(AssociationsMixin):
    """Batch read / create / update / upsert / archive of records."""

    def batch_read(self, otype: str, body: dict, *, archived: bool = False) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = read_inputs(body)
            id_property = body.get("idProperty")
            names = body.get("properties") or None
            with_history = body.get("propertiesWithHistory") or None
            if with_history is not None and (
                    not isinstance(with_history, list)
                    or not all(isinstance(n, str) for n in with_history)):
                raise validation_error("Invalid input JSON: propertiesWithHistory must be a "
                                       "list of property names")
            if with_history and len(inputs) > MAX_HISTORY_BATCH:
                raise validation_error(
                    "The maximum number of inputs supported in a batch request for property "
                    f"histories is {MAX_HISTORY_BATCH}. {len(inputs)} inputs were provided.",
                    context={"maxInputs": [str(MAX_HISTORY_BATCH)]})
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
                    item = self._render(otype, rec, names)
                    if with_history:
                        item["propertiesWithHistory"] = self.history.render(
                            otype, rec, with_history,
                            system_properties(schema.LAST_MODIFIED[otype]))
                    results.append(item)
            errors = []
            if missing:
                errors.append({
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {schema.UPPER[otype]} objects, they may be "
                               "deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing}, "errors": [], "links": {}})
            return batch_answer(results, errors, started)

    def batch_create(self, otype: str, body: dict,
                     refuse: Callable[[dict], str | None] | None = None) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = read_inputs(body)
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
                        links = self._check_create_associations(
                            otype, inp.get("associations") or [])
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
                status, out = batch_answer(results, errors, started)
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
            _, out = batch_answer(results, [], started)
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
            inputs = read_inputs(body)
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
            return batch_answer(results, errors, started)

    def batch_upsert(self, otype: str, body: dict,
                     refuse: Callable[[dict], str | None] | None = None) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = read_inputs(body)
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
            return batch_answer(results, errors, started)

    def batch_archive(self, otype: str, body: dict) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            inputs = read_inputs(body)
            changed = False
            for inp in inputs:
                rec = self._get_record(otype, str(inp.get("id", ""))) \
                    if isinstance(inp, dict) else None
                if rec is not None:
                    self._archive(otype, rec)
                    changed = True
            if changed:
                self._changed()
