"""Index for the sync-health view: open rejects counted by entity and rule.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rejects_entity_rule_resolved", "rejects",
                    ["entity", "rule", "resolved_at"],
                    schema=op.get_context().version_table_schema)


def downgrade() -> None:
    op.drop_index("ix_rejects_entity_rule_resolved", table_name="rejects",
                  schema=op.get_context().version_table_schema)
