"""Persistence of a sandbox to SQLite: one row per record (JSON) plus a meta table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from sandbox.officernd.collection import to_json
from sandbox.officernd.seed import RESOURCES

#: A record and the key it is stored under (its ``_id``, or a raw record's synthetic key).
Item = tuple[str, dict]


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

    def load(self) -> tuple[dict, dict[str, list[Item]]]:
        """The meta values and, per resource, ``(key, record)`` pairs in key order."""
        meta = {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        records: dict[str, list[Item]] = {r: [] for r in RESOURCES}
        for resource, key, data in self.conn.execute(
                "SELECT resource, id, data FROM records ORDER BY id"):
            records.setdefault(resource, []).append((key, json.loads(data)))
        return meta, records

    def save_all(self, meta: dict, records: Mapping[str, list[Item]]) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM records")
            for resource, items in records.items():
                self.conn.executemany(
                    "INSERT INTO records VALUES (?, ?, ?)",
                    ((resource, k, to_json(r)) for k, r in items))
            self._meta(meta)

    def save_changes(self, meta: dict, resource: str, upserts: list[Item],
                     deletes: list[str]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                ((resource, k, to_json(r)) for k, r in upserts))
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

