"""Indexes for the sync-health view: an entity's open rejects by rule in id order (counts,
oldest examples and pages without sorting 100,000 rows), and its runs newest first.

Revision ID: 0005
Revises: 0007 (the head when this revision was added; it comes after 0006-0009)
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_index("ix_rejects_open_rule_id", "rejects", ["entity", "rule", "id"],
                    schema=schema, sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_sync_runs_entity_started", "sync_runs", ["entity", "started_at"],
                    schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_index("ix_sync_runs_entity_started", table_name="sync_runs", schema=schema)
    op.drop_index("ix_rejects_open_rule_id", table_name="rejects", schema=schema)
