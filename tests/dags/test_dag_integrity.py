"""The DAG folder parses without errors, fast, into one DAG per mapping file (and the
maintenance DAG, tested in test_maintenance_dag.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubspot_sync.mapping import DEFAULT_MAPPINGS_DIR, load_mappings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_mapping(dagbag) -> None:
    expected = {f"sync_{p.stem}" for p in DEFAULT_MAPPINGS_DIR.glob("*.yaml")}
    assert set(dagbag.dag_ids) == expected | {"sync_maintenance", "sync_alerts"}


@pytest.mark.parametrize("mapping", load_mappings().ordered(), ids=lambda m: m.entity)
def test_entity_dag_shape(dagbag, mapping) -> None:
    dag = dagbag.dags[mapping.dag_id]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.max_active_runs == 1 and not dag.catchup
    assert set(dag.params.keys()) == {"full_refresh", "dry_run", "since", "until",
                                      "confirm_deletes"}
    assert dag.params["confirm_deletes"] is False
    order = ["ensure_properties", "extract_source", "extract_hubspot",
             "check_hubspot_deletions", "compute_delta", "validate", "deletes", "load",
             "associate", "report"]
    if mapping.timeline:  # only an entity with timeline: events has the timeline task
        order.insert(order.index("report"), "timeline")
    if mapping.has_reverse:  # two-way: HubSpot's edits decided before either side writes
        order[order.index("compute_delta"):order.index("compute_delta")] = [
            "extract_hubspot_changes", "reconcile"]
        order.insert(order.index("report"), "write_officernd")
    assert set(dag.task_dict) == set(order)
    for upstream, downstream in zip(order[1:-1], order[2:], strict=True):
        assert downstream in dag.task_dict[upstream].downstream_task_ids
    assert "extract_hubspot" in dag.task_dict["ensure_properties"].downstream_task_ids
    assert f"`{mapping.properties[0].to}`" in dag.doc_md
    outlets = [a.uri for a in dag.task_dict["report"].outlets]
    assert outlets == [f"hubspot://{mapping.hubspot.object}/{mapping.entity}"]


def test_parse_is_light_and_fast() -> None:
    """The DAG file imports no pandas, GX, requests or step module (only the declared step
    list). Parse speed is measured by Airflow itself (dag-processor stats), not here: the
    bound below (about 0.3 s quiet, 2 s under load) only catches a parse that waits on
    something (a network call, a database), never a slow machine."""
    code = (
        "import sys, time, runpy, airflow.sdk\n"
        "before = set(sys.modules); t = time.perf_counter()\n"
        f"runpy.run_path({str(ROOT / 'dags' / 'sync_entities.py')!r})\n"
        "print(time.perf_counter() - t)\n"
        "heavy = ('pandas', 'numpy', 'great_expectations', 'requests', 'hubspot_sync.steps.',"
        " 'hubspot_sync.warehouse', 'hubspot_sync.hubspot_client')\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith(heavy)))\n"
    )
    # Airflow itself is imported before the clock starts: only our own parse cost is timed.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    seconds, heavy = result.stdout.strip().splitlines()[-2:]
    assert float(seconds) < 10.0
    assert heavy == "[]"


def parse_dags(mappings_dir: Path) -> dict[str, list]:
    """dag_id -> [task ids, description, doc_md] of the DAG file parsed on ``mappings_dir``,
    in a subprocess: a broken DAG must not replace the suite's own DAG of that id."""
    code = (
        "import json, runpy\n"
        f"dags = runpy.run_path({str(ROOT / 'dags' / 'sync_entities.py')!r})['DAGS']\n"
        "print(json.dumps({d: [sorted(dag.task_dict), dag.description, dag.doc_md]"
        " for d, dag in dags.items()}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT,
                            env={**os.environ, "SYNC_MAPPINGS_DIR": str(mappings_dir)})
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_broken_mapping_becomes_a_failing_dag_and_spares_the_others(tmp_path) -> None:
    good = (DEFAULT_MAPPINGS_DIR / "companies.yaml").read_text()
    (tmp_path / "companies.yaml").write_text(good)
    (tmp_path / "members.yaml").write_text(good.replace("entity: companies", "entity: members")
                                           .replace("mode: upsert", "mode: sideways"))
    dags = parse_dags(tmp_path)
    assert set(dags) == {"sync_companies", "sync_members"}
    assert "load" in dags["sync_companies"][0]
    tasks, description, doc = dags["sync_members"]
    assert tasks == ["mapping_error"]
    assert description.startswith("BROKEN MAPPING")
    assert str(tmp_path / "members.yaml") in doc and "mode: Input should be" in doc


def test_cycle_and_unknown_entity_become_broken_dags_at_parse_time(tmp_path) -> None:
    for name in ("companies", "members", "plans", "contracts"):
        (tmp_path / f"{name}.yaml").write_text((DEFAULT_MAPPINGS_DIR / f"{name}.yaml").read_text())
    companies = tmp_path / "companies.yaml"
    companies.write_text(companies.read_text() + "depends_on: [members]\n")  # members -> companies
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(contracts.read_text().replace("{to: members, via: member}",
                                                       "{to: memebrs, via: member}"))
    dags = parse_dags(tmp_path)
    assert set(dags) == {"sync_companies", "sync_members", "sync_plans", "sync_contracts"}
    assert "load" in dags["sync_plans"][0]  # the others keep working
    for entity in ("companies", "members"):
        tasks, description, doc = dags[f"sync_{entity}"]
        assert tasks == ["mapping_error"] and description.startswith("BROKEN MAPPING")
        assert f"{tmp_path / entity}.yaml: depends_on[0]: depends_on cycle companies -> " \
               "members -> companies" in doc
    tasks, description, doc = dags["sync_contracts"]
    assert tasks == ["mapping_error"]
    assert f"{contracts}: associations[1].to: 'memebrs' is not an entity with a mapping file" \
        in doc


def test_a_disabled_entity_gets_no_dag_and_its_dependants_keep_theirs(tmp_path) -> None:
    for name in ("companies", "members"):
        (tmp_path / f"{name}.yaml").write_text((DEFAULT_MAPPINGS_DIR / f"{name}.yaml").read_text())
    companies = tmp_path / "companies.yaml"
    companies.write_text(companies.read_text() + "sync_mode: disabled\n")
    dags = parse_dags(tmp_path)
    assert set(dags) == {"sync_members"}  # members depends_on companies: still valid
    assert "load" in dags["sync_members"][0]
