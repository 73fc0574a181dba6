"""Validation end to end (issue 6): the real DAGs with dag.test() against both sandboxes.

Every request the pipeline sends to HubSpot is captured at the one place requests go out
(``HubSpotHook._request``), so "never sent" is checked on the wire, not only on HubSpot's
final state.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

READ_ROUTES = ("/batch/read", "/search")
MEMBER_STATUSES = {"active", "former", "pending", "contact", "lead", "drop-in"}  # members.yaml
PAIR_RULE = "expect_column_pair_values_a_to_be_greater_than_b"  # contracts.yaml


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """Every HubSpot request of the test: method, route template, path values, JSON body."""
    from hubspot_sync.hubspot_client import HubSpotHook

    captured: list[dict[str, Any]] = []
    original = HubSpotHook._request

    def recording(self, method, route, path=None, *, params=None, json=None):
        captured.append({"method": method, "route": route, "path": dict(path or {}),
                         "json": json})
        return original(self, method, route, path, params=params, json=json)

    monkeypatch.setattr(HubSpotHook, "_request", recording)
    return captured


def writes(captured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The captured requests that can change HubSpot data (as conftest counts them)."""
    return [r for r in captured if r["method"] != "GET"
            and not r["route"].replace("{action}", str(r["path"].get("action", "")))
            .endswith(READ_ROUTES)]


def record_inputs(captured: list[dict[str, Any]], object_type: str) -> list[dict[str, Any]]:
    """Inputs of every batch create / update / upsert of one object type that was sent."""
    return [inp for r in writes(captured)
            if r["path"].get("objectType") == object_type
            and r["path"].get("action") in ("create", "update", "upsert")
            for inp in (r["json"] or {}).get("inputs", [])]


def norm_email(value: Any) -> str:
    return str(value or "").strip().lower()


def expected_writes(sb) -> set[str]:
    """Members the first run writes: in the filter and none of the three bad kinds."""
    bad = sb.anomalies()["members"]
    held = set(bad["invalid_email"]) | set(bad["missing_email"]) | set(bad["duplicate_email"])
    return {m["_id"] for m in sb.state.records("members")
            if m["_id"] not in held and m["status"] in MEMBER_STATUSES}


def xcom(run: dict[str, Any], task_id: str) -> Any:
    return run["dag_run"].get_task_instance(task_id).xcom_pull(task_ids=task_id)


def all_rejects(warehouse, entity: str) -> list[dict[str, Any]]:
    """Every row of the rejects table for an entity, open or resolved."""
    from sqlalchemy import select

    rj = warehouse.tables["rejects"]
    with warehouse.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(rj).where(rj.c.entity == entity).order_by(rj.c.id)).mappings()]


def assert_data_docs(run: dict[str, Any], entity: str) -> None:
    """The run's Data Docs: under AIRFLOW_HOME, in sync_runs and the validate XCom, and the
    site shows this entity's generated suite with its expectations."""
    path = run["details"]["data_docs"]
    assert path, f"{entity}: no Data Docs path in sync_runs details"
    home = Path(os.environ["AIRFLOW_HOME"]).resolve()
    index = Path(path)
    assert index.is_file() and index.name == "index.html"
    assert index.is_relative_to(home / "data_docs" / entity), index
    from hubspot_sync.validation import safe_name

    assert index.parent.name == safe_name(run["dag_run"].run_id)
    validate_xcom = xcom(run, "validate")
    assert validate_xcom["units"][entity]["data_docs"] == path
    site = index.parent
    suite = f"{entity}_generated_suite"
    assert suite in index.read_text(encoding="utf-8")
    # The suite's page and this run's validation page render the generated expectations
    # (GX's words for them, e.g. the required rule's "values must never be null").
    suite_page = site / "expectations" / f"{suite}.html"
    (validation_page,) = (site / "validations" / suite).rglob("*.html")
    for page in (suite_page, validation_page):
        html = page.read_text(encoding="utf-8")
        assert "values must never be null" in html and "values must be unique" in html, page


# --------------------------------------------------------------------------- seed anomalies

