"""Alembic scripts of the warehouse schema (env.py; revisions in versions/). A package, so a
non-editable install ships them."""
