"""The OfficeRnD sandbox's state: records, queries, cursors, tokens, clock, mutations.

Pure Python, no HTTP: ``api.py`` only translates requests to these calls and
:class:`ApiError` to responses.

Concurrency: every operation holds one lock. Records are copy-on-write: an update
replaces the record's dict, so dicts handed out by ``list``/``get`` never change
while they are being serialised.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import random
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox import seed as seedmod
from sandbox.seed import (
    MEMBER_STATUSES,
    RESOURCES,
    TIMESTAMPED,
    IdFactory,
    _Gen,
    add_months,
    detect_anomalies,
    fmt_ts,
    parse_ts,
    to_ms,
)

#: Read scope per resource (reference section 2).
RESOURCE_SCOPES = {
    "members": "flex.community.members.read",
    "companies": "flex.community.companies.read",
    "plans": "flex.billing.plans.read",
    "resources": "flex.space.resources.read",
    "locations": "flex.space.locations.read",
    "contracts": "flex.community.contracts.read",
    "memberships": "flex.community.memberships.read",
    "opportunities": "flex.community.opportunities.read",
    "opportunity-statuses": "flex.community.opportunityStatuses.read",
    "fees": "flex.community.fees.read",
}
#: Every read scope the sandbox grants (the ones it serves plus other documented reads).
READ_SCOPES = tuple(RESOURCE_SCOPES.values()) + (
    "flex.billing.resourceRates.read",
    "flex.space.floors.read",
    "flex.space.resourceTypes.read",
)
TOKEN_TTL_SECONDS = 3600
DEFAULT_LIMIT = 50
MAX_LIMIT = 50

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
_HEX24 = re.compile(r"^[0-9a-f]{24}$")
COMPARE_OPS = {"gt", "gte", "lt", "lte"}


class ApiError(Exception):
    """An error with an HTTP status; ``api.py`` turns it into a JSON response."""

    def __init__(self, status: int, message: str, error: str | None = None,
                 headers: dict[str, str] | None = None, body: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.headers = headers or {}
        self.body = body

    def payload(self) -> dict:
        if self.body is not None:
            return self.body
        names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                 429: "Too Many Requests"}
        return {"statusCode": self.status, "message": self.message,
                "error": self.error or names.get(self.status, "Error")}


# --------------------------------------------------------------------------- clock


class Clock:
    """Sandbox "now": anchor + real time elapsed since start/reset + explicit advances."""

    def __init__(self, anchor: datetime) -> None:
        self.anchor = anchor
        self._t0 = time.monotonic()
        self._offset = 0.0

    def now(self) -> datetime:
        return self.anchor + timedelta(seconds=time.monotonic() - self._t0 + self._offset)

    def set(self, value: datetime) -> datetime:
        self._offset = (value - self.anchor).total_seconds() - (time.monotonic() - self._t0)
        return self.now()

    def advance(self, seconds: float) -> datetime:
        self._offset += seconds
        return self.now()

    def reset(self, anchor: datetime | None = None) -> None:
        self.anchor = anchor or self.anchor
        self._t0 = time.monotonic()
        self._offset = 0.0


# --------------------------------------------------------------------------- collections


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


# --------------------------------------------------------------------------- queries


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
        if v is None or isinstance(v, bool):
            return False
        if kind is float and not isinstance(v, int | float):
            return False
        if kind is str and not isinstance(v, str):
            return False
        if op == "gt":
            return v > want
        if op == "gte":
            return v >= want
        if op == "lt":
            return v < want
        return v <= want

    return ok


def build_filter(resource: str, params: Mapping[str, str]) -> Callable[[dict], bool] | None:
    """A predicate from query parameters; None when nothing filters.

    Unknown parameters are ignored; date filters on resources without timestamps
    (plans, locations, opportunity-statuses) are ignored, as the real plans endpoint has none.
    """
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    for key, raw in params.items():
        if key.startswith("$"):
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
    if not checks:
        return None

    def predicate(rec: dict) -> bool:
        for field, check in checks:
            if not check(rec.get(field)):
                return False
        return True

    return predicate


def sort_key(rec: dict, field: str) -> tuple:
    v = rec.get(field)
    if v is None:
        return (0, 0, rec["_id"])
    if isinstance(v, bool):
        return (1, int(v), rec["_id"])
    if isinstance(v, int | float):
        return (1, v, rec["_id"])
    if isinstance(v, str):
        return (2, v, rec["_id"])
    return (3, json.dumps(v, sort_keys=True), rec["_id"])


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


def project(rec: dict, select: list[str] | None) -> dict:
    if not select:
        return rec
    out = {"_id": rec["_id"]}
    for f in select:
        if f in rec:
            out[f] = rec[f]
    return out


# --------------------------------------------------------------------------- persistence


class SqliteStore:
    """Persist a sandbox to SQLite: one row per record (JSON) plus a meta table."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False)
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS records (resource TEXT, id TEXT, data TEXT,"
                          " PRIMARY KEY (resource, id))")
        self.conn.commit()

    def has_data(self) -> bool:
        return self.conn.execute("SELECT count(*) FROM meta").fetchone()[0] > 0

    def load(self) -> tuple[dict, dict[str, list[dict]]]:
        meta = {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        records: dict[str, list[dict]] = {r: [] for r in RESOURCES}
        for resource, data in self.conn.execute("SELECT resource, data FROM records ORDER BY id"):
            records.setdefault(resource, []).append(json.loads(data))
        return meta, records

    def save_all(self, meta: dict, records: Mapping[str, list[dict]]) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM records")
            for resource, rows in records.items():
                self.conn.executemany(
                    "INSERT INTO records VALUES (?, ?, ?)",
                    ((resource, r["_id"], json.dumps(r, ensure_ascii=False)) for r in rows))
            self._meta(meta)

    def save_changes(self, meta: dict, resource: str, upserts: list[dict],
                     deletes: list[str]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                ((resource, r["_id"], json.dumps(r, ensure_ascii=False)) for r in upserts))
            self.conn.executemany("DELETE FROM records WHERE resource = ? AND id = ?",
                                  ((resource, i) for i in deletes))
            self._meta(meta)

    def save_meta(self, meta: dict) -> None:
        with self.conn:
            self._meta(meta)

    def _meta(self, meta: dict) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                              ((k, json.dumps(v)) for k, v in meta.items()))

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------- state