def test_seed_anomalies_are_rejected_with_their_rule_and_never_sent(sync_env, sent) -> None:
    sb = sync_env.officernd
    bad = sb.anomalies()
    runs = {e: sync_env.run(e) for e in ("companies", "members", "plans", "resources",
                                         "contracts")}
    assert {e: r["state"] for e, r in runs.items()} == dict.fromkeys(runs, "success")

    # The capture saw exactly the writes the sandbox counted: nothing went out around it.
    assert len(writes(sent)) == sum(r["write_calls"] for r in runs.values()) > 0

    wh = sync_env.warehouse
    members = {m["_id"]: m for m in sb.state.records("members")}

    def rejects_of(entity: str) -> dict[tuple[str, str], dict[str, Any]]:
        rows = wh.rejects_for_run(entity, runs[entity]["dag_run"].run_id).to_dict("records")
        return {(r["source_id"], r["rule"]): r for r in rows}

    # members -------------------------------------------------------------------------
    rj = rejects_of("members")
    assert bad["members"]["invalid_email"] and bad["members"]["missing_email"] \
        and bad["members"]["duplicate_email"], "the seed has every kind of bad member"
    for sid in bad["members"]["invalid_email"]:
        r = rj[(sid, "email")]
        assert r["property"] == "email" and r["source"] == "validation"
        assert r["value"] == norm_email(members[sid]["email"])
        assert r["reason"] == f"email '{r['value']}' is not a valid email address"
    for sid in bad["members"]["missing_email"]:
        r = rj[(sid, "required")]
        assert r["property"] == "email" and r["reason"] == "email is required but empty"
    for sid in bad["members"]["duplicate_email"]:
        r = rj[(sid, "unique")]
        email = norm_email(members[sid]["email"])
        twins = [m for m in members.values() if m["_id"] != sid and norm_email(m["email"]) == email]
        keeper = min(twins, key=lambda m: (m["modifiedAt"], m["_id"]))
        assert keeper["modifiedAt"] <= members[sid]["modifiedAt"]
        assert r["property"] == "email" and r["value"] == email
        assert r["reason"].startswith(f"email {email} is also used by {keeper['_id']}, "
                                      "which keeps it"), r["reason"]
        assert (keeper["_id"], "unique") not in rj
    bad_members = {s for k in ("invalid_email", "missing_email", "duplicate_email")
                   for s in bad["members"][k]}
    assert {s for s, _ in rj} == bad_members, "nothing else was rejected"
    assert runs["members"]["rejected"] == len(bad_members)
    assert runs["members"]["details"]["rule_counts"] == {
        "email": len(bad["members"]["invalid_email"]),
        "required": len(bad["members"]["missing_email"]),
        "unique": len(bad["members"]["duplicate_email"])}

    # plans: negative price -> range ----------------------------------------------------
    plans = {p["_id"]: p for p in sb.state.records("plans")}
    rj = rejects_of("plans")
    assert len(bad["plans"]["negative_price"]) == 2
    for sid in bad["plans"]["negative_price"]:
        r = rj[(sid, "range")]
        price = plans[sid]["price"]
        assert r["property"] == "price" and float(r["value"]) == price < 0
        assert r["reason"] == f"price {price:g} is below the minimum 0", r["reason"]
    assert {s for s, _ in rj} == set(bad["plans"]["negative_price"])

    # resources: "TBD" price -> number ---------------------------------------------------
    rj = rejects_of("resources")
    (tbd,) = bad["resources"]["non_numeric_price"]
    r = rj[(tbd, "number")]
    assert r["property"] == "price" and r["value"] == "TBD"
    assert r["reason"] == "price 'TBD' is not a number"
    assert (tbd, "range") not in rj, "a non-number is a number reject, not a range crash"
    assert {s for s, _ in rj} == {tbd}

    # contracts: end before start -> the mapping's pair expectation; outside 1900..2100 ->
    # date_range -------------------------------------------------------------------------
    contracts = {c["_id"]: c for c in sb.state.records("contracts")}
    rj = rejects_of("contracts")
    assert bad["contracts"]["dates_out_of_range"]
    for sid in bad["contracts"]["dates_out_of_range"]:
        start, end = contracts[sid]["startDate"][:10], contracts[sid]["endDate"][:10]
        expected_rules = set()
        if end < start:
            expected_rules.add(PAIR_RULE)
            assert rj[(sid, PAIR_RULE)]["reason"] == "the contract ends before it starts"
        if not "1900" <= start[:4] <= "2100" or not "1900" <= end[:4] <= "2100":
            expected_rules.add("date_range")
        assert expected_rules and {rule for s, rule in rj if s == sid} == expected_rules
    assert {s for s, _ in rj} == set(bad["contracts"]["dates_out_of_range"])

    # Nothing of a bad record went out: not its id (with prefix), not its bad value. -------
    prefixes = {"members": "", "plans": "plan-", "resources": "resource-",
                "contracts": "contract-"}
    bad_ids = {"members": bad_members, "plans": set(bad["plans"]["negative_price"]),
               "resources": {tbd}, "contracts": set(bad["contracts"]["dates_out_of_range"])}
    bodies = [json.dumps(r["json"]) for r in writes(sent)]
    for entity, ids in bad_ids.items():
        for sid in ids:
            assert not [b for b in bodies if sid in b], f"{entity} {sid} was sent to HubSpot"
    contact_inputs = record_inputs(sent, "contacts")
    assert len(contact_inputs) == len(expected_writes(sb))
    sent_emails = {norm_email(i["properties"].get("email")) for i in contact_inputs}
    for sid in bad["members"]["invalid_email"]:
        assert norm_email(members[sid]["email"]) not in sent_emails
    assert "" not in sent_emails, "no contact was sent without an email"
    emails = [norm_email(i["properties"].get("email")) for i in contact_inputs]
    assert len(emails) == len(set(emails)), "each email was sent for one member only"
    product_prices = [i["properties"].get("price") for i in record_inputs(sent, "products")]
    assert product_prices and "TBD" not in product_prices
    assert not [p for p in product_prices if p is not None and float(p) < 0]
    for sid in bad_ids["contracts"]:
        pair = (contracts[sid]["startDate"][:10], contracts[sid]["endDate"][:10])
        assert pair not in {(i["properties"].get("contract_start_date"),
                             i["properties"].get("contract_end_date"))
                            for i in record_inputs(sent, "deals")}

    # HubSpot holds none of them. ------------------------------------------------------
    stored = {
        "members": sync_env.records("contacts", ["officernd_id", "email"]),
        "plans": sync_env.records("products", ["officernd_id", "price"]),
        "contracts": sync_env.records("deals", ["officernd_id"]),
    }
    stored["resources"] = stored["plans"]
    line_items = sync_env.records("line_items", ["officernd_id"])
    assert line_items, "the valid contracts' line items were written"
    for entity, ids in bad_ids.items():
        held = {str(o["properties"].get("officernd_id")) for o in stored[entity]}
        assert held, entity
        assert not {prefixes[entity] + s for s in ids} & held, entity
    for sid in bad_ids["contracts"]:
        assert not [li for li in line_items
                    if str(li["properties"].get("officernd_id")).startswith(
                        f"contract-line-{sid}:")], "a rejected contract's line items wait"
    held_ids = {str(c["properties"].get("officernd_id")) for c in stored["members"]}
    assert held_ids == expected_writes(sb)

    # Every run built its Data Docs under AIRFLOW_HOME. ---------------------------------
    for entity, run in runs.items():
        assert_data_docs(run, entity)


