"""The warehouse tables as SQLAlchemy Core declares them: what the code reads and writes.

Alembic revisions under ``migrations/versions`` bring a database to this shape; a test
checks that the head revision and these declarations agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    true,
)
from sqlalchemy.types import TypeDecorator

from hubspot_sync.records import DELTA_COLUMNS, LOAD_OUTCOME_COLUMNS
from hubspot_sync.values import as_utc

KEY_LENGTH = 255  # longest entity, run id, source / HubSpot id or short code a column holds
KEY = String(KEY_LENGTH)

RUN_STATUSES = ("running", "success", "failed")
COUNT_KEYS = ("extracted", "created", "updated", "unchanged", "skipped", "rejected", "failed",
              "api_calls")


class UTCDateTime(TypeDecorator):
    """DateTime(timezone=True) that always binds and returns aware UTC datetimes.

    Naive input is taken as UTC; ISO strings and dates are accepted. SQLite stores the
    UTC wall time without an offset, PostgreSQL a timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        value = as_utc(value)
        if value is not None and dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        return as_utc(value)


ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_JSON = JSON(none_as_null=True)


def _run_keyed(name: str, metadata: MetaData, *columns: Column | Index) -> Table:
    return Table(
        name, metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("run_id", KEY, nullable=False),
        *columns,
        Index(f"ix_{name}_entity_run", "entity", "run_id"),
    )