@dataclass
class Token:
    scopes: frozenset[str]
    expires: float  # time.monotonic()


class State:
    """All of one sandbox's data and rules."""

    def __init__(self, seed: int = 42, scale: int = 500, anchor: datetime | None = None,
                 client_id: str = "sandbox-client", client_secret: str = "sandbox-secret",
                 org: str = "sandbox", state_file: str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.org = org
        self.tokens: dict[str, Token] = {}
        self._sorted: dict[tuple[str, str], tuple[int, list[tuple]]] = {}
        self._anomaly_cache: tuple[tuple, dict] | None = None
        self.store = SqliteStore(state_file) if state_file else None
        if self.store is not None and self.store.has_data():
            meta, records = self.store.load()
            self.seed, self.scale = meta["seed"], meta["scale"]
            self.seed_anchor = parse_ts(meta["anchor"])
            self._load(records, meta["id_middle"], meta["id_counter"])
            resume = parse_ts(meta.get("clock_now", meta["anchor"]))
            start = max(resume, anchor.astimezone(UTC) if anchor else datetime.now(UTC))
            self.clock = Clock(self.seed_anchor)
            self.clock.set(start)
            self._mut_rng = random.Random(f"{self.seed}:mutations:{meta['id_counter']}")
        else:
            self.seed, self.scale = seed, scale
            self._seed_fresh(anchor)
            if self.store is not None:
                self._save_all()

    # lifecycle ----------------------------------------------------------------
    def _seed_fresh(self, anchor: datetime | None) -> None:
        dataset = seedmod.generate(self.seed, self.scale, anchor)
        self.seed_anchor = dataset.anchor
        self._load(dataset.records, dataset.id_middle, dataset.id_counter)
        self.clock = Clock(dataset.anchor)
        self._mut_rng = random.Random(f"{self.seed}:mutations")

    def _load(self, records: Mapping[str, list[dict]], id_middle: str, id_counter: int) -> None:
        self.collections = {r: Collection(list(records.get(r, []))) for r in RESOURCES}
        self.ids = IdFactory(random.Random(0), counter=id_counter, middle=id_middle)
        self._sorted.clear()
        self._anomaly_cache = None

    def reset(self) -> None:
        """Back to the freshly seeded data and clock (tokens stay valid)."""
        with self.lock:
            self._seed_fresh(self.seed_anchor)
            if self.store is not None:
                self._save_all()

    def _meta(self) -> dict:
        return {"seed": self.seed, "scale": self.scale, "anchor": fmt_ts(self.seed_anchor),
                "id_middle": self.ids.middle, "id_counter": self.ids.counter,
                "clock_now": fmt_ts(self.clock.now())}

    def _save_all(self) -> None:
        assert self.store is not None
        self.store.save_all(self._meta(), {r: c.rows() for r, c in self.collections.items()})

    def _persist(self, resource: str, upserts: list[dict], deletes: list[str]) -> None:
        if self.store is not None:
            self.store.save_changes(self._meta(), resource, upserts, deletes)

    def close(self) -> None:
        if self.store is not None:
            with self.lock:
                self.store.save_meta(self._meta())
                self.store.close()
                self.store = None

    # clock ----------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def now_str(self) -> str:
        return fmt_ts(self.clock.now())

    def set_clock(self, value: datetime | str) -> str:
        if isinstance(value, str):
            value = parse_ts(value)
        elif value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        with self.lock:
            self.clock.set(value.astimezone(UTC))
            if self.store is not None:
                self.store.save_meta(self._meta())
            return self.now_str()

    def advance_clock(self, seconds: float) -> str:
        with self.lock:
            self.clock.advance(float(seconds))
            if self.store is not None:
                self.store.save_meta(self._meta())
            return self.now_str()

    # auth -----------------------------------------------------------------------
    def issue_token(self, client_id: str | None, client_secret: str | None,
                    grant_type: str | None, scope: str | None) -> dict:
        def oauth_error(status: int, error: str, description: str) -> ApiError:
            return ApiError(status, description, error,
                            body={"error": error, "error_description": description})

        if client_id != self.client_id or client_secret != self.client_secret:
            raise oauth_error(401, "invalid_client", "Client authentication failed")
        if grant_type != "client_credentials":
            raise oauth_error(400, "unsupported_grant_type",
                              "Only grant_type=client_credentials is supported")
        requested = [s for s in (scope or "").split() if s]
        unknown = [s for s in requested if s not in READ_SCOPES]
        if unknown:
            raise oauth_error(400, "invalid_scope",
                              f"Scope not granted to this read-only application: {' '.join(unknown)}")
        granted = list(dict.fromkeys(requested)) or list(READ_SCOPES)
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            self.tokens = {k: t for k, t in self.tokens.items() if t.expires > now}
            self.tokens[token] = Token(frozenset(granted), now + TOKEN_TTL_SECONDS)
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": TOKEN_TTL_SECONDS - 1, "scope": " ".join(granted)}

    def authenticate(self, authorization: str | None) -> Token:
        if not authorization:
            raise ApiError(401, "Missing bearer token")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "Invalid authorization header")
        tok = self.tokens.get(value.strip())
        if tok is None:
            raise ApiError(401, "Invalid token")
        if tok.expires <= time.monotonic():
            raise ApiError(401, "Token expired")
        return tok

    def authorize(self, token: Token, resource: str) -> None:
        scope = RESOURCE_SCOPES[resource]
        if scope not in token.scopes:
            raise ApiError(403, f"Insufficient scope: {scope} required")

    def expire_tokens(self) -> int:
        """Make every issued token expired (tests of the 401 refresh path)."""
        with self.lock:
            now = time.monotonic()
            for tok in self.tokens.values():
                tok.expires = now - 1
            return len(self.tokens)

    # reads ----------------------------------------------------------------------
    def check_org(self, slug: str) -> None:
        if slug != self.org:
            raise ApiError(404, f"Organization {slug!r} not found")

    def coll(self, resource: str) -> Collection:
        try:
            return self.collections[resource]
        except KeyError:
            raise ApiError(404, f"Cannot GET resource {resource!r}") from None

    def get(self, resource: str, rid: str, select: str | None = None) -> dict:
        with self.lock:
            rec = self.coll(resource).by_id.get(rid)
        if rec is None:
            raise ApiError(404, f"{resource} {rid} not found")
        return project(rec, _parse_select(select))

    def _ordering(self, resource: str, sort: Sort | None) -> list:
        coll = self.coll(resource)
        if sort is None:
            return coll.ids
        cache_key = (resource, sort.field)
        cached = self._sorted.get(cache_key)
        if cached is not None and cached[0] == coll.version:
            return cached[1]
        keys = sorted(sort_key(r, sort.field) for r in coll.by_id.values())
        self._sorted[cache_key] = (coll.version, keys)
        return keys

    def list(self, resource: str, params: Mapping[str, str]) -> dict:
        """One page: ``{results, cursorNext, cursorPrev, rangeStart, rangeEnd}``."""
        limit = parse_limit(params.get("$limit"))
        select = _parse_select(params.get("$select"))
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
        pred = build_filter(resource, params)
        with self.lock:
            coll = self.coll(resource)
            keys = self._ordering(resource, sort)
            desc = bool(sort and sort.desc)
            forward = (direction == "n") != desc
            if cursor is None:
                i = 0 if forward else len(keys) - 1
            else:
                key = cursor["k"]
                key = tuple(key) if isinstance(key, list) else key
                if (sort is None) != isinstance(key, str):
                    raise ApiError(400, "invalid cursor")
                try:
                    i = bisect.bisect_right(keys, key) if forward else bisect.bisect_left(keys, key) - 1
                except TypeError as exc:
                    raise ApiError(400, "invalid cursor") from exc
            step = 1 if forward else -1
            found: list[tuple[Any, dict]] = []
            by_id = coll.by_id
            n = len(keys)
            while 0 <= i < n and len(found) <= limit:
                k = keys[i]
                rec = by_id.get(k if sort is None else k[2])
                if rec is not None and (pred is None or pred(rec)):
                    found.append((k, rec))
                i += step
        has_more = len(found) > limit
        found = found[:limit]
        if direction == "p":
            found.reverse()
        offset = int(cursor.get("o", 0)) if cursor else 0
        sort_spec = [sort.field, int(sort.desc)] if sort else None

        def cur(k: Any, o: int, d: str) -> str:
            return encode_cursor({"k": list(k) if isinstance(k, tuple) else k, "o": max(0, o),
                                  "d": d, "s": sort_spec})

        if direction == "n":
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
        return {"results": [project(r, select) for _, r in found], "cursorNext": cursor_next,
                "cursorPrev": cursor_prev, "rangeStart": range_start, "rangeEnd": range_end}

    def count(self, resource: str, params: Mapping[str, str]) -> dict:
        pred = build_filter(resource, params)
        count_by = params.get("$countBy")
        with self.lock:
            rows = list(self.coll(resource).by_id.values())
        total = 0
        groups: dict[Any, int] = {}
        for rec in rows:
            if pred is None or pred(rec):
                total += 1
                if count_by:
                    v = rec.get(count_by)
                    key = v if v is None or isinstance(v, str) else json.dumps(v)
                    groups[key] = groups.get(key, 0) + 1
        ordered = sorted(groups.items(), key=lambda kv: (-kv[1], str(kv[0])))
        return {"total": total, "groups": [{"key": k, "count": c} for k, c in ordered]}

    def record_counts(self) -> dict[str, int]:
        with self.lock:
            return {r: len(c.ids) for r, c in self.collections.items()}

    def records(self, resource: str) -> list[dict]:
        """All records of a resource in ``_id`` order (for tests and tools)."""
        with self.lock:
            return self.coll(resource).rows()

    def anomalies(self) -> dict[str, dict[str, list[str]]]:
        with self.lock:
            versions = tuple(c.version for c in self.collections.values())
            if self._anomaly_cache is not None and self._anomaly_cache[0] == versions:
                return self._anomaly_cache[1]
            result = detect_anomalies({r: c.rows() for r, c in self.collections.items()})
            self._anomaly_cache = (versions, result)
            return result

    # writes ---------------------------------------------------------------------
    def _stamp(self, resource: str, rec: dict, now: str) -> None:
        if resource in TIMESTAMPED:
            rec["modifiedAt"] = now
            rec["modifiedBy"] = seedmod.ADMIN_USER

    def patch_record(self, resource: str, rid: str, fields: Mapping[str, Any]) -> dict:
        """Set top-level fields of one record (whole values replaced) and stamp modifiedAt."""
        with self.lock:
            coll = self.coll(resource)
            old = coll.by_id.get(rid)
            if old is None:
                raise ApiError(404, f"{resource} {rid} not found")
            if "_id" in fields and fields["_id"] != rid:
                raise ApiError(400, "_id cannot be changed")
            rec = {**old, **fields}
            if "modifiedAt" not in fields:
                self._stamp(resource, rec, self.now_str())
            coll.put(rec)
            self._persist(resource, [rec], [])
            return rec

    def insert_record(self, resource: str, fields: Mapping[str, Any]) -> dict:
        """Insert one record; ``_id`` and (where the resource has them) timestamps are filled."""
        with self.lock:
            coll = self.coll(resource)
            now = self.clock.now()
            rid = fields.get("_id") or self.ids.new(to_ms(now))
            if not isinstance(rid, str) or not _HEX24.match(rid):
                raise ApiError(400, "_id must be 24 lower-case hex characters")
            if rid in coll.by_id:
                raise ApiError(400, f"{resource} {rid} already exists")
            rec: dict[str, Any] = {"properties": {}, "_id": rid}
            rec.update({k: v for k, v in fields.items() if k != "_id"})
            if resource in TIMESTAMPED:
                rec.setdefault("createdAt", fmt_ts(now))
                rec.setdefault("createdBy", seedmod.ADMIN_USER)
                rec.setdefault("modifiedAt", rec["createdAt"])
                rec.setdefault("modifiedBy", seedmod.ADMIN_USER)
            coll.put(rec)
            self._persist(resource, [rec], [])
            return rec

    def delete_record(self, resource: str, rid: str) -> None:
        with self.lock:
            coll = self.coll(resource)
            if rid not in coll.by_id:
                raise ApiError(404, f"{resource} {rid} not found")
            coll.remove(rid)
            self._persist(resource, [], [rid])

    def mutate(self, resource: str = "members", update: int = 0, create: int = 0,
               delete: int = 0, seed: int | None = None) -> dict[str, list[str]]:
        """Change records the way users do; returns the affected ids."""
        for name, n in (("update", update), ("create", create), ("delete", delete)):
            if not isinstance(n, int) or n < 0:
                raise ApiError(400, f"{name} must be a non-negative integer")
        with self.lock:
            coll = self.coll(resource)
            rng = random.Random(seed) if seed is not None else self._mut_rng
            now_dt = self.clock.now()
            now = fmt_ts(now_dt)
            ctx = _MutationContext(self, rng, now_dt)
            updated = rng.sample(coll.ids, min(update, len(coll.ids)))
            upserts = []
            for rid in updated:
                rec = dict(coll.by_id[rid])
                ctx.update(resource, rec)
                self._stamp(resource, rec, now)
                coll.put(rec)
                upserts.append(rec)
            created = []
            for _ in range(create):
                rec = ctx.create(resource)
                coll.put(rec)
                upserts.append(rec)
                created.append(rec["_id"])
            touched = set(updated) | set(created)
            candidates = [i for i in coll.ids if i not in touched] if delete else []
            deleted = rng.sample(candidates, min(delete, len(candidates)))
            for rid in deleted:
                coll.remove(rid)
            self._persist(resource, upserts, deleted)
            return {"updated": updated, "created": created, "deleted": deleted}


