"""Index to find a record's latest source snapshot row (a child's parent to read again).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_source_snapshot_entity_source", "source_snapshot",
                    ["entity", "source_id"], schema=op.get_context().version_table_schema)


def downgrade() -> None:
    op.drop_index("ix_source_snapshot_entity_source", table_name="source_snapshot",
                  schema=op.get_context().version_table_schema)