def build_tables(metadata: MetaData) -> dict[str, Table]:
    """Declare every warehouse table on ``metadata``; returns them by name."""
    sync_runs = Table(
        "sync_runs", metadata,
        Column("entity", KEY, primary_key=True),
        Column("run_id", KEY, primary_key=True),
        Column("started_at", UTCDateTime, nullable=False),
        Column("finished_at", UTCDateTime),
        Column("status", String(16), nullable=False),
        Column("window_start", UTCDateTime),
        Column("window_end", UTCDateTime),
        Column("full_refresh", Boolean, nullable=False, default=False),
        Column("dry_run", Boolean, nullable=False, default=False),
        *[Column(k, Integer, nullable=False, default=0) for k in COUNT_KEYS],
        Column("details", _JSON),
        Index("ix_sync_runs_entity_status_end", "entity", "status", "window_end"),
        Index("ix_sync_runs_started", "started_at"),
        # revision 0005: the sync-health view reads an entity's runs newest first
        Index("ix_sync_runs_entity_started", "entity", "started_at"),
    )
    source_snapshot = _run_keyed(
        "source_snapshot", metadata,
        Column("source_id", KEY),
        Column("changed_at", UTCDateTime),
        Column("properties", _JSON),
        Column("links", _JSON),
        Column("skip_reason", Text),
        Column("problems", _JSON),
        Column("raw", _JSON),
        # revision 0003: a record's latest snapshot row (latest_links)
        Index("ix_source_snapshot_entity_source", "entity", "source_id"),
    )
    hubspot_snapshot = _run_keyed(
        "hubspot_snapshot", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("matched_by", KEY),
        Column("properties", _JSON),
    )
    delta = _run_keyed(
        "delta", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("action", String(16), nullable=False),
        Column("changed_fields", _JSON),
        Column("before", _JSON),
        Column("after", _JSON),
        Column("reason", Text),
        Column("matched_by", KEY),
        Column("changed_at", UTCDateTime),
    )
    rejects = Table(
        "rejects", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("run_id", KEY, nullable=False),
        Column("first_run_id", KEY, nullable=False),
        Column("source_id", KEY),
        Column("rule", KEY, nullable=False),
        Column("property", KEY),
        Column("value", Text),
        Column("reason", Text),
        Column("source", String(16), nullable=False),
        Column("category", KEY),
        Column("times_seen", Integer, nullable=False, default=1),
        Column("first_seen_at", UTCDateTime, nullable=False),
        Column("last_seen_at", UTCDateTime, nullable=False),
        Column("resolved_at", UTCDateTime),
        Column("resolved_run_id", KEY),
        Index("ix_rejects_entity_run", "entity", "run_id"),
        Index("ix_rejects_entity_source", "entity", "source_id"),
        Index("ix_rejects_entity_resolved", "entity", "resolved_at"),
        # revision 0002: the sync-health view counts open rejects by entity and rule
        Index("ix_rejects_entity_rule_resolved", "entity", "rule", "resolved_at"),
    )
    # revision 0005: open rejects of a rule in id order (the health view's examples and
    # keyset pages), a partial index holding only the open ones
    open_only = rejects.c.resolved_at.is_(None)
    Index("ix_rejects_open_rule_id", rejects.c.entity, rejects.c.rule, rejects.c.id,
          sqlite_where=open_only, postgresql_where=open_only)
    # One row per (run, reject) sighting: rejects_for_run stays right after later runs.
    reject_events = _run_keyed(
        "reject_events", metadata,
        Column("reject_id", ID, nullable=False),
        Column("value", Text),
        Column("reason", Text),
        Column("seen_at", UTCDateTime, nullable=False),
        # revision 0004: retention deletes a resolved reject's sightings with it
        Index("ix_reject_events_reject", "reject_id"),
    )
    id_map = Table(
        "id_map", metadata,
        Column("entity", KEY, primary_key=True),
        Column("source_id", KEY, primary_key=True),
        Column("hubspot_id", KEY, nullable=False),
        Column("hubspot_object", KEY, nullable=False),
        Column("first_synced_run", KEY),
        Column("last_synced_run", KEY),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_id_map_entity_hubspot", "entity", "hubspot_id"),
    )
    load_outcomes = _run_keyed(
        "load_outcomes", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("action", String(16)),
        Column("status", String(16), nullable=False),
        Column("category", KEY),
        Column("message", Text),
    )
    pending_associations = Table(
        "pending_associations", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("source_id", KEY, nullable=False),
        Column("to_entity", KEY, nullable=False),
        Column("to_source_id", KEY, nullable=False),
        Column("type_id", Integer),
        Column("first_seen_run", KEY, nullable=False),
        Column("last_tried_run", KEY, nullable=False),
        Column("reason", Text),
        Column("attempts", Integer, nullable=False, default=1),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_pending_associations_entity", "entity", "source_id"),
    )
    # revision 0006: what the alerts remember (the reject digest's cutoff, behind episodes)
    alert_state = Table(
        "alert_state", metadata,
        Column("key", KEY, primary_key=True),
        Column("value", _JSON),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    # revision 0009: timeline events written once as HubSpot notes (warehouse/timeline.py)
    timeline_events = Table(
        "timeline_events", metadata,
        Column("entity", KEY, primary_key=True),
        Column("event_key", KEY, primary_key=True),
        Column("event", KEY),
        Column("source_id", KEY),
        Column("target_object", KEY),
        Column("target_id", KEY),
        Column("occurred_at", UTCDateTime),
        Column("status", String(16), nullable=False),
        Column("note_id", KEY),
        Column("reason", Text),
        Column("attempts", Integer, nullable=False, default=0),
        Column("first_run_id", KEY, nullable=False),
        Column("last_run_id", KEY, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_timeline_events_entity_status", "entity", "status"),
    )
    tables = {t.name: t for t in (sync_runs, source_snapshot, hubspot_snapshot, delta, rejects,
                                reject_events, id_map, load_outcomes, pending_associations,
                                alert_state)}
    tables[timeline_events.name] = timeline_events
    # revision 0008: the associations the sync made (warehouse/ledger.py) ...
    association_ledger = Table(
        "association_ledger", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("source_id", KEY, nullable=False),
        Column("hubspot_id", KEY),
        Column("to_entity", KEY, nullable=False),
        Column("to_source_id", KEY),
        Column("to_hubspot_id", KEY, nullable=False),
        Column("type_id", Integer, nullable=False),
        Column("origin", String(16), nullable=False),
        Column("made_in_run", KEY, nullable=False),
        Column("made_at", UTCDateTime, nullable=False),
        Index("ix_association_ledger_entity_source", "entity", "source_id"),
    )
    # ... and the looked-up records (a line item's plan) each synced record used
    lookup_refs = Table(
        "lookup_refs", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("source_id", KEY, nullable=False),
        Column("parent_source_id", KEY, nullable=False),
        Column("lookup", KEY, nullable=False),
        Column("lookup_id", KEY, nullable=False),
        Column("digest", String(64), nullable=False),
        Column("run_id", KEY, nullable=False),
        Index("ix_lookup_refs_entity_lookup", "entity", "lookup", "lookup_id"),
        Index("ix_lookup_refs_entity_parent", "entity", "parent_source_id"),
    )
    tables.update({t.name: t for t in (association_ledger, lookup_refs)})
    tables.update(_lifecycle_tables(metadata))
    tables.update(_two_way_tables(metadata))
    return tables


def _two_way_tables(metadata: MetaData) -> dict[str, Table]:
    """Revision 0010 (two-way sync, warehouse/two_way.py): the last value both sides agreed
    on per record and property (two_way_baseline, state: never pruned), each run's decisions
    (two_way_decisions, run-scoped) and the conflicts a rule decided (sync_conflicts)."""
    baseline = Table(
        "two_way_baseline", metadata,
        Column("entity", KEY, primary_key=True),
        Column("source_id", KEY, primary_key=True),
        Column("property", KEY, primary_key=True),
        Column("value", Text),
        Column("run_id", KEY, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        # Write-ahead (0011): the value a write is sending until its outcome is known
        # (has_pending; None is a legal value); has_value False: only a pending value yet.
        Column("has_value", Boolean, nullable=False, server_default=true()),
        Column("pending_value", Text),
        Column("has_pending", Boolean, nullable=False, server_default=false()),
    )
    decisions = _run_keyed(
        "two_way_decisions", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("property", KEY, nullable=False),
        Column("to_hubspot", Boolean, nullable=False),
        Column("to_officernd", Boolean, nullable=False),
        Column("agreed", Boolean, nullable=False),
        Column("value", Text),
    )
    conflicts = Table(
        "sync_conflicts", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("run_id", KEY, nullable=False),
        Column("source_id", KEY, nullable=False),
        Column("hubspot_id", KEY),
        Column("property", KEY, nullable=False),
        Column("officernd_value", Text),
        Column("officernd_changed_at", UTCDateTime),
        Column("hubspot_value", Text),
        Column("hubspot_changed_at", UTCDateTime),
        Column("rule", String(32), nullable=False),
        Column("winner", String(16), nullable=False),
        Column("detected_at", UTCDateTime, nullable=False),
        Index("ux_sync_conflicts_run_record", "entity", "run_id", "source_id", "property",
              unique=True),
        Index("ix_sync_conflicts_entity_detected", "entity", "detected_at"),
    )
    return {t.name: t for t in (baseline, decisions, conflicts)}


def _lifecycle_tables(metadata: MetaData) -> dict[str, Table]:
    """Revision 0007 (deletes and churn, warehouse/lifecycle.py): records a person archived,
    deleted or merged away in HubSpot (tombstones), what each run flagged or archived for a
    source delete or a filter exit (source_deletions), when the source was last scanned."""
    tombstones = Table(
        "tombstones", metadata,
        Column("entity", KEY, primary_key=True),
        Column("source_id", KEY, primary_key=True),
        Column("hubspot_id", KEY),
        Column("hubspot_object", KEY),
        Column("kind", String(16), nullable=False),
        Column("reason", Text),
        Column("times_seen", Integer, nullable=False, default=1),
        Column("first_seen_at", UTCDateTime, nullable=False),
        Column("last_seen_at", UTCDateTime, nullable=False),
        Column("first_run_id", KEY, nullable=False),
        Column("last_run_id", KEY, nullable=False),
    )
    source_deletions = _run_keyed(
        "source_deletions", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("why", String(16), nullable=False),
        Column("action", String(16), nullable=False),
        Column("status", String(16), nullable=False),
        Column("message", Text),
    )
    delete_checks = Table(
        "delete_checks", metadata,
        Column("entity", KEY, primary_key=True),
        Column("checked_at", UTCDateTime, nullable=False),
        Column("run_id", KEY, nullable=False),
        Column("source_ids", Integer, nullable=False, default=0),
    )
    return {t.name: t for t in (tombstones, source_deletions, delete_checks)}


# Tables whose rows belong to one (entity, run_id): a rerun of the run replaces them.
RUN_KEYED_TABLES = ("source_snapshot", "hubspot_snapshot", "delta", "load_outcomes",
                    "reject_events", "source_deletions", "two_way_decisions")

# Public column lists of what the writers take and the readers return (DELTA_COLUMNS and
# LOAD_OUTCOME_COLUMNS come from hubspot_sync.records, the steps' own definition).
SOURCE_SNAPSHOT_COLUMNS = ["source_id", "changed_at", "properties", "links", "skip_reason",
                           "problems", "raw"]
HUBSPOT_SNAPSHOT_COLUMNS = ["source_id", "hubspot_id", "matched_by", "properties"]
# The rejects table as open_rejects / rejects_for_run return it (validation's REJECT_COLUMNS
# in hubspot_sync.records is the smaller shape a step reports).
REJECT_TABLE_COLUMNS = ["entity", "run_id", "first_run_id", "source_id", "rule", "property",
                        "value", "reason", "source", "category", "times_seen", "first_seen_at",
                        "last_seen_at", "resolved_at", "resolved_run_id"]
RUN_COLUMNS = ["entity", "run_id", "started_at", "finished_at", "status", "window_start",
               "window_end", "full_refresh", "dry_run", *COUNT_KEYS, "details"]
PENDING_COLUMNS = ["entity", "source_id", "to_entity", "to_source_id", "type_id",
                   "first_seen_run", "last_tried_run", "reason", "attempts"]

__all__ = ["KEY_LENGTH", "KEY", "ID", "UTCDateTime", "build_tables", "RUN_STATUSES",
           "COUNT_KEYS", "RUN_KEYED_TABLES", "SOURCE_SNAPSHOT_COLUMNS",
           "HUBSPOT_SNAPSHOT_COLUMNS", "DELTA_COLUMNS", "LOAD_OUTCOME_COLUMNS",
           "REJECT_TABLE_COLUMNS", "RUN_COLUMNS", "PENDING_COLUMNS"]
