"""Persistence: a :class:`HubSpotState` saved to / loaded from a SQLite file (``--state FILE``).

Only what changed since the last save is written (the state keeps dirty sets, see
``core.py``), so a write request costs O(records it touched), not O(store).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.hubspot.models.properties import PropertyDef
from sandbox.hubspot.models.records import Record

if TYPE_CHECKING:
    from sandbox.hubspot.state import HubSpotState

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (otype TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
                                    PRIMARY KEY (otype, id));
CREATE TABLE IF NOT EXISTS properties (otype TEXT NOT NULL, name TEXT NOT NULL,
                                       data TEXT NOT NULL, PRIMARY KEY (otype, name));
CREATE TABLE IF NOT EXISTS assoc (otype TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
                                  PRIMARY KEY (otype, id));
"""


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # ---- load

    def load(self, state: HubSpotState) -> None:
        with state.lock:
            cur = self.conn.cursor()
            meta = dict(cur.execute("SELECT key, value FROM meta"))
            if "next_id" in meta:
                state.next_id = int(meta["next_id"])
            if "groups" in meta:
                state.groups = json.loads(meta["groups"])
            if "redirects" in meta:
                for otype, mapping in json.loads(meta["redirects"]).items():
                    state.stores[otype].redirects = {int(k): v for k, v in mapping.items()}
            for otype, name, data in cur.execute("SELECT otype, name, data FROM properties"):
                pdef = PropertyDef.from_json(json.loads(data))
                state.properties[otype][name] = pdef
                if pdef.has_unique_value and not pdef.archived:
                    state.stores[otype].unique[name] = {}
            rows = cur.execute("SELECT otype, data FROM records ORDER BY otype, id")
            for otype, data in rows:
                d = json.loads(data)
                rec = Record(d["id"], d["props"], d["created"], d["updated"], d["archived"],
                             d.get("archived_at"))
                store = state.stores[otype]
                store.add(rec)
                state._index_add(store, rec)
            for otype, oid, data in cur.execute("SELECT otype, id, data FROM assoc"):
                links = json.loads(data)
                state.assoc[(otype, oid)] = {
                    to: {int(tid): set(types) for tid, types in targets.items()}
                    for to, targets in links.items()}
            # merged-away emails resolve to the surviving record
            for store in state.stores.values():
                for old, new in store.redirects.items():
                    rec = store.records.get(old)
                    for name, index in store.unique.items():
                        v = rec.props.get(name) if rec else None
                        if v and v not in index:
                            index[v] = new
            state.dirty_records.clear()
            state.dirty_properties.clear()
            state.dirty_assoc.clear()
            state.dirty_meta = False
            state.cleared = False

    # ---- save

    def save(self, state: HubSpotState) -> None:
        with state.lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN")
            try:
                if state.cleared:
                    for table in ("meta", "records", "properties", "assoc"):
                        cur.execute(f"DELETE FROM {table}")  # noqa: S608
                    state.cleared = False
                    state.dirty_meta = True
                if state.dirty_records:
                    rows = []
                    for otype, rid in state.dirty_records:
                        rec = state.stores[otype].records.get(rid)
                        if rec is not None:
                            rows.append((otype, rid, json.dumps(rec.dump())))
                    cur.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", rows)
                    state.dirty_records.clear()
                if state.dirty_properties:
                    rows = [(otype, name, json.dumps(state.properties[otype][name].dump()))
                            for otype, name in state.dirty_properties
                            if name in state.properties[otype]]
                    cur.executemany("INSERT OR REPLACE INTO properties VALUES (?, ?, ?)", rows)
                    state.dirty_properties.clear()
                if state.dirty_assoc:
                    for otype, oid in state.dirty_assoc:
                        links = state.assoc.get((otype, oid), {})
                        data = {to: {str(t): sorted(types) for t, types in targets.items()
                                     if types}
                                for to, targets in links.items() if targets}
                        if data:
                            cur.execute("INSERT OR REPLACE INTO assoc VALUES (?, ?, ?)",
                                        (otype, oid, json.dumps(data)))
                        else:
                            cur.execute("DELETE FROM assoc WHERE otype = ? AND id = ?",
                                        (otype, oid))
                    state.dirty_assoc.clear()
                if state.dirty_meta:
                    meta = {
                        "next_id": str(state.next_id),
                        "groups": json.dumps(state.groups),
                        "redirects": json.dumps({o: {str(k): v for k, v in s.redirects.items()}
                                                 for o, s in state.stores.items()}),
                    }
                    cur.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
                    state.dirty_meta = False
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
