"""Associations between records (v4 ``/crm/v4/associations`` and
``/crm/v4/objects/.../associations``, plus v3's create-with-associations and
``associations=`` rendering).

Every association is stored in both directions: (otype, id) -> to_otype -> to_id -> set
of HUBSPOT_DEFINED type ids; a primary type also creates the unlabeled one.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.models.batch_io import batch_answer, read_inputs
from sandbox.hubspot.models.errors import HubSpotError, not_found, validation_error
from sandbox.hubspot.models.records import Record, RecordsMixin
from sandbox.hubspot.models.values import now_ms


class AssociationsMixin(RecordsMixin):
    """Links between records and the association endpoints."""

    assoc: dict[tuple[str, int], dict[str, dict[int, set[int]]]]

    def _init_associations(self) -> None:
        self.assoc = {}

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
        status, out = self._assoc_batch(from_t, to_t, body, self._labelled_link)
        return (201 if status == 200 else status), out

    def assoc_batch_default(self, from_t: str, to_t: str, body: dict) -> tuple[int, dict]:
        # The spec types this endpoint 200-only; failed inputs are listed in ``errors``.
        _, out = self._assoc_batch(from_t, to_t, body, self._default_link)
        return 200, out

    def _assoc_batch(self, from_t: str, to_t: str, body: dict,
                     link: Callable[[str, Any, str, Any, dict], dict]) -> tuple[int, dict]:
        """One v4 association batch: ``link`` makes each input's pair (or raises the
        HubSpotError that becomes its entry in ``errors``)."""
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            started = now_ms()
            results, errors = [], []
            for inp in read_inputs(body, 2000):
                fid = (inp.get("from") or {}).get("id")
                tid = (inp.get("to") or {}).get("id")
                try:
                    results.append(link(from_t, fid, to_t, tid, inp))
                except HubSpotError as err:
                    errors.append(err.batch_error())
            if results:
                self._changed()
            return batch_answer(results, errors, started)

    def _labelled_link(self, from_t: str, fid: Any, to_t: str, tid: Any, inp: dict) -> dict:
        """A pair with the input's association types (every type validated before any link)."""
        if self._exists(from_t, fid) is None:
            raise self._missing_error(from_t, fid, "from")
        if self._exists(to_t, tid) is None:
            raise self._missing_error(to_t, tid, "to")
        types = inp.get("types") or []
        if not types:
            raise validation_error("types is required")
        tids = [self._assoc_type(from_t, to_t, t.get("associationCategory"),
                                 t.get("associationTypeId")) for t in types]
        for type_id in tids:
            self._link(from_t, int(fid), to_t, int(tid), type_id)
        return self._pair_json(from_t, int(fid), to_t, int(tid))

    def _default_link(self, from_t: str, fid: Any, to_t: str, tid: Any,
                      _inp: dict | None = None) -> dict:
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
            return batch_answer([result], [], started)[1]

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
            inputs = read_inputs(body, 1000)
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
            return batch_answer(results, errors, started)

    def assoc_batch_archive(self, from_t: str, to_t: str, body: dict) -> None:
        with self.lock:
            from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
            for inp in read_inputs(body, 2000):
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
            for inp in read_inputs(body, 2000):
                try:
                    fid = int((inp.get("from") or {}).get("id"))
                    tid = int((inp.get("to") or {}).get("id"))
                except (TypeError, ValueError):
                    continue
                only = {self._assoc_type(from_t, to_t, t.get("associationCategory"),
                                         t.get("associationTypeId"))
                        for t in inp.get("types") or []}
                # HubSpot: "Deleting an unlabeled association will also delete all labeled
                # associations between those two objects" (v4 batch/labels/archive).
                base = schema.ASSOCIATION_TYPES[(from_t, to_t)][0][0]
                self._unlink_pair(from_t, fid, to_t, tid, None if base in only else only)
            self._changed()

    def assoc_labels(self, from_t: str, to_t: str) -> dict:
        from_t, to_t = self.resolve_type(from_t), self.resolve_type(to_t)
        return {"results": [{"category": "HUBSPOT_DEFINED", "typeId": t, "label": label}
                            for t, label in schema.ASSOCIATION_TYPES.get((from_t, to_t), [])]}
