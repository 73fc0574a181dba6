"""The associations the sync made (``association_ledger``: only these are ever removed when
the source link changes) and the looked-up records each synced record used
(``lookup_refs``: a renamed plan re-syncs the line items that show its name).

Nothing is backfilled here: associations made before this revision are not known to be the
sync's (a person may have made the same pair). The associate step records from now on what
it creates, and confirms a pair it wants that HubSpot already has with exactly the types
the sync would make (docs: README, "Associations that follow the source").

Revision ID: 0008
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

KEY = sa.String(255)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_table(
        "association_ledger",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("source_id", KEY, nullable=False),
        sa.Column("hubspot_id", KEY),
        sa.Column("to_entity", KEY, nullable=False),
        sa.Column("to_source_id", KEY),
        sa.Column("to_hubspot_id", KEY, nullable=False),
        sa.Column("type_id", sa.Integer, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("made_in_run", KEY, nullable=False),
        sa.Column("made_at", TS, nullable=False),
        schema=schema,
    )
    op.create_index("ix_association_ledger_entity_source", "association_ledger",
                    ["entity", "source_id"], schema=schema)
    op.create_table(
        "lookup_refs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", KEY, nullable=False),
        sa.Column("source_id", KEY, nullable=False),
        sa.Column("parent_source_id", KEY, nullable=False),
        sa.Column("lookup", KEY, nullable=False),
        sa.Column("lookup_id", KEY, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("run_id", KEY, nullable=False),
        schema=schema,
    )
    op.create_index("ix_lookup_refs_entity_lookup", "lookup_refs",
                    ["entity", "lookup", "lookup_id"], schema=schema)
    op.create_index("ix_lookup_refs_entity_parent", "lookup_refs",
                    ["entity", "parent_source_id"], schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_table("lookup_refs", schema=schema)
    op.drop_table("association_ledger", schema=schema)
