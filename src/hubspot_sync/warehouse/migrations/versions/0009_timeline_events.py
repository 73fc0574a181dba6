"""Timeline events written as HubSpot notes, one row per event key (``timeline_events``).

Revision ID: 0009
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    key = sa.String(255)
    op.create_table(
        "timeline_events",
        sa.Column("entity", key, primary_key=True),
        sa.Column("event_key", key, primary_key=True),
        sa.Column("event", key),
        sa.Column("source_id", key),
        sa.Column("target_object", key),
        sa.Column("target_id", key),
        sa.Column("occurred_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note_id", key),
        sa.Column("reason", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_run_id", key, nullable=False),
        sa.Column("last_run_id", key, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("ix_timeline_events_entity_status", "timeline_events",
                    ["entity", "status"], schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_index("ix_timeline_events_entity_status", table_name="timeline_events",
                  schema=schema)
    op.drop_table("timeline_events", schema=schema)
