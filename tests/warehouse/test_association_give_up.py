"""Associations HubSpot keeps refusing, through the associate step on a real SQLite
warehouse: sent for SYNC_MAX_ASSOCIATION_ATTEMPTS runs, then no more (still visible with
the reason), and tried afresh once the source link changes. HubSpot is a fake counting
calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubspot_sync.steps.associate import REFUSED, associate
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.warehouse import Warehouse
from tests.unit.steps.conftest import mapping
from tests.unit.steps.test_association_attempts import RefusingHook


def _run(warehouse: Warehouse, hook: RefusingHook, run_id: str, company: str) -> dict:
    companies = mapping(entity="companies", hubspot={"object": "companies"},
                        associations=[], properties=[{"from": "name", "to": "name"}])
    run = EntityRun(mapping=mapping(), run_id=run_id, mappings={"companies": companies},
                    _warehouse=warehouse, _hook=hook)  # type: ignore[arg-type]
    warehouse.start_run("members", run_id)
    warehouse.write_source_snapshot("members", run_id, [{
        "source_id": "m1", "properties": {"email": "a@example.com"},
        "links": {"company": company}, "skip_reason": None}])
    warehouse.write_hubspot_snapshot("members", run_id, [{
        "source_id": "m1", "hubspot_id": "11", "matched_by": "officernd_id",
        "properties": {}}])
    return associate(run)


def test_hubspot_is_asked_max_attempts_times_then_never_again_until_the_link_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_MAX_ASSOCIATION_ATTEMPTS", "3")
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.upsert_id_map("members", "contacts", "r0", [("m1", "11")])
    warehouse.upsert_id_map("companies", "companies", "r0", [("c1", "91"), ("c2", "92")])
    hook = RefusingHook()
    outs = [_run(warehouse, hook, f"r{i}", "c1") for i in range(1, 7)]

    assert hook.call_count == 3, "sent in 3 runs, then no more"
    assert [o["given_up"] for o in outs] == [0, 0, 1, 1, 1, 1]
    [row] = warehouse.pending_associations("members")
    assert row["attempts"] == 3 and row["to_source_id"] == "c1"
    assert row["reason"].startswith(f"gave up after 3 runs: {REFUSED} (VALIDATION_ERROR)")

    _run(warehouse, hook, "r7", "c2")  # the source now links another company
    assert hook.call_count == 4 and hook.sent[-1] == ("11", "92")
    [row] = warehouse.pending_associations("members")
    assert (row["to_source_id"], row["attempts"]) == ("c2", 1)
    warehouse.dispose()
