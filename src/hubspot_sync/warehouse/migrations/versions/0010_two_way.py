"""Two-way sync: the last value both sides agreed on per record and property
(two_way_baseline), each run's decisions (two_way_decisions) and the conflicts a rule decided,
with both values, times and the winner (sync_conflicts).

Revision ID: 0010
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None

KEY = sa.String(255)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_table(
        "two_way_baseline",
        sa.Column("entity", KEY, primary_key=True),
        sa.Column("source_id", KEY, primary_key=True),
        sa.Column("property", KEY, primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("run_id", KEY, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        schema=schema,
    )
    op.create_table(
        "two_way_decisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("run_id", KEY, nullable=False),
        sa.Column("source_id", KEY),
        sa.Column("hubspot_id", KEY),
        sa.Column("property", KEY, nullable=False),
        sa.Column("to_hubspot", sa.Boolean, nullable=False),
        sa.Column("to_officernd", sa.Boolean, nullable=False),
        sa.Column("agreed", sa.Boolean, nullable=False),
        sa.Column("value", sa.Text),
        schema=schema,
    )
    op.create_index("ix_two_way_decisions_entity_run", "two_way_decisions",
                    ["entity", "run_id"], schema=schema)
    op.create_table(
        "sync_conflicts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("run_id", KEY, nullable=False),
        sa.Column("source_id", KEY, nullable=False),
        sa.Column("hubspot_id", KEY),
        sa.Column("property", KEY, nullable=False),
        sa.Column("officernd_value", sa.Text),
        sa.Column("officernd_changed_at", TS),
        sa.Column("hubspot_value", sa.Text),
        sa.Column("hubspot_changed_at", TS),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("detected_at", TS, nullable=False),
        schema=schema,
    )
    op.create_index("ux_sync_conflicts_run_record", "sync_conflicts",
                    ["entity", "run_id", "source_id", "property"], unique=True, schema=schema)
    op.create_index("ix_sync_conflicts_entity_detected", "sync_conflicts",
                    ["entity", "detected_at"], schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_index("ix_sync_conflicts_entity_detected", table_name="sync_conflicts",
                  schema=schema)
    op.drop_index("ux_sync_conflicts_run_record", table_name="sync_conflicts", schema=schema)
    op.drop_table("sync_conflicts", schema=schema)
    op.drop_index("ix_two_way_decisions_entity_run", table_name="two_way_decisions",
                  schema=schema)
    op.drop_table("two_way_decisions", schema=schema)
    op.drop_table("two_way_baseline", schema=schema)
