"""Query parameters of list and count reads: filters, ``$sort``, ``$select``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.officernd.errors import ApiError
from sandbox.officernd.seed import RESOURCES, TIMESTAMPED
from sandbox.officernd.times import fmt_ts, parse_ts

DATE_FIELDS = frozenset({"createdAt", "modifiedAt", "startDate", "endDate", "issueDate",
                         "signDate"})
FILTER_FIELDS = frozenset({
    "_id", "name", "email", "status", "company", "member", "location", "plan", "code", "contract",
    "type", "number", "isOpen", "isPublic", "calculatedStatus", "stage", "planType", "description",
    "probability", "dealSize", "price",
}) | DATE_FIELDS
#: Resources whose records have no createdAt/modifiedAt: date filters on those are ignored.
NO_TIMESTAMPS = frozenset(RESOURCES) - TIMESTAMPED
SORT_FIELDS = frozenset({
    "_id", "name", "email", "location", "company", "member", "status", "createdAt", "modifiedAt",
    "startDate", "endDate", "number", "code", "issueDate", "probability", "dealSize", "price",
    "description", "type",
})
_PARAM_RE = re.compile(r"^([A-Za-z_][\w.]*)(?:\[\$(\w+)\])?$")
#: ``properties[name]=v`` (deepObject, as the real list endpoints document), optionally with
#: an operator: ``properties[name][$in]=a,b``.
_PROPERTY_RE = re.compile(r"^properties\[([^\]$][^\]]*)\](?:\[\$(\w+)\])?$")
COMPARE_OPS = {"gt", "gte", "lt", "lte"}


@dataclass
class Sort:
    field: str
    desc: bool = False


def parse_sort(value: str) -> Sort | None:
    """``$sort``: ``name``, ``-name``, ``name:desc``, ``name desc`` or JSON ``{"name": -1}``."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("{"):
        try:
            obj = json.loads(value)
        except ValueError as exc:
            raise ApiError(400, f"invalid $sort: {value}") from exc
        if not isinstance(obj, dict) or len(obj) != 1:
            raise ApiError(400, "$sort must name exactly one field")
        field, direction = next(iter(obj.items()))
        desc = str(direction).lower() in ("-1", "desc", "descending")
    else:
        desc = value.startswith("-")
        field, _, rest = value.lstrip("-+").replace(":", " ").partition(" ")
        if rest.strip():
            desc = rest.strip().lower() in ("-1", "desc", "descending")
    if field not in SORT_FIELDS:
        raise ApiError(400, f"$sort: unsupported field {field!r}")
    return None if field == "_id" and not desc else Sort(field, desc)


def _canon_date(value: str, field: str) -> str:
    try:
        return fmt_ts(parse_ts(value))
    except ValueError as exc:
        raise ApiError(400, f"{field}: invalid date {value!r}") from exc


def _eq_matcher(field: str, raw: str) -> Callable[[Any], bool]:
    if field in DATE_FIELDS:
        want = _canon_date(raw, field) if raw not in ("", "null") else None
        return lambda v: v == want
    low = raw.lower()

    def match(v: Any) -> bool:
        if v is None:
            return low in ("null", "")
        if isinstance(v, bool):
            return v == (low == "true")
        if isinstance(v, int | float):
            try:
                return float(raw) == v
            except ValueError:
                return False
        return str(v) == raw

    return match


def _instant(value: Any) -> str | None:
    """A stored date as canonical text for comparison, or None when it is not a date.

    Seeded and stamped values are canonical already; only raw or patched values are parsed.
    """
    if not isinstance(value, str):
        return None
    if len(value) == 24 and value[10] == "T" and value[23] == "Z":
        return value
    try:
        return fmt_ts(parse_ts(value))
    except ValueError:
        return None


def _cmp_matcher(field: str, op: str, raw: str) -> Callable[[Any], bool]:
    want: Any
    if field in DATE_FIELDS:
        want = _canon_date(raw, field)
        kind: type = str
    else:
        try:
            want, kind = float(raw), float
        except ValueError as exc:
            raise ApiError(400, f"{field}[${op}]: not a number: {raw!r}") from exc

    def ok(v: Any) -> bool:
        if v is None:
            return False
        if kind is str:
            v = _instant(v)
            if v is None:  # a malformed date (raw records): served by every window
                return True
        elif isinstance(v, bool) or not isinstance(v, int | float):
            return False
        if op == "gt":
            return v > want
        if op == "gte":
            return v >= want
        if op == "lt":
            return v < want
        return v <= want

    return ok


def _custom_property(name: str) -> Callable[[dict], Any]:
    """A getter of one custom field as text (custom-field filters compare strings only)."""
    def get(rec: dict) -> Any:
        props = rec.get("properties")
        value = props.get(name) if isinstance(props, dict) else None
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value) if isinstance(value, int | float) else json.dumps(value)
    return get


