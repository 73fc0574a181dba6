"""Keyset paging of list reads: ``$limit``, ``$cursorNext`` / ``$cursorPrev`` and the page.

A cursor is url-safe base64 JSON holding the last key seen (``k``: the ``_id``, or the
sort key under ``$sort``), the 1-based offset reached (``o``), the direction (``d``) and
the sort (``s``), so records changing during a traversal never make it skip or repeat
another record.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.officernd.errors import ApiError
from sandbox.officernd.query import SORT_FIELDS, Sort, parse_select, parse_sort, project

DEFAULT_LIMIT = 50
MAX_LIMIT = 50


def encode_cursor(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def decode_cursor(text: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4)))
        if not isinstance(data, dict) or "k" not in data:
            raise ValueError
        return data
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid cursor") from exc


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"$limit must be an integer, got {raw!r}") from exc
    if limit < 1:
        raise ApiError(400, "$limit must be >= 1")
    return min(limit, MAX_LIMIT)



@dataclass
class PageRequest:
    """One list request's paging: where to start, which way, how many, in what order."""

    limit: int
    select: list[str] | None
    sort: Sort | None
    cursor: dict | None
    direction: str  # "n" (next) or "p" (previous)

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> PageRequest:
        limit = parse_limit(params.get("$limit"))
        select = parse_select(params.get("$select"))
        raw_next, raw_prev = params.get("$cursorNext"), params.get("$cursorPrev")
        cursor, direction = None, "n"
        if raw_next:
            cursor = decode_cursor(raw_next)
        elif raw_prev:
            cursor, direction = decode_cursor(raw_prev), "p"
        if cursor is not None:
            s = cursor.get("s")
            sort = Sort(s[0], bool(s[1])) if s else None
            if sort is not None and sort.field not in SORT_FIELDS:
                raise ApiError(400, "invalid cursor")
        else:
            sort = parse_sort(params.get("$sort", ""))
        return cls(limit, select, sort, cursor, direction)

    @property
    def forward(self) -> bool:
        return (self.direction == "n") != bool(self.sort and self.sort.desc)

    def scan(self, keys: list, by_id: Mapping[str, dict],
             pred: Callable[[dict], bool] | None) -> tuple[list[tuple[Any, dict]], bool]:
        """Up to ``limit`` matching records after the cursor in ``keys`` order, and whether
        there are more. ``keys`` are ids, or ``sort_key`` tuples ending with the id."""
        sort, cursor, forward = self.sort, self.cursor, self.forward
        if cursor is None:
            i = 0 if forward else len(keys) - 1
        else:
            key = cursor["k"]
            key = tuple(key) if isinstance(key, list) else key
            if (sort is None) != isinstance(key, str):
                raise ApiError(400, "invalid cursor")
            try:
                i = (bisect.bisect_right(keys, key) if forward
                     else bisect.bisect_left(keys, key) - 1)
            except TypeError as exc:
                raise ApiError(400, "invalid cursor") from exc
        step = 1 if forward else -1
        found: list[tuple[Any, dict]] = []
        n = len(keys)
        while 0 <= i < n and len(found) <= self.limit:
            k = keys[i]
            rec = by_id.get(k if sort is None else k[-1])
            if rec is not None and (pred is None or pred(rec)):
                found.append((k, rec))
            i += step
        return found[:self.limit], len(found) > self.limit

    def page(self, found: list[tuple[Any, dict]], has_more: bool) -> dict:
        """The response: ``{results, cursorNext, cursorPrev, rangeStart, rangeEnd}``."""
        cursor = self.cursor
        if self.direction == "p":
            found = found[::-1]
        offset = int(cursor.get("o", 0)) if cursor else 0
        sort_spec = [self.sort.field, int(self.sort.desc)] if self.sort else None

        def cur(k: Any, o: int, d: str) -> str:
            return encode_cursor({"k": list(k) if isinstance(k, tuple) else k, "o": max(0, o),
                                  "d": d, "s": sort_spec})

        if self.direction == "n":
            range_start = offset + 1 if found else offset
            range_end = offset + len(found)
            cursor_next = cur(found[-1][0], range_end, "n") if has_more else None
            if cursor is None:
                cursor_prev = None
            else:
                cursor_prev = cur(found[0][0] if found else cursor["k"], range_start - 1, "p")
        else:
            if has_more:
                range_end = max(offset, len(found))
                range_start = range_end - len(found) + 1
            else:
                range_start, range_end = 1, len(found)
            if not found:
                range_start = 0
            cursor_prev = cur(found[0][0], range_start - 1, "p") if has_more else None
            cursor_next = cur(found[-1][0] if found else cursor["k"], range_end, "n")
        return {"results": [project(r, self.select) for _, r in found],
                "cursorNext": cursor_next, "cursorPrev": cursor_prev,
                "rangeStart": range_start, "rangeEnd": range_end}
