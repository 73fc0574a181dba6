"""Associations v4: batch create (every pair accounted for), batch read with per-input
paging (stopping on a repeated cursor), batch archive."""

from __future__ import annotations

from collections.abc import Iterable

from hubspot_sync.hubspot_client.batches import ChunkSpec, ChunkWriter
from hubspot_sync.hubspot_client.errors import (
    BatchOutcome,
    HubSpotError,
    map_association_error,
    pair_id,
    response_json,
)
from hubspot_sync.hubspot_client.reads import BATCH_SIZE, next_after, unique_ids
from hubspot_sync.hubspot_client.session import R_ASSOC_BATCH
from hubspot_sync.paging import CursorGuard
from hubspot_sync.values import chunks

ASSOC_READ_SIZE = 1000    # inputs per associations v4 batch/read


def _result_pair(result: dict) -> str | None:
    source, target = result.get("fromObjectId"), result.get("toObjectId")
    if source is None or target is None:
        return None
    return f"{source}:{target}"


PAIR_SPEC = ChunkSpec(input_id=pair_id, map_error=map_association_error,
                      input_key=pair_id, result_key=_result_pair)


class Associations(ChunkWriter):
    """v4 association calls."""

    def associate(self, from_type: str, to_type: str, pairs: Iterable[tuple[str, str]],
                  type_id: int, category: str = "HUBSPOT_DEFINED") -> BatchOutcome:
        """Create associations (v4 ``batch/create``), 100 pairs per call. RowError input ids
        are ``"from:to"``."""
        unique_pairs = list(dict.fromkeys((str(a), str(b)) for a, b in pairs))
        spec = [{"associationCategory": category, "associationTypeId": int(type_id)}]
        prepared = [{"from": {"id": a}, "to": {"id": b}, "types": spec} for a, b in unique_pairs]
        outcome = BatchOutcome()
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "create"}
        for chunk in chunks(prepared, BATCH_SIZE):
            self._write_chunk(R_ASSOC_BATCH, path, list(chunk), outcome, PAIR_SPEC)
        return outcome

    def read_associations(self, from_type: str, to_type: str,
                          ids: Iterable[str]) -> dict[str, list[str]]:
        """Associated record ids per from-id (v4 ``batch/read``, following per-input paging);
        every requested id is a key, with an empty list when it has no associations."""
        wanted = unique_ids(ids)
        found: dict[str, dict[str, None]] = {i: {} for i in wanted}
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "read"}
        guard = CursorGuard("HubSpot POST " + R_ASSOC_BATCH.format(
            fromObjectType=from_type, toObjectType=to_type, action="read"))
        pending: list[dict[str, str]] = [{"id": i} for i in wanted]
        while pending:
            next_round: list[dict[str, str]] = []
            for chunk in chunks(pending, ASSOC_READ_SIZE):
                try:
                    body = response_json(self._request("POST", R_ASSOC_BATCH, path,
                                                       json={"inputs": list(chunk)}))
                except HubSpotError as exc:
                    if exc.status == 404:
                        continue
                    raise
                for result in body.get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    bucket = found.setdefault(from_id, {})
                    for target in result.get("to") or []:
                        to_id = target.get("toObjectId", target.get("id"))
                        if to_id is not None:
                            bucket.setdefault(str(to_id), None)
                    after = next_after(result)
                    if after:
                        guard.follow((from_id, after))
                        next_round.append({"id": from_id, "after": after})
            pending = next_round
        return {k: list(v) for k, v in found.items()}

    def archive_associations(self, from_type: str, to_type: str,
                             pairs: Iterable[tuple[str, str]]) -> None:
        """Remove every association between each pair (v4 ``batch/archive``)."""
        grouped: dict[str, dict[str, None]] = {}
        for a, b in pairs:
            grouped.setdefault(str(a), {})[str(b)] = None
        inputs = [{"from": {"id": a}, "to": [{"id": b} for b in tos]}
                  for a, tos in grouped.items()]
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "archive"}
        for chunk in chunks(inputs, BATCH_SIZE):
            self._request("POST", R_ASSOC_BATCH, path, json={"inputs": list(chunk)})
