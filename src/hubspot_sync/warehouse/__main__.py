"""``python -m hubspot_sync.warehouse migrate``: bring the warehouse of the Airflow
connection ``sync_warehouse`` (or ``--conn-id``) to the head schema revision, printing the
revision before and after. ``current`` only prints the revision."""

from __future__ import annotations

import argparse
import logging
import sys

from hubspot_sync.warehouse.connection import DEFAULT_CONN_ID
from hubspot_sync.warehouse.facade import Warehouse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubspot_sync.warehouse",
                                     description=__doc__)
    parser.add_argument("command", choices=["migrate", "current"])
    parser.add_argument("--conn-id", default=DEFAULT_CONN_ID,
                        help="Airflow connection of the warehouse (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    warehouse = Warehouse.from_airflow(args.conn_id)
    where = warehouse.engine.url.render_as_string(hide_password=True)
    if warehouse.schema:
        where += f" (schema {warehouse.schema})"
    try:
        if args.command == "current":
            print(f"warehouse {where}: revision {warehouse.revision() or 'none'}")
            return 0
        before, after = warehouse.migrate()
        print(f"warehouse {where}: revision {before or 'none'} -> {after}")
        return 0
    finally:
        warehouse.dispose()


if __name__ == "__main__":
    sys.exit(main())
