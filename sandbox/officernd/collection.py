"""The records of one resource, kept in ``_id`` order."""

from __future__ import annotations

import bisect


class Collection:
    """Records of one resource: ``ids`` kept sorted, ``by_id`` for lookups."""

    def __init__(self, rows: list[dict]) -> None:
        self.by_id = {r["_id"]: r for r in rows}
        self.ids = sorted(self.by_id)
        self.version = 0

    def put(self, rec: dict) -> None:
        rid = rec["_id"]
        if rid not in self.by_id:
            bisect.insort(self.ids, rid)
        self.by_id[rid] = rec
        self.version += 1

    def remove(self, rid: str) -> None:
        if self.by_id.pop(rid, None) is not None:
            i = bisect.bisect_left(self.ids, rid)
            del self.ids[i]
            self.version += 1

    def rows(self) -> list[dict]:
        return [self.by_id[i] for i in self.ids]

