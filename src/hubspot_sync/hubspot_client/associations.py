"""Associations v4: batch create (every pair accounted for), batch read with per-input
paging (stopping on a repeated cursor; ids alone or with their type ids), batch archive
of whole pairs and of given labels."""

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
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "create"}
        return self._write_chunks(R_ASSOC_BATCH, path,
                                  [list(c) for c in chunks(prepared, BATCH_SIZE)], PAIR_SPEC)

    def read_associations(self, from_type: str, to_type: str,
                          ids: Iterable[str]) -> dict[str, list[str]]:
        """Associated record ids per from-id (v4 ``batch/read``, following per-input paging);
        every requested id is a key, with an empty list when it has no associations."""
        return {k: list(v) for k, v in self.read_association_types(from_type, to_type,
                                                                    ids).items()}

    def read_association_types(self, from_type: str, to_type: str,
                               ids: Iterable[str]) -> dict[str, dict[str, list[int]]]:
        """Per from-id, each associated record id with the association type ids the pair
        has (the same v4 ``batch/read`` calls as :meth:`read_associations`)."""
        wanted = unique_ids(ids)
        found: dict[str, dict[str, dict[int, None]]] = {i: {} for i in wanted}
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "read"}
        guard = CursorGuard("HubSpot POST " + R_ASSOC_BATCH.format(
            fromObjectType=from_type, toObjectType=to_type, action="read"))
        pending: list[dict[str, str]] = [{"id": i} for i in wanted]

        def read(chunk: list[dict[str, str]]) -> dict:
            try:
                return response_json(self._request("POST", R_ASSOC_BATCH, path,
                                                   json={"inputs": chunk}))
            except HubSpotError as exc:
                if exc.status == 404:
                    return {}
                raise

        while pending:
            next_round: list[dict[str, str]] = []
            # a round's chunks in flight together, their answers read in input order
            for body in self._dispatch(read, [list(c) for c in
                                              chunks(pending, ASSOC_READ_SIZE)]).ordered():
                for result in body.get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    bucket = found.setdefault(from_id, {})
                    for target in result.get("to") or []:
                        to_id = target.get("toObjectId", target.get("id"))
                        if to_id is None:
                            continue
                        types = bucket.setdefault(str(to_id), {})
                        for spec in target.get("associationTypes") or []:
                            type_id = spec.get("typeId", spec.get("associationTypeId"))
                            if isinstance(type_id, int | str) and str(type_id).isdigit():
                                types.setdefault(int(type_id), None)
                    after = next_after(result)
                    if after:
                        guard.follow((from_id, after))
                        next_round.append({"id": from_id, "after": after})
            pending = next_round
        return {k: {to: list(types) for to, types in v.items()} for k, v in found.items()}

    def archive_associations(self, from_type: str, to_type: str,
                             pairs: Iterable[tuple[str, str]]) -> int:
        """Remove every association between each pair (v4 ``batch/archive``), 100 inputs
        (one per from-id, with its to-ids) a call; returns the calls made."""
        grouped: dict[str, dict[str, None]] = {}
        for a, b in pairs:
            grouped.setdefault(str(a), {})[str(b)] = None
        inputs = [{"from": {"id": a}, "to": [{"id": b} for b in tos]}
                  for a, tos in grouped.items()]
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "archive"}
        return self._send_chunks(path, inputs)

    def archive_association_labels(self, from_type: str, to_type: str,
                                   pairs: Iterable[tuple[str, str, int]],
                                   category: str = "HUBSPOT_DEFINED") -> int:
        """Remove only the given association types of each (from, to, type id) pair (v4
        ``batch/labels/archive``), 100 inputs a call; the pair's other labels stay. HubSpot
        removes *every* label of a pair when its unlabeled type is removed, so callers send
        labeled types only when other labels must survive. Returns the calls made."""
        grouped: dict[tuple[str, str], dict[int, None]] = {}
        for a, b, type_id in pairs:
            grouped.setdefault((str(a), str(b)), {})[int(type_id)] = None
        inputs = [{"from": {"id": a}, "to": {"id": b},
                   "types": [{"associationCategory": category, "associationTypeId": t}
                             for t in types]} for (a, b), types in grouped.items()]
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "labels/archive"}
        return self._send_chunks(path, inputs)

    def _send_chunks(self, path: dict[str, str], inputs: list[dict]) -> int:
        """POST the inputs 100 a call, several in flight; returns the calls made."""
        parts = [list(c) for c in chunks(inputs, BATCH_SIZE)]
        self._dispatch(lambda chunk: self._request("POST", R_ASSOC_BATCH, path,
                                                   json={"inputs": chunk}), parts).ordered()
        return len(parts)
