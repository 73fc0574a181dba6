"""Creates the metadata database and the staging warehouse's database if they are missing.

Used by `make cluster` (scripts/cluster.sh) and by docker-compose.yaml's airflow-init, from
the same settings (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, AIRFLOW_CONN_SYNC_WAREHOUSE). The
server's maintenance database ``postgres`` is where the CREATE DATABASE runs.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hubspot_sync.warehouse.connection import normalise_url


def main() -> None:
    urls = [make_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
            make_url(normalise_url(os.environ["AIRFLOW_CONN_SYNC_WAREHOUSE"]))]
    for url in urls:
        if not url.drivername.startswith("postgresql"):
            print(f"{url.database}: not PostgreSQL, nothing to create")
            continue
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(sa.text("select 1 from pg_database where datname = :d"),
                                  {"d": url.database}).first()
            if not exists:
                # A name from the settings file, quoted as an identifier.
                conn.execute(sa.text(f'create database "{url.database}"'))
                print(f"created database {url.database}")
        admin.dispose()


if __name__ == "__main__":
    main()
