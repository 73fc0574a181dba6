"""Index to find a reject's sightings: retention deletes a resolved reject with its events.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reject_events_reject", "reject_events", ["reject_id"],
                    schema=op.get_context().version_table_schema)


def downgrade() -> None:
    op.drop_index("ix_reject_events_reject", table_name="reject_events",
                  schema=op.get_context().version_table_schema)
