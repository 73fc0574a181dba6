"""What the alerts remember between hourly checks: the reject digest's cutoff and the
behind episode last announced per entity (``alert_state``, one row per key).

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.JSON(none_as_null=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=op.get_context().version_table_schema,
    )


def downgrade() -> None:
    op.drop_table("alert_state", schema=op.get_context().version_table_schema)
