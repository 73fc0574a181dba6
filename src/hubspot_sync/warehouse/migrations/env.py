"""Alembic environment: run on the connection and schema hubspot_sync.warehouse.migrate
passes in ``config.attributes``; never opens a database of its own."""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection,
                  version_table_schema=config.attributes.get("schema"))
with context.begin_transaction():
    context.run_migrations()
