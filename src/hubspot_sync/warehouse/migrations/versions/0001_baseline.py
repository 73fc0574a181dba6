"""The warehouse as the code created it before schema versions (frozen: never edit).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KEY = sa.String(255)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER
TS = sa.DateTime(timezone=True)
COUNTS = ("extracted", "created", "updated", "unchanged", "skipped", "rejected", "failed",
          "api_calls")


def _run_keyed(name: str, schema: str | None, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("run_id", KEY, nullable=False),
        *columns,
        schema=schema,
    )
    op.create_index(f"ix_{name}_entity_run", name, ["entity", "run_id"], schema=schema)


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_table(
        "sync_runs",
        sa.Column("entity", KEY, primary_key=True),
        sa.Column("run_id", KEY, primary_key=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("window_start", TS),
        sa.Column("window_end", TS),
        sa.Column("full_refresh", sa.Boolean, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        *[sa.Column(k, sa.Integer, nullable=False) for k in COUNTS],
        sa.Column("details", sa.JSON),
        schema=schema,
    )
    op.create_index("ix_sync_runs_entity_status_end", "sync_runs",
                    ["entity", "status", "window_end"], schema=schema)
    op.create_index("ix_sync_runs_started", "sync_runs", ["started_at"], schema=schema)
    _run_keyed("source_snapshot", schema,
               sa.Column("source_id", KEY),
               sa.Column("changed_at", TS),
               sa.Column("properties", sa.JSON),
               sa.Column("links", sa.JSON),
               sa.Column("skip_reason", sa.Text),
               sa.Column("problems", sa.JSON),
               sa.Column("raw", sa.JSON))
    _run_keyed("hubspot_snapshot", schema,
               sa.Column("source_id", KEY),
               sa.Column("hubspot_id", KEY),
               sa.Column("matched_by", KEY),
               sa.Column("properties", sa.JSON))
    _run_keyed("delta", schema,
               sa.Column("source_id", KEY),
               sa.Column("hubspot_id", KEY),
               sa.Column("action", sa.String(16), nullable=False),
               sa.Column("changed_fields", sa.JSON),
               sa.Column("before", sa.JSON),
               sa.Column("after", sa.JSON),
               sa.Column("reason", sa.Text),
               sa.Column("matched_by", KEY),
               sa.Column("changed_at", TS))
    op.create_table(
        "rejects",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("run_id", KEY, nullable=False),
        sa.Column("first_run_id", KEY, nullable=False),
        sa.Column("source_id", KEY),
        sa.Column("rule", KEY, nullable=False),
        sa.Column("property", KEY),
        sa.Column("value", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("category", KEY),
        sa.Column("times_seen", sa.Integer, nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("resolved_run_id", KEY),
        schema=schema,
    )
    op.create_index("ix_rejects_entity_run", "rejects", ["entity", "run_id"], schema=schema)
    op.create_index("ix_rejects_entity_source", "rejects", ["entity", "source_id"],
                    schema=schema)
    op.create_index("ix_rejects_entity_resolved", "rejects", ["entity", "resolved_at"],
                    schema=schema)
    _run_keyed("reject_events", schema,
               sa.Column("reject_id", ID, nullable=False),
               sa.Column("value", sa.Text),
               sa.Column("reason", sa.Text),
               sa.Column("seen_at", TS, nullable=False))
    op.create_table(
        "id_map",
        sa.Column("entity", KEY, primary_key=True),
        sa.Column("source_id", KEY, primary_key=True),
        sa.Column("hubspot_id", KEY, nullable=False),
        sa.Column("hubspot_object", KEY, nullable=False),
        sa.Column("first_synced_run", KEY),
        sa.Column("last_synced_run", KEY),
        sa.Column("updated_at", TS, nullable=False),
        schema=schema,
    )
    op.create_index("ix_id_map_entity_hubspot", "id_map", ["entity", "hubspot_id"],
                    schema=schema)
    _run_keyed("load_outcomes", schema,
               sa.Column("source_id", KEY),
               sa.Column("hubspot_id", KEY),
               sa.Column("action", sa.String(16)),
               sa.Column("status", sa.String(16), nullable=False),
               sa.Column("category", KEY),
               sa.Column("message", sa.Text))
    op.create_table(
        "pending_associations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("source_id", KEY, nullable=False),
        sa.Column("to_entity", KEY, nullable=False),
        sa.Column("to_source_id", KEY, nullable=False),
        sa.Column("type_id", sa.Integer),
        sa.Column("first_seen_run", KEY, nullable=False),
        sa.Column("last_tried_run", KEY, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        schema=schema,
    )
    op.create_index("ix_pending_associations_entity", "pending_associations",
                    ["entity", "source_id"], schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    for name in ("pending_associations", "load_outcomes", "id_map", "reject_events", "rejects",
                 "delta", "hubspot_snapshot", "source_snapshot", "sync_runs"):
        op.drop_table(name, schema=schema)  # their indexes go with them
