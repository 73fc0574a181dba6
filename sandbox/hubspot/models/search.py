"""``POST /crm/v3/objects/{objectType}/search``: filter groups, operators, query, one sort,
offset paging capped at 10,000 results, and the optional search index lag."""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.models.errors import validation_error
from sandbox.hubspot.models.records import Record, RecordsMixin
from sandbox.hubspot.models.values import to_epoch_ms

MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
TOKEN_SPLIT = re.compile(r"[^\w*?]+")


class SearchMixin(RecordsMixin):
    """Search over the records as the (possibly lagging) search index sees them."""

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