def _parse_select(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [f.strip() for f in raw.split(",") if f.strip()]


class _MutationContext:
    """Builds realistic changes and new records for :meth:`State.mutate`."""

    def __init__(self, state: State, rng: random.Random, now: datetime) -> None:
        self.state = state
        self.rng = rng
        self.now = now
        self.gen = _Gen(rng, state.ids, now)
        self._emails_loaded = False

    def _rows(self, resource: str) -> list[dict]:
        return list(self.state.collections[resource].by_id.values())

    def _pick(self, resource: str) -> dict | None:
        coll = self.state.collections[resource]
        return coll.by_id[self.rng.choice(coll.ids)] if coll.ids else None

    def _location(self) -> tuple[str, tuple]:
        loc = self._pick("locations")
        if loc is None:
            return "", ("", "", "UTC", "", "", "1 Main St", "")
        a = loc.get("address") or {}
        return loc["_id"], (loc.get("name"), loc.get("code"), loc.get("timezone"),
                            a.get("country"), a.get("city"), a.get("street") or "1 Main St",
                            a.get("zip"))

    def _load_emails(self) -> None:
        if not self._emails_loaded:
            self.gen.taken_emails = {m["email"] for m in self._rows("members")
                                     if isinstance(m.get("email"), str)}
            self._emails_loaded = True

    def _email(self, name: str, domain: str) -> str:
        self._load_emails()
        return self.gen.email_for(name, domain)

    def _fresh(self, rec: dict) -> dict:
        now_ms = to_ms(self.now)
        rec["_id"] = self.state.ids.new(now_ms)
        rec["createdAt"] = rec["modifiedAt"] = fmt_ts(now_ms)
        return rec

    # creates ---------------------------------------------------------------
    def create(self, resource: str) -> dict:
        rng, gen = self.rng, self.gen
        if resource == "members":
            company = self._pick("companies") if rng.random() < 0.8 else None
            loc_id, loc = self._location()
            if company is not None and company.get("location"):
                loc_id = company["location"]
            self._load_emails()
            rec = gen.member(loc_id, loc, company if company and company.get("url") else None)
            if company is not None:
                rec["company"] = company["_id"]
            return self._fresh(rec)
        if resource == "companies":
            loc_id, loc = self._location()
            return self._fresh(gen.company(loc_id, loc))
        if resource == "resources":
            loc_id, loc = self._location()
            return self._fresh(gen.resource(loc_id, loc[1] or "LOC", rng.randint(100, 999)))
        if resource == "contracts":
            company = self._pick("companies")
            members = [m for m in self._rows("members")
                       if company is not None and m.get("company") == company["_id"]]
            plans = [p for p in self._rows("plans") if p.get("intervalLength") == "month"
                     and isinstance(p.get("price"), int | float)]
            numbers = [int(c["number"][4:]) for c in self._rows("contracts")
                       if str(c.get("number", "")).startswith("CON-") and c["number"][4:].isdigit()]
            rec = gen.contract(max(numbers, default=0) + 1, company,
                               rng.choice(members) if members else None,
                               (company or {}).get("location") or self._location()[0], plans)
            return self._fresh(rec)
        if resource == "opportunities":
            statuses = self._rows("opportunity-statuses")
            company = self._pick("companies")
            rec = gen.opportunity(rng.choice(statuses), company, None,
                                  self._rows("resources")[:50], self._rows("plans"))
            return self._fresh(rec)
        if resource == "memberships":
            member = self._pick("members")
            plan = self._pick("plans")
            if member is None or plan is None:
                raise ApiError(400, "memberships need members and plans")
            rec = gen.membership(plan, None, member, member.get("location"), None, None)
            return self._fresh(rec)
        if resource == "fees":
            member = self._pick("members")
            plan = self._pick("plans")
            if member is None or plan is None:
                raise ApiError(400, "fees need members and plans")
            return self._fresh(gen.fee(None, member, member.get("location"), plan))
        if resource == "plans":
            n = rng.randint(100, 999)
            return {"properties": {}, "_id": self.state.ids.new(to_ms(self.now)),
                    "name": f"Promo Plan {n}", "description": None, "code": f"PROMO-{n}",
                    "type": rng.choice(("desk", "hotdesk", "service")),
                    "price": float(rng.choice((99, 149, 199))), "deposit": 0,
                    "depositPercent": 0, "useDepositPercent": False, "locations": [],
                    "intervalLength": "month", "intervalCount": 1, "revenueAccount": None,
                    "shouldProrate": True, "requiresApproval": False}
        raise ApiError(400, f"create is not supported for {resource}")

    # updates ---------------------------------------------------------------
    def update(self, resource: str, rec: dict) -> None:
        rng, gen = self.rng, self.gen
        if resource == "members":
            for what in rng.sample(("name", "email", "phone", "status"), k=rng.choice((1, 1, 2))):
                if what == "name":
                    rec["name"] = gen.person_name(rng.choice(("plain", "plain", "unicode")))
                elif what == "email":
                    domain = (rec.get("email") or "").partition("@")[2].strip() or "example.com"
                    rec["email"] = self._email(rec.get("name") or "member", domain.lower())
                elif what == "phone":
                    rec["phone"] = gen.phone() if rng.random() < 0.9 else None
                else:
                    choices = [s for s, _ in MEMBER_STATUSES if s != rec.get("status")]
                    rec["status"] = rng.choice(choices)
        elif resource == "companies":
            what = rng.choice(("name", "url", "description", "status"))
            if what == "name":
                rec["name"] = f"{rec.get('name') or 'Company'} {rng.choice(('Group', 'Holdings', 'International', 'Labs'))}"
            elif what == "url":
                rec["url"] = f"https://www.{str(rec.get('name') or 'co').split()[0].lower()}{rng.randrange(10, 10**5)}.com"
            elif what == "description":
                rec["description"] = f"Updated profile ({rng.randrange(1000)})"
            else:
                rec["status"] = rng.choice([s for s in ("active", "former", "inactive", "pending")
                                            if s != rec.get("status")])
        elif resource == "contracts":
            self._update_contract(rec)
        elif resource == "opportunities":
            what = rng.choice(("status", "dealSize", "probability"))
            if what == "status":
                statuses = [s for s in self._rows("opportunity-statuses")
                            if s["_id"] != rec.get("status")]
                if statuses:
                    st = rng.choice(statuses)
                    rec["status"], rec["probability"] = st["_id"], st.get("probability")
            elif what == "dealSize":
                rec["dealSize"] = round(rng.uniform(300, 60000), 2)
            else:
                rec["probability"] = rng.choice((10, 25, 40, 60, 75, 90))
        elif resource in ("plans", "resources"):
            if rng.random() < 0.5:
                price = rec.get("price")
                base = price if isinstance(price, int | float) and not isinstance(price, bool) else 100.0
                rec["price"] = round(base * rng.choice((0.9, 1.05, 1.1)), 2)
            else:
                rec["name"] = f"{str(rec.get('name') or '').split(' (')[0]} ({rng.choice(('new', 'renovated', '2.0', 'promo'))})"
        elif resource == "memberships":
            rec["price"] = rec["discountedPrice"] = round(rng.uniform(50, 900), 2)
        elif resource == "fees":
            rec["quantity"] = rng.randint(1, 9)
        elif resource == "locations":
            rec["isOpen"] = not rec.get("isOpen", True)
        elif resource == "opportunity-statuses":
            rec["probability"] = max(0, min(100, int(rec.get("probability") or 0) + rng.choice((-5, 5))))

    def _update_contract(self, rec: dict) -> None:
        rng = self.rng
        entries = [dict(e) for e in rec.get("plans") or []]
        what = rng.choice(("end", "plans", "plans"))
        if what == "end" or not entries:
            end = rec.get("endDate")
            try:
                base = parse_ts(end) if end else parse_ts(rec["startDate"])
                rec["endDate"] = fmt_ts(add_months(base, rng.choice((6, 12))))
            except (ValueError, KeyError, TypeError):
                rec["endDate"] = fmt_ts(add_months(self.now.replace(hour=0, minute=0, second=0,
                                                                    microsecond=0), 12))
            rec["isRolling"] = False
        if entries and what == "plans":
            action = rng.choice(("count", "price", "add"))
            e = rng.choice(entries)
            if action == "count":
                e["count"] = max(1, int(e.get("count") or 1) + rng.choice((-1, 1, 2)))
            elif action == "price":
                e["price"] = round(float(e.get("price") or 0) * rng.choice((0.95, 1.05, 1.1)), 2)
                e["steps"] = [{**s, "price": e["price"]} for s in e.get("steps") or []]
            else:
                plans = [p for p in self._rows("plans") if p.get("intervalLength") == "month"
                         and isinstance(p.get("price"), int | float)]
                if plans:
                    p = rng.choice(plans)
                    entries.append({"id": p["_id"], "count": 1, "price": p["price"], "deposit": 0,
                                    "increasePriceInRolling": False,
                                    "steps": [{"price": p["price"], "discount": None,
                                               "discountedAmount": 0,
                                               "startDate": rec.get("startDate"),
                                               "endDate": rec.get("endDate")}]})
        rec["plans"] = entries
        base_total = round(sum((e.get("count") or 0) * (e.get("price") or 0) for e in entries), 2)
        rec["baseTotal"] = rec["plansTotal"] = base_total
        rec["total"] = round(base_total * 1.2, 2)