def _text_matcher(op: str | None, raw: str, key: str) -> Callable[[Any], bool]:
    if op is None or op == "eq":
        return lambda v: (v is None and raw in ("", "null")) or v == raw
    if op in ("in", "nin"):
        wanted = set(raw.split(","))
        if op == "in":
            return lambda v: v in wanted
        return lambda v: v not in wanted
    if op == "ne":
        return lambda v: v != raw
    raise ApiError(400, f"{key}: unsupported operator ${op}")


def build_filter(resource: str, params: Mapping[str, str]) -> Callable[[dict], bool] | None:
    """A predicate from query parameters; None when nothing filters.

    Unknown parameters are ignored; date filters on resources without timestamps
    (plans, locations, opportunity-statuses) are ignored, as the real plans endpoint has none.
    """
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    custom: list[tuple[Callable[[dict], Any], Callable[[Any], bool]]] = []
    for key, raw in params.items():
        if key.startswith("$"):
            continue
        pm = _PROPERTY_RE.match(key)
        if pm:
            custom.append((_custom_property(pm.group(1)), _text_matcher(pm.group(2), raw, key)))
            continue
        m = _PARAM_RE.match(key)
        if not m:
            continue
        field, op = m.group(1), m.group(2)
        if field not in FILTER_FIELDS:
            continue
        if field in DATE_FIELDS and resource in NO_TIMESTAMPS and field in ("createdAt",
                                                                           "modifiedAt"):
            continue
        if op is None or op == "eq":
            checks.append((field, _eq_matcher(field, raw)))
        elif op in ("in", "nin"):
            matchers = [_eq_matcher(field, part) for part in raw.split(",")]
            if op == "in":
                checks.append((field, lambda v, ms=matchers: any(f(v) for f in ms)))
            else:
                checks.append((field, lambda v, ms=matchers: not any(f(v) for f in ms)))
        elif op == "ne":
            eq = _eq_matcher(field, raw)
            checks.append((field, lambda v, eq=eq: not eq(v)))
        elif op in COMPARE_OPS:
            checks.append((field, _cmp_matcher(field, op, raw)))
        else:
            raise ApiError(400, f"{key}: unsupported operator ${op}")
    if not checks and not custom:
        return None

    def predicate(rec: dict) -> bool:
        for field, check in checks:
            if not check(rec.get(field)):
                return False
        for get, check in custom:
            if not check(get(rec)):
                return False
        return True

    return predicate


def sort_key(rec: dict, field: str, key: str) -> tuple:
    """Order under ``$sort``: nulls, then numbers, then strings, then other JSON; ties by
    the record's key (its ``_id``), which is the tuple's last item."""
    v = rec.get(field)
    if v is None:
        return (0, 0, key)
    if isinstance(v, bool):
        return (1, int(v), key)
    if isinstance(v, int | float):
        return (1, v, key)
    if isinstance(v, str):
        return (2, v, key)
    return (3, json.dumps(v, sort_keys=True), key)


def project(rec: dict, select: list[str] | None) -> dict:
    if not select:
        return rec
    out = {"_id": rec["_id"]} if "_id" in rec else {}  # a raw record may lack one
    for f in select:
        if f in rec:
            out[f] = rec[f]
    return out



def parse_select(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [f.strip() for f in raw.split(",") if f.strip()]

