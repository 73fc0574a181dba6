"""Sync health: what the data team asks the warehouse most, inside the Airflow UI.

``queries`` (indexed, paginated reads), ``report`` (the figures per entity, for the page
and its JSON twin), ``page`` (server-rendered HTML) and ``app`` (the FastAPI app the
``sync_health`` Airflow plugin mounts, behind Airflow's login and DAG-run permissions).
Importing this package imports none of them.
"""
