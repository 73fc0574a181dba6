"""The OfficeRnD sandbox's state: records, reads, the clock, writes.

Pure Python, no HTTP: ``api.py`` only translates requests to these calls, and the app's
one exception handler turns :class:`ApiError` into responses. The parts live in their own
modules: ``seed`` (the generated data), ``query`` and ``paging`` (reads), ``auth``
(tokens), ``mutations`` (user-like changes), ``store`` (SQLite persistence), ``times``.

Concurrency: every operation holds one lock. Records are copy-on-write: an update
replaces the record's dict, so dicts handed out by ``list``/``get`` never change
while they are being serialised.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.officernd.auth import Token, Tokens
from sandbox.officernd.collection import Collection
from sandbox.officernd.errors import ApiError
from sandbox.officernd.mutations import Mutator
from sandbox.officernd.paging import PageRequest
from sandbox.officernd.query import Sort, build_filter, parse_select, project, sort_key
from sandbox.officernd.seed import (
    ADMIN_USER,
    RESOURCES,
    TIMESTAMPED,
    IdFactory,
    detect_anomalies,
    generate,
)
from sandbox.officernd.store import Item, SqliteStore
from sandbox.officernd.times import Clock, fmt_ts, parse_ts, to_ms
from sandbox.officernd.writes import API_USER, WRITABLE, apply_body, check_body

_HEX24 = re.compile(r"^[0-9a-f]{24}$")


class State:
    """All of one sandbox's data and rules."""

    def __init__(self, seed: int = 42, scale: int = 500, anchor: datetime | None = None,
                 client_id: str = "sandbox-client", client_secret: str = "sandbox-secret",
                 org: str = "sandbox", state_file: str | Path | None = None,
                 write_access: bool = True) -> None:
        self.lock = threading.RLock()
        self.org = org
        self.auth = Tokens(client_id, client_secret, write_access)
        # API writes by resource and outcome (created / updated / refused), for /_sandbox/stats
        self.write_counts: dict[str, dict[str, int]] = {}
        self._sorted: dict[tuple[str, str], tuple[int, list[tuple]]] = {}
        self._anomaly_cache: tuple[tuple, dict] | None = None
        self.store = SqliteStore(state_file) if state_file else None
        if self.store is not None and self.store.has_data():
            meta, records = self.store.load()
            self.seed, self.scale = meta["seed"], meta["scale"]
            self.seed_anchor = parse_ts(meta["anchor"])
            self._load(records, meta["id_middle"], meta["id_counter"], meta.get("raw", {}))
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
        dataset = generate(self.seed, self.scale, anchor)
        self.seed_anchor = dataset.anchor
        self._load({r: [(rec["_id"], rec) for rec in rows]
                    for r, rows in dataset.records.items()},
                   dataset.id_middle, dataset.id_counter)
        self.clock = Clock(dataset.anchor)
        self._mut_rng = random.Random(f"{self.seed}:mutations")

    def _load(self, records: Mapping[str, list[Item]], id_middle: str, id_counter: int,
              raw: Mapping[str, list[str]] | None = None) -> None:
        raw = raw or {}
        self.collections = {r: Collection(records.get(r, []), raw.get(r, ()))
                            for r in RESOURCES}
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
                "clock_now": fmt_ts(self.clock.now()),
                "raw": {r: sorted(c.raw) for r, c in self.collections.items() if c.raw}}

    def _save_all(self) -> None:
        assert self.store is not None
        self.store.save_all(self._meta(), {r: c.items() for r, c in self.collections.items()})

    def _persist(self, resource: str, upserts: list[Item], deletes: list[str]) -> None:
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
    @property
    def tokens(self) -> dict[str, Token]:
        """Issued tokens by value."""
        return self.auth.issued

    def expire_tokens(self) -> int:
        """Make every issued token expired (tests of the 401 refresh path)."""
        return self.auth.expire()

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
        return project(rec, parse_select(select))

    def _ordering(self, resource: str, sort: Sort | None) -> list:
        coll = self.coll(resource)
        if sort is None:
            return coll.ids
        cache_key = (resource, sort.field)
        cached = self._sorted.get(cache_key)
        if cached is not None and cached[0] == coll.version:
            return cached[1]
        keys = sorted(sort_key(r, sort.field, k) for k, r in coll.by_id.items())
        self._sorted[cache_key] = (coll.version, keys)
        return keys

    def list(self, resource: str, params: Mapping[str, str]) -> dict:
        """One page: ``{results, cursorNext, cursorPrev, rangeStart, rangeEnd}``."""
        request = PageRequest.parse(params)
        pred = build_filter(resource, params)
        with self.lock:
            keys = self._ordering(resource, request.sort)
            found, has_more = request.scan(keys, self.coll(resource).by_id, pred)
        return request.page(found, has_more)

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
            rec["modifiedBy"] = ADMIN_USER

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
            coll.put(rec, rid)
            self._persist(resource, [(rid, rec)], [])
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
                rec.setdefault("createdBy", ADMIN_USER)
                rec.setdefault("modifiedAt", rec["createdAt"])
                rec.setdefault("modifiedBy", ADMIN_USER)
            coll.put(rec)
            self._persist(resource, [(rid, rec)], [])
            return rec

    # writes of the public API (rules in writes.py) ---------------------------------
    def check_writable(self, resource: str, method: str) -> None:
        if resource not in WRITABLE:
            raise ApiError(404, f"Cannot {method} resource {resource!r}")

    def _count_write(self, resource: str, outcome: str) -> None:
        counts = self.write_counts.setdefault(resource, {})
        counts[outcome] = counts.get(outcome, 0) + 1

    def api_create(self, resource: str, body: Mapping[str, Any]) -> dict:
        """``POST /{resource}``: validate, fill ``_id`` and the timestamps; the new record."""
        with self.lock:
            try:
                check_body(self, resource, body, None)
            except ApiError:
                self._count_write(resource, "refused")
                raise
            now = self.clock.now()
            rec = apply_body(self, resource, body, None)
            rid = self.ids.new(to_ms(now))
            stamp = fmt_ts(now)
            rec = {"properties": rec.pop("properties", {}), "_id": rid, **rec,
                   "createdAt": stamp, "createdBy": API_USER,
                   "modifiedAt": stamp, "modifiedBy": API_USER}
            self.coll(resource).put(rec)
            self._persist(resource, [(rid, rec)], [])
            self._count_write(resource, "created")
            return rec

    def api_update(self, resource: str, rid: str, body: Mapping[str, Any]) -> dict:
        """``PUT|PATCH /{resource}/{id}``: only the fields passed change; ``modifiedAt`` is
        stamped with the sandbox clock on every accepted write (as Mongoose timestamps do)."""
        with self.lock:
            coll = self.coll(resource)
            old = coll.by_id.get(rid)
            if old is None:
                self._count_write(resource, "refused")
                raise ApiError(404, f"{resource} {rid} not found")
            try:
                check_body(self, resource, body, old)
            except ApiError:
                self._count_write(resource, "refused")
                raise
            rec = apply_body(self, resource, body, old)
            rec["modifiedAt"] = self.now_str()
            rec["modifiedBy"] = API_USER
            coll.put(rec, rid)
            self._persist(resource, [(rid, rec)], [])
            self._count_write(resource, "updated")
            return rec

    def insert_raw(self, resource: str, records: list[dict]) -> list[str]:
        """Store records exactly as given: no validation, no ids or timestamps filled.

        For tests of malformed data the real API can send (a null or over-long ``_id``, a
        malformed ``modifiedAt``, control characters, an object where a string belongs).
        Returns each record's key (its ``_id``, or ``~raw-<n>`` when that is not a string).
        """
        with self.lock:
            coll = self.coll(resource)
            items = [(coll.put_raw(rec), rec) for rec in records]
            self._persist(resource, items, [])
            return [key for key, _ in items]

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
            ctx = Mutator(self, rng, now_dt)
            pool = coll.regular_ids()  # raw records keep the values a test planted
            updated = rng.sample(pool, min(update, len(pool)))
            upserts = []
            for rid in updated:
                rec = dict(coll.by_id[rid])
                ctx.update(resource, rec)
                self._stamp(resource, rec, now)
                upserts.append((coll.put(rec), rec))
            created = []
            for _ in range(create):
                rec = ctx.create(resource)
                upserts.append((coll.put(rec), rec))
                created.append(rec["_id"])
            touched = set(updated) | set(created)
            candidates = ([i for i in coll.regular_ids() if i not in touched]
                          if delete else [])
            deleted = rng.sample(candidates, min(delete, len(candidates)))
            for rid in deleted:
                coll.remove(rid)
            self._persist(resource, upserts, deleted)
            return {"updated": updated, "created": created, "deleted": deleted}

