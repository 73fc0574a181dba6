"""Batch writes of CRM objects: upsert by a unique property, update by HubSpot id, create,
archive; 100 inputs a call, each input traced by ``objectWriteTraceId``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hubspot_sync.hubspot_client.batches import ChunkSpec, ChunkWriter
from hubspot_sync.hubspot_client.errors import (
    DUPLICATE_INPUT,
    BatchOutcome,
    HubSpotError,
    RowError,
    map_object_error,
    object_input_id,
)
from hubspot_sync.hubspot_client.reads import BATCH_SIZE, unique_ids
from hubspot_sync.hubspot_client.session import R_BATCH
from hubspot_sync.progress import Progress, advance
from hubspot_sync.values import chunks


def _trace(item: dict, trace_ids: Sequence[str] | None, index: int, default: Any) -> str:
    if trace_ids is not None:
        return str(trace_ids[index])
    if item.get("objectWriteTraceId") not in (None, ""):
        return str(item["objectWriteTraceId"])
    return str(default)


def _object_spec(result_key: Any) -> ChunkSpec:
    return ChunkSpec(input_id=object_input_id, map_error=map_object_error,
                     input_key=lambda item: item.get("id"), result_key=result_key)


class ObjectWrites(ChunkWriter):
    """Batch upsert / update / create / archive."""

    def batch_upsert(self, object_type: str, inputs: Sequence[dict], id_property: str,
                     trace_ids: Sequence[str] | None = None,
                     progress: Progress | None = None) -> BatchOutcome:
        """Create-or-update by a unique property, 100 per call. Each input is
        ``{"id": <id_property value>, "properties": {...}}`` (``id`` may be left out when
        ``properties`` holds the id property). Results carry ``new``. ``progress`` (of
        every write method) counts each call of 100."""
        prepared = []
        for i, item in enumerate(inputs):
            props = dict(item.get("properties") or {})
            key = item.get("id", props.get(id_property))
            if key is None or key == "":
                raise ValueError(f"upsert input {i} has no {id_property!r} value")
            prepared.append({"id": str(key), "idProperty": id_property, "properties": props,
                             "objectWriteTraceId": _trace(item, trace_ids, i, key)})
        return self._batch_write(object_type, "upsert", prepared, _object_spec(
            lambda r: (r.get("properties") or {}).get(id_property)), progress)

    def batch_update(self, object_type: str, inputs: Sequence[dict],
                     trace_ids: Sequence[str] | None = None,
                     progress: Progress | None = None) -> BatchOutcome:
        """Update records by HubSpot id: inputs ``[{"id": "123", "properties": {...}}]``."""
        prepared = []
        for i, item in enumerate(inputs):
            if not item.get("id"):
                raise ValueError(f"update input {i} has no HubSpot id")
            prepared.append({"id": str(item["id"]),
                             "properties": dict(item.get("properties") or {}),
                             "objectWriteTraceId": _trace(item, trace_ids, i, item["id"])})
        return self._batch_write(object_type, "update", prepared,
                                 _object_spec(lambda r: r.get("id")), progress)

    def batch_create(self, object_type: str, inputs: Sequence[dict],
                     trace_ids: Sequence[str] | None = None,
                     progress: Progress | None = None) -> BatchOutcome:
        """Create records: inputs ``[{"properties": {...}, "associations": [...]?}]``. Without a
        trace id an input is traced by its position in ``inputs``."""
        prepared = [{"properties": dict(item.get("properties") or {}),
                     "associations": list(item.get("associations") or []),
                     "objectWriteTraceId": _trace(item, trace_ids, i, i)}
                    for i, item in enumerate(inputs)]
        return self._batch_write(object_type, "create", prepared,
                                 _object_spec(lambda r: None), progress)

    def batch_archive(self, object_type: str, ids: Iterable[str]) -> int:
        """Archive records by HubSpot id, 100 per call; returns how many ids were sent."""
        wanted = unique_ids(ids)
        path = {"objectType": object_type, "action": "archive"}
        self._dispatch(lambda chunk: self._request(
            "POST", R_BATCH, path, json={"inputs": [{"id": i} for i in chunk]}),
            list(chunks(wanted, BATCH_SIZE))).ordered()
        return len(wanted)

    def _batch_write(self, object_type: str, action: str, prepared: list[dict],
                     spec: ChunkSpec, progress: Progress | None = None) -> BatchOutcome:
        outcome = BatchOutcome()
        path = {"objectType": object_type, "action": action}
        if action in ("upsert", "update"):
            # HubSpot refuses a whole batch naming one record twice; send the first input for
            # an id and report the others instead of bisecting them one by one.
            seen: set[str] = set()
            unique = []
            for item in prepared:
                if item["id"] in seen:
                    outcome.errors.append(RowError(
                        item["objectWriteTraceId"], item["id"], "0", DUPLICATE_INPUT,
                        f"another input of this call already writes id {item['id']}; not sent"))
                    continue
                seen.add(item["id"])
                unique.append(item)
            prepared = unique
        try:
            sent = self._write_chunks(R_BATCH, path,
                                      [list(c) for c in chunks(prepared, BATCH_SIZE)],
                                      spec, lambda chunk: advance(progress, len(chunk)))
        except HubSpotError as exc:
            if exc.outcome is not None:  # the duplicates refused before sending
                exc.outcome.errors[:0] = outcome.errors
            raise
        outcome.results.extend(sent.results)
        outcome.errors.extend(sent.errors)
        return outcome
