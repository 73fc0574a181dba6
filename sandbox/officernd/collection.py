"""The records of one resource, kept in key (``_id``) order.

A record's key is its ``_id``. Raw records (inserted exactly as given, for tests of
malformed data) may have no usable ``_id`` (null, a number, an object, missing): those get
a synthetic key ``~raw-000001`` that sorts after every hex id and addresses them in the
``/_sandbox/records`` routes. Raw records are never picked by ``mutate``, so the
malformed values a test planted stay as given.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from typing import Any

RAW_KEY_PREFIX = "~raw-"


def to_json(value: Any) -> str:
    """Compact JSON text of records, non-ASCII kept as is; with ASCII escapes only when a
    raw record holds a string UTF-8 cannot encode (a lone surrogate such as ``"\\ud800"``),
    so such a record is still served and stored, as a JavaScript server would send it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"))
    return text


def record_key(rec: dict) -> str | None:
    """The key a record is stored under when its ``_id`` is a usable string."""
    rid = rec.get("_id")
    return rid if isinstance(rid, str) and rid else None


class Collection:
    """Records of one resource: ``ids`` (the keys) kept sorted, ``by_id`` for lookups."""

    def __init__(self, items: Iterable[tuple[str, dict]], raw: Iterable[str] = ()) -> None:
        self.by_id = dict(items)
        self.ids = sorted(self.by_id)
        self.raw = set(raw) & set(self.by_id)
        self.version = 0

    @classmethod
    def of(cls, rows: Iterable[dict]) -> Collection:
        """A collection of well-formed records, keyed by ``_id``."""
        return cls((r["_id"], r) for r in rows)

    def put(self, rec: dict, key: str | None = None) -> str:
        """Insert or replace ``rec`` under ``key`` (default: its ``_id``)."""
        rid = rec["_id"] if key is None else key
        if rid not in self.by_id:
            bisect.insort(self.ids, rid)
        self.by_id[rid] = rec
        self.version += 1
        return rid

    def put_raw(self, rec: dict) -> str:
        """Insert a record exactly as given; a record with the same string ``_id`` is
        replaced. Returns its key."""
        key = record_key(rec)
        if key is None:
            taken = [int(k[len(RAW_KEY_PREFIX):]) for k in self.raw
                     if k.startswith(RAW_KEY_PREFIX) and k[len(RAW_KEY_PREFIX):].isdigit()]
            key = f"{RAW_KEY_PREFIX}{max(taken, default=0) + 1:06d}"
        self.put(rec, key)
        self.raw.add(key)
        return key

    def remove(self, rid: str) -> None:
        if self.by_id.pop(rid, None) is not None:
            i = bisect.bisect_left(self.ids, rid)
            del self.ids[i]
            self.raw.discard(rid)
            self.version += 1

    def rows(self) -> list[dict]:
        return [self.by_id[i] for i in self.ids]

    def items(self) -> list[tuple[str, dict]]:
        """``(key, record)`` pairs in key order."""
        return [(i, self.by_id[i]) for i in self.ids]

    def regular_ids(self) -> list[str]:
        """Sorted keys of the records that are not raw (what ``mutate`` may pick)."""
        if not self.raw:
            return self.ids
        return [i for i in self.ids if i not in self.raw]

    def regular_rows(self) -> list[dict]:
        """Records that are not raw, in insertion order."""
        if not self.raw:
            return list(self.by_id.values())
        return [r for k, r in self.by_id.items() if k not in self.raw]
