"""Single-object calls (``/crm/v3/objects/{objectType}[/{id}]``): list, read, create,
update, archive, merge; and ``seed`` for fast bulk inserts from tests and benchmarks."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.models.associations import AssociationsMixin
from sandbox.hubspot.models.errors import not_found, validation_error
from sandbox.hubspot.models.history import CRM_UI, INTEGRATION, system_properties
from sandbox.hubspot.models.records import Record

MAX_LIST_LIMIT = 100


class ObjectsMixin(AssociationsMixin):
    """One record at a time (the batch endpoints are in ``batches.py``)."""

    def _history_of(self, otype: str, rec: Record, item: dict,
                    names: list[str] | None) -> dict:
        """``item`` with ``propertiesWithHistory`` for ``names`` when some are asked."""
        if names:
            item["propertiesWithHistory"] = self.history.render(
                otype, rec, names, system_properties(schema.LAST_MODIFIED[otype]))
        return item

    def list_objects(self, otype: str, *, limit: int = 10, after: str | None = None,
                     properties: list[str] | None = None, archived: bool = False,
                     associations: list[str] | None = None, base_url: str = "",
                     properties_with_history: list[str] | None = None) -> dict:
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
                results.append(self._history_of(otype, rec, item, properties_with_history))
            out: dict[str, Any] = {"results": results}
            if next_after is not None:
                out["paging"] = {"next": {
                    "after": next_after,
                    "link": f"{base_url}/crm/v3/objects/{otype}?after={next_after}"}}
            return out

    def get_object(self, otype: str, object_id: str, *, id_property: str | None = None,
                   properties: list[str] | None = None, archived: bool = False,
                   associations: list[str] | None = None,
                   properties_with_history: list[str] | None = None) -> dict:
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
            return self._history_of(otype, rec, item, properties_with_history)

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

    def user_edit(self, otype: str, object_id: str, properties: dict[str, Any]) -> dict:
        """Update a record as a person in the HubSpot UI would: same rules as the API, the
        new versions recorded with sourceType CRM_UI."""
        with self.lock:
            self.history.source = CRM_UI
            try:
                return self.update_object(otype, object_id, properties)
            finally:
                self.history.source = INTEGRATION

    def user_create(self, otype: str, properties: dict[str, Any],
                    associations: list[dict] | None = None) -> dict:
        """Create a record as a person in the HubSpot UI would (history source CRM_UI)."""
        with self.lock:
            self.history.source = CRM_UI
            try:
                return self.create_object(otype, properties, associations)
            finally:
                self.history.source = INTEGRATION

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