# --------------------------------------------------------------------------- HubSpot refuses one

def test_hubspot_refusing_one_input_fails_only_that_record(sync_env, sent) -> None:
    sb = sync_env.officernd
    valid = expected_writes(sb)
    assert len(valid) >= 100, "the refused record shares its batch with many others"
    members = {m["_id"]: m for m in sb.state.records("members")}
    # A member in the middle of the valid ones (sent in the first batch of 100).
    victim = sorted(valid, key=lambda s: (members[s]["modifiedAt"], s))[50]
    email = norm_email(members[victim]["email"])
    sync_env.hubspot.configure_faults(refuse=[{"property": "email", "equals": email}])

    everything = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    run = sync_env.run("members", **everything)

    assert run["state"] == "success"
    assert run["failed"] == 1 and run["created"] == len(valid) - 1
    contacts = sync_env.contacts()
    assert len(contacts) == len(valid) - 1
    assert {c["properties"]["officernd_id"] for c in contacts} == valid - {victim}

    # The refused one: a reject from HubSpot with its category and message.
    open_ = sync_env.warehouse.open_rejects("members")
    mine = open_[open_["source_id"] == victim].to_dict("records")
    assert len(mine) == 1
    (reject,) = mine
    assert reject["source"] == "hubspot" and reject["rule"] == "hubspot_refused"
    assert reject["category"] == "VALIDATION_ERROR"
    assert f"input refused by the sandbox (email = {email})" in reject["reason"]
    assert reject["reason"].startswith("HubSpot refused the write (VALIDATION_ERROR)")
    assert set(open_[open_["source"] == "hubspot"]["source_id"]) == {victim}

    # load_outcomes: failed for it only; every neighbour of its batch written.
    outcomes = sync_env.warehouse.read_load_outcomes("members", run["dag_run"].run_id)
    by_sid = {o["source_id"]: o for o in outcomes.to_dict("records")}
    assert by_sid[victim]["status"] == "failed"
    assert by_sid[victim]["category"] == "VALIDATION_ERROR"
    assert "input refused by the sandbox" in by_sid[victim]["message"]
    assert set(outcomes[outcomes["status"] == "failed"]["source_id"]) == {victim}
    batch = next(r["json"]["inputs"] for r in writes(sent)
                 if r["path"].get("action") == "upsert"
                 and victim in [i["id"] for i in r["json"]["inputs"]])
    neighbours = {i["id"] for i in batch} - {victim}
    assert len(neighbours) >= 99, "the victim shared a full batch"
    assert all(by_sid[n]["status"] == "written" and by_sid[n]["hubspot_id"] for n in neighbours)
    upserts = [r for r in writes(sent) if r["path"].get("action") == "upsert"]
    assert len(upserts) == -(-len(valid) // 100), "one call per 100 inputs: no bisecting retries"

    # Refused again by the next run: still one open reject, seen twice, never "resolved"
    # in between (passing validation is not being written).
    again = sync_env.run("members", **everything)
    assert again["failed"] == 1 and again["created"] == again["updated"] == 0
    rows = [r for r in all_rejects(sync_env.warehouse, "members") if r["source_id"] == victim]
    assert len(rows) == 1, rows
    assert rows[0]["resolved_at"] is None and rows[0]["times_seen"] == 2
    assert rows[0]["run_id"] == again["dag_run"].run_id
    # The duplicate-email members now meet their twin's contact in HubSpot: a match
    # conflict, which replaces (resolves) their in-batch 'unique' reject of the first run.
    open_ = sync_env.warehouse.open_rejects("members")
    for dup in sb.anomalies()["members"]["duplicate_email"]:
        mine = open_[open_["source_id"] == dup]
        assert list(mine["rule"]) == ["match_conflict"], mine.to_dict("records")
        assert list(mine["run_id"]) == [again["dag_run"].run_id]

    # HubSpot accepts it once the cause is gone: written, and the reject is resolved.
    sync_env.hubspot.configure_faults()
    fixed = sync_env.run("members", **everything)
    assert fixed["failed"] == 0 and fixed["created"] == 1
    assert victim in {c["properties"]["officernd_id"] for c in sync_env.contacts()}
    rows = [r for r in all_rejects(sync_env.warehouse, "members") if r["source_id"] == victim]
    assert len(rows) == 1 and rows[0]["resolved_run_id"] == fixed["dag_run"].run_id
    assert victim not in set(sync_env.warehouse.open_rejects("members")["source_id"])


# --------------------------------------------------------------------------- fixed / not fixed

def test_fixed_record_is_synced_and_resolved_unfixed_is_reported_once(sync_env, sent) -> None:
    sb = sync_env.officernd
    first = sync_env.run("members")
    assert first["state"] == "success"
    invalid = sb.anomalies()["members"]["invalid_email"]
    fixed, unfixed, emptied = invalid[0], invalid[1], invalid[2]
    open_ = sync_env.warehouse.open_rejects("members")
    assert set(open_[open_["rule"] == "email"]["source_id"]) >= {fixed, unfixed, emptied}

    hour = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    window = {"since": hour.isoformat(), "until": (hour + timedelta(hours=1)).isoformat()}
    sb.set_clock(hour + timedelta(minutes=5))
    sb.patch_record("members", fixed, {"email": "Fixed.Member@Example.com "})
    sb.patch_record("members", unfixed, {"phone": "+44 20 7946 0000"})  # email still bad
    sb.patch_record("members", emptied, {"email": ""})  # bad in another way now
    bad_email = norm_email({m["_id"]: m for m in sb.state.records("members")}[unfixed]["email"])
    before = len(sent)

    second = sync_env.run("members", **window)

    assert second["state"] == "success"
    assert second["extracted"] == 3 and second["created"] == 1 and second["rejected"] == 2
    contact = {c["properties"]["officernd_id"]: c for c in sync_env.contacts()}
    assert contact[fixed]["properties"]["email"] == "fixed.member@example.com"
    assert unfixed not in contact
    assert [i["id"] for i in record_inputs(sent[before:], "contacts")] == [fixed]
    rows = {(r["source_id"], r["rule"]): r for r in all_rejects(sync_env.warehouse, "members")}
    resolved = rows[(fixed, "email")]
    assert resolved["resolved_at"] is not None
    assert resolved["resolved_run_id"] == second["dag_run"].run_id
    open_ = sync_env.warehouse.open_rejects("members")
    assert fixed not in set(open_["source_id"])
    # A record now failing another rule is explained by that rule only: the reason it
    # was rejected for before no longer holds.
    now_open = open_[open_["source_id"] == emptied]
    assert list(zip(now_open["rule"], now_open["reason"], strict=True)) == [
        ("required", "email is required but empty")]
    assert rows[(emptied, "email")]["resolved_run_id"] == second["dag_run"].run_id

    third = sync_env.run("members", **window)  # the same window again: seen again

    assert third["state"] == "success" and third["record_write_calls"] == 0
    assert third["unchanged"] == 1 and third["rejected"] == 2
    rows = [r for r in all_rejects(sync_env.warehouse, "members") if r["source_id"] == unfixed]
    assert len(rows) == 1, "one row per (source_id, rule, property), however often seen"
    (row,) = rows
    assert (row["rule"], row["property"], row["value"]) == ("email", "email", bad_email)
    assert row["resolved_at"] is None and row["times_seen"] == 3
    assert row["first_run_id"] == first["dag_run"].run_id
    assert row["run_id"] == third["dag_run"].run_id
    # Each run still reports it (rejects_for_run), and the fixed one is not reopened.
    for run in (first, second, third):
        seen = sync_env.warehouse.rejects_for_run("members", run["dag_run"].run_id)
        assert unfixed in set(seen["source_id"])
    assert fixed not in set(sync_env.warehouse.rejects_for_run(
        "members", third["dag_run"].run_id)["source_id"])
    assert len([r for r in all_rejects(sync_env.warehouse, "members")
                if r["source_id"] == fixed]) == 1


# --------------------------------------------------------------------------- threshold

def failure_message(output: str, exc_name: str) -> str | None:
    """The message of the exception a task failed with, from the task log (dag.test prints it)."""
    lines = output.splitlines()
    marker = f"{exc_name}: "
    for i, line in enumerate(lines):
        if line.startswith(marker):
            block = [line[len(marker):]]
            for nxt in lines[i + 1:]:
                if not nxt.strip() or re.match(r"^\d{4}-\d{2}-\d{2}T", nxt):
                    break
                block.append(nxt)
            return "\n".join(block)
    return None


def test_over_the_threshold_validate_fails_and_nothing_is_written(sync_env, sent, monkeypatch,
                                                                   capfd) -> None:
    import hubspot_sync.steps.context as context

    run_cls = context.EntityRun

    def strict(*args, **kwargs):
        run = run_cls(*args, **kwargs)
        run.mapping = run.mapping.model_copy(update={"max_rejected_ratio": 0.05})
        return run

    monkeypatch.setattr(context, "EntityRun", strict)
    bad = sync_env.officernd.anomalies()["members"]
    capfd.readouterr()

    run = sync_env.run("members")

    output = "\n".join(capfd.readouterr())
    assert run["state"] == "failed" and run["status"] == "failed"
    assert run["record_write_calls"] == 0
    assert not [r for r in writes(sent) if not r["route"].startswith("/crm/v3/properties")]
    assert sync_env.contacts() == []
    tis = {ti.task_id: str(getattr(ti.state, "value", ti.state))
           for ti in run["dag_run"].get_task_instances()}
    assert tis["validate"] == "failed"
    assert tis["load"] != "success" and tis["report"] != "success"
    assert run["created"] == run["updated"] == 0

    # The failing task's exception says which rules failed how often, with examples.
    text = failure_message(output, "airflow.sdk.exceptions.AirflowFailException")
    assert text is not None, "validate failed with an AirflowFailException"
    by_rule = {"email": bad["invalid_email"], "required": bad["missing_email"],
               "unique": bad["duplicate_email"]}
    n_bad = sum(len(ids) for ids in by_rule.values())
    assert re.match(rf"members: {n_bad} of \d+ records \(\d+\.\d%\) failed validation, over "
                    r"the mapping's max_rejected_ratio 5\.0%; nothing of this run is written",
                    text), text
    reasons = {"email": r"email '[^']*' is not a valid email address",
               "required": r"email is required but empty",
               "unique": r"email \S+ is also used by [0-9a-f]{24}, which keeps it"}
    for rule, ids in by_rule.items():
        assert f"\n  {rule}: {len(ids)} rejects\n" in text, rule
        examples = re.findall(rf"^    - ([0-9a-f]{{24}}): {reasons[rule]}", text, re.M)
        assert len(examples) == min(3, len(ids)) and set(examples) <= set(ids), (rule, text)
    assert run["details"]["data_docs"] and Path(run["details"]["data_docs"]).is_file()
    assert text.endswith(f"Data Docs: {run['details']['data_docs']}")
    assert run["details"]["rule_counts"] == {r: len(ids) for r, ids in by_rule.items()}
    # The rejects are kept, so the operator can see what to fix.
    open_ = sync_env.warehouse.open_rejects("members")
    assert set(open_["source_id"]) == {s for ids in by_rule.values() for s in ids}
