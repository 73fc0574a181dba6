"""``python -m hubspot_sync.cli sync [ENTITY ...]``: one manual run of each entity DAG, in
dependency order, against the configured connections, then one summary table.

Each run is a real Airflow DAG run (``dag.test()``), recorded in the metadata DB and the
warehouse like any other manual run, so a second ``make sync`` reads only what changed
since the first.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

COLUMNS = ("entity", "state", "extracted", "created", "updated", "unchanged", "skipped",
           "rejected", "failed", "api_calls")


def sync(entities: Sequence[str] | None = None, full_refresh: bool = False,
         dry_run: bool = False) -> int:
    from airflow.utils import db

    from hubspot_sync.dag_files import entity_dags
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.warehouse import Warehouse

    db.initdb()
    mappings = load_mappings()
    for path, message in mappings.errors.items():
        print(f"skipping broken mapping {path}:\n{message}", file=sys.stderr)
    wanted = set(entities or mappings.mappings)
    unknown = wanted - set(mappings.mappings)
    if unknown:
        print(f"no mapping for: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    dags = entity_dags()
    warehouse = Warehouse.from_airflow()
    rows, failed = [], False
    for mapping in mappings.ordered():
        if mapping.entity not in wanted:
            continue
        print(f"== sync_{mapping.entity}", flush=True)
        dag_run = dags[mapping.dag_id].test(
            logical_date=None, run_conf={"full_refresh": full_refresh, "dry_run": dry_run})
        state = str(getattr(dag_run.state, "value", dag_run.state))
        for unit in (mapping, *mapping.child_mappings()):
            run = warehouse.get_run(unit.entity, dag_run.run_id) or {}
            rows.append({"entity": unit.entity, "state": state,
                         **{k: run.get(k, "") for k in COLUMNS[2:]}})
        failed |= state != "success"
    print()
    print(format_table(rows))
    print(f"\nwarehouse: {warehouse.engine.url.render_as_string(hide_password=True)} "
          "(tables sync_runs, delta, rejects, id_map, ...)")
    return 1 if failed else 0


def format_table(rows: list[dict]) -> str:
    widths = {c: max([len(c), *(len(str(r.get(c, ""))) for r in rows)]) for c in COLUMNS}
    line = "  ".join(c.ljust(widths[c]) for c in COLUMNS)
    out = [line, "  ".join("-" * widths[c] for c in COLUMNS)]
    for row in rows:
        out.append("  ".join(str(row.get(c, "")).rjust(widths[c]) if c not in ("entity", "state")
                             else str(row.get(c, "")).ljust(widths[c]) for c in COLUMNS))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubspot_sync.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sync_parser = sub.add_parser("sync", help="run every entity DAG once, then a summary")
    sync_parser.add_argument("entities", nargs="*", help="only these entities (default: all)")
    sync_parser.add_argument("--full-refresh", action="store_true")
    sync_parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    # Task logs stay in the warehouse and Airflow's log folder; the terminal gets the summary.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    logging.basicConfig(level=logging.WARNING)
    return sync(args.entities, full_refresh=args.full_refresh, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
