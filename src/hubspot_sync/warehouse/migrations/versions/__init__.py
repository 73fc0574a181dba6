"""Warehouse schema revisions, numbered 0001, 0002, ... (Alembic loads every module here
but this one)."""
