"""Timeline events as HubSpot notes through the real DAGs against both sandboxes: a contract
signed then terminated, an issued invoice, a bad event, and a note whose answer was lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubspot_sync.mapping import load_mappings
from hubspot_sync.steps import STEP_NAMES, STEPS, call_step
from hubspot_sync.steps.context import EntityRun, RunWindow

pytestmark = pytest.mark.e2e

CREATE = "/crm/v3/objects/{objectType}/batch/create"
HOUR = timedelta(hours=1)


def next_hour(sync_env) -> datetime:
    """An hour no record changed in (the OfficeRnD clock put 5 minutes into it)."""
    hour = (datetime.now(UTC) + 2 * HOUR).replace(minute=0, second=0, microsecond=0)
    sync_env.officernd.set_clock(hour + timedelta(minutes=5))
    return hour


def window(hour: datetime) -> dict:
    return {"since": hour.isoformat(), "until": (hour + HOUR).isoformat()}


def notes_on(sync_env, object_type: str, record_id: str) -> list[dict]:
    hook = sync_env.hook()
    ids = hook.read_associations(object_type, "notes", [record_id])[record_id]
    return hook.batch_read("notes", ids, ["hs_note_body", "hs_timestamp"])


def new_contract(sync_env, status: str, **fields) -> dict:
    """A contract without plan entries (no line items) of a seeded company (read through the
    mapping's lookup; the company need not be synced for the deal's notes)."""
    company = sorted(c["_id"] for c in sync_env.officernd.state.records("companies"))[0]
    return sync_env.officernd.insert_record("contracts", {
        "number": "CON-90001", "company": company, "member": None, "status": status,
        "startDate": "2026-12-01T00:00:00.000Z", "endDate": "2027-11-30T00:00:00.000Z",
        "plans": [], "baseTotal": 0, "total": 0, "type": "new", **fields})


def test_a_contract_signed_then_terminated_leaves_exactly_two_notes(sync_env) -> None:
    sb = sync_env.officernd
    h = next_hour(sync_env)
    contract = new_contract(sync_env, "not_signed")
    sb.set_clock(h + HOUR + timedelta(minutes=5))
    sb.patch_record("contracts", contract["_id"],
                    {"status": "signed", "signDate": (h + HOUR).isoformat()})
    signed = sync_env.run("contracts", **window(h + HOUR))
    assert signed["state"] == "success" and signed["created"] == 1
    # The deal is written by load, its note by timeline in the same run: one create call.
    assert signed["routes"].get(CREATE) == 1, signed["routes"]
    deal = sync_env.warehouse.id_map("contracts")[contract["_id"]]
    sb.set_clock(h + 2 * HOUR + timedelta(minutes=5))
    sb.patch_record("contracts", contract["_id"], {
        "status": "terminated", "termination": {"date": (h + 2 * HOUR).isoformat()}})
    terminated = sync_env.run("contracts", **window(h + 2 * HOUR))
    assert terminated["routes"].get(CREATE) == 1, terminated["routes"]

    # A re-run of the last hour and a backfill of it (a backfill reads the records whose
    # last change is in its hour): both read the contract again, neither writes a note.
    again = [sync_env.run("contracts", **window(h + 2 * HOUR)),
             sync_env.run("contracts", backfill_at=h + 3 * HOUR)]
    for run in again:
        assert run["state"] == "success" and CREATE not in run["routes"], run["routes"]
        assert run["extracted"] == 1, "each read the contract again"

    notes = notes_on(sync_env, "deals", deal)
    bodies = sorted(n["properties"]["hs_note_body"] for n in notes)
    assert len(notes) == 2, bodies
    assert "Contract CON-90001 signed" in bodies[0] and "Contract CON-90001 terminated" in \
        bodies[1]
    assert f"sync key: contract-{contract['_id']}:signed" in bodies[0]
    events = sync_env.warehouse.timeline_events("contracts")
    mine = {k: v for k, v in events.items() if contract["_id"] in k}
    assert {k: v["status"] for k, v in mine.items()} == {
        f"contract-{contract['_id']}:signed": "written",
        f"contract-{contract['_id']}:terminated": "written"}
    assert {v["note_id"] for v in mine.values()} == {n["id"] for n in notes}
    assert all(v["attempts"] == 1 for v in mine.values())


def test_an_issued_invoice_leaves_one_note_on_its_company(sync_env) -> None:
    sb = sync_env.officernd
    h = next_hour(sync_env)
    company_id = sb.insert_record("companies", {
        "name": "Timeline Test Ltd", "url": "https://timeline-test.example.com",
        "status": "active"})["_id"]
    invoice = sb.insert_record("payments", {
        "number": "INV-77001", "documentType": "invoice", "status": "draft",
        "date": h.replace(hour=0).isoformat(), "dueDate": None, "company": company_id,
        "total": 1234.5, "currency": "USD"})
    no_total = sb.insert_record("payments", {
        "number": "INV-77002", "documentType": "invoice", "status": "issued",
        "date": h.isoformat(), "company": company_id, "total": None, "currency": "USD"})
    draft = sync_env.run("companies", **window(h))
    assert draft["state"] == "success" and draft["created"] == 1
    assert CREATE not in draft["routes"], "a draft is not issued; the other is rejected"
    company = sync_env.warehouse.id_map("companies")[company_id]
    rejects = sync_env.warehouse.open_rejects("companies_timeline")
    reasons = {(r["source_id"], r["rule"], r["property"]): r["reason"]
               for r in rejects.to_dict("records")}
    assert list(reasons) == [(f"payment-{no_total['_id']}:issued", "required", "total")]
    assert "needs 'total'" in next(iter(reasons.values()))

    sb.set_clock(h + HOUR + timedelta(minutes=5))
    sb.patch_record("payments", invoice["_id"], {"status": "issued"})
    issued = sync_env.run("companies", **window(h + HOUR))
    assert issued["routes"].get(CREATE) == 1, issued["routes"]
    again = sync_env.run("companies", **window(h + HOUR))
    assert again["state"] == "success" and CREATE not in again["routes"], again["routes"]

    notes = notes_on(sync_env, "companies", company)
    mine = [n for n in notes if invoice["_id"] in n["properties"]["hs_note_body"]]
    assert len(mine) == 1, notes
    body = mine[0]["properties"]["hs_note_body"]
    assert "invoice INV-77001 issued" in body and "Amount: 1234.5 USD" in body
    assert f"Date: {h.date().isoformat()}" in body
    assert mine[0]["properties"]["hs_timestamp"].startswith(h.date().isoformat())
    assert all(no_total["_id"] not in n["properties"]["hs_note_body"] for n in notes)


def test_a_lost_answer_on_note_creation_does_not_duplicate_the_note(sync_env) -> None:
    h = next_hour(sync_env)
    contract = new_contract(sync_env, "signed", signDate=h.isoformat())
    mapping = load_mappings().mappings["contracts"]
    run = EntityRun(mapping=mapping, run_id="manual__lost_answer",
                    window=RunWindow(h, h + HOUR, False, "test"))
    outputs: dict = {}
    for step in STEPS[:STEP_NAMES.index("timeline")]:
        outputs[step.name] = call_step(step, run, outputs)
    deal = sync_env.warehouse.id_map("contracts")[contract["_id"]]
    key = f"contract-{contract['_id']}:signed"

    # HubSpot creates the note, but the answer is lost (a 502 after the write).
    sync_env.hubspot.configure_faults(lost_error_rate=1.0, seed=1)
    try:
        lost = call_step(STEPS[STEP_NAMES.index("timeline")], run, outputs)
    finally:
        sync_env.hubspot.configure_faults()
    assert lost["units"]["contracts"]["counts"] == {"unknown": 1}
    assert sync_env.hubspot.faults_injected()["lost_error"] == 1, "one call, not retried"
    assert sync_env.warehouse.timeline_events("contracts", [key])[key]["status"] == "unknown"
    assert len(notes_on(sync_env, "deals", deal)) == 1

    # The next run looks the note up on the deal and adopts it; it creates none.
    rerun = sync_env.run("contracts", **window(h))
    assert rerun["state"] == "success" and CREATE not in rerun["routes"], rerun["routes"]
    assert rerun["routes"]["/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"]
    notes = notes_on(sync_env, "deals", deal)
    assert len(notes) == 1
    row = sync_env.warehouse.timeline_events("contracts", [key])[key]
    assert (row["status"], row["note_id"]) == ("written", notes[0]["id"])
    assert row["reason"] == "found on its record after an unknown outcome"
