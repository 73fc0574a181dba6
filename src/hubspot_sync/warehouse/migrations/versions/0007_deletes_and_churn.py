"""Deletes and churn: tombstones of records a person archived, deleted or merged away in
HubSpot; what each run flagged or archived for a source delete or a filter exit; when each
entity's source ids were last scanned for deletions.

Revision ID: 0007
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

KEY = sa.String(255)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_table(
        "tombstones",
        sa.Column("entity", KEY, primary_key=True),
        sa.Column("source_id", KEY, primary_key=True),
        sa.Column("hubspot_id", KEY),
        sa.Column("hubspot_object", KEY),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("times_seen", sa.Integer, nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("first_run_id", KEY, nullable=False),
        sa.Column("last_run_id", KEY, nullable=False),
        schema=schema,
    )
    op.create_table(
        "source_deletions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("run_id", KEY, nullable=False),
        sa.Column("source_id", KEY),
        sa.Column("hubspot_id", KEY),
        sa.Column("why", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text),
        schema=schema,
    )
    op.create_index("ix_source_deletions_entity_run", "source_deletions", ["entity", "run_id"],
                    schema=schema)
    op.create_table(
        "delete_checks",
        sa.Column("entity", KEY, primary_key=True),
        sa.Column("checked_at", TS, nullable=False),
        sa.Column("run_id", KEY, nullable=False),
        sa.Column("source_ids", sa.Integer, nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_table("delete_checks", schema=schema)
    op.drop_index("ix_source_deletions_entity_run", table_name="source_deletions",
                  schema=schema)
    op.drop_table("source_deletions", schema=schema)
    op.drop_table("tombstones", schema=schema)
