"""Two-way write-ahead values: ``two_way_baseline`` gains the value a write is sending
(``pending_value``, meaningful only when ``has_pending``: None is a legal value) and
``has_value`` (False: a row that holds only a pending value, the record has no baseline yet).
A write whose answer is lost leaves its value pending, so the next run can tell the sync's
own (maybe applied) write from a person's edit.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    with op.batch_alter_table("two_way_baseline", schema=schema) as batch:
        batch.add_column(sa.Column("has_value", sa.Boolean, nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("pending_value", sa.Text))
        batch.add_column(sa.Column("has_pending", sa.Boolean, nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.execute(sa.text(f"DELETE FROM {schema + '.' if schema else ''}two_way_baseline "
                       "WHERE NOT has_value"))
    with op.batch_alter_table("two_way_baseline", schema=schema) as batch:
        batch.drop_column("has_pending")
        batch.drop_column("pending_value")
        batch.drop_column("has_value")
