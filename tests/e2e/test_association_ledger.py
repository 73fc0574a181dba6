"""Associations that follow the source, through the real DAGs against both sandboxes: a
member moving company and a contract changing company end with exactly the new sync-made
association while one a person made in HubSpot stays; a contract whose plan list empties
has its line items archived; a renamed plan renames its line items on the next contracts
run although no contract changed, writing only those line items."""

from __future__ import annotations

import pytest

from tests.e2e.test_all_entities import (
    LINE_ITEM_PROPS,
    association_types,
    by_id,
    fresh_hour,
    run_all,
)

pytestmark = [pytest.mark.e2e, pytest.mark.officernd_scale(60)]

ARCHIVE = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/archive"
CREATE = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create"
UPSERT = "/crm/v3/objects/{objectType}/batch/upsert"
OBJECT_ARCHIVE = "/crm/v3/objects/{objectType}/batch/archive"


def person_links(sync_env, from_type: str, from_id: str, to_id: str) -> None:
    """An association a person makes in HubSpot (straight into the sandbox, not the sync)."""
    sync_env.hubspot.state.assoc_put_default(from_type, from_id, "companies", to_id)


def test_members_moving_company_keep_only_the_new_sync_association(sync_env) -> None:
    sb = sync_env.officernd
    run_all(sync_env, ("companies", "members"))
    contacts, companies = sync_env.warehouse.id_map("members"), sync_env.warehouse.id_map(
        "companies")
    members = by_id(sb.state.records("members"))
    moved = [m for m in sorted(contacts) if members[m].get("company") in companies][:5]
    assert len(moved) == 5
    ledger = {(e["source_id"], e["to_source_id"]) for e in sync_env.warehouse.ledger("members")}
    assert {(m, members[m]["company"]) for m in moved} <= ledger
    first, old = moved[0], members[moved[0]]["company"]
    new = next(c for c in sorted(companies) if c != old)
    personal = next(c for c in sorted(companies) if c not in (old, new))
    person_links(sync_env, "contacts", contacts[first], companies[personal])

    window = fresh_hour(sync_env)
    targets = {}
    for i, member in enumerate(moved):
        targets[member] = new if i == 0 else next(
            c for c in sorted(companies) if c != members[member]["company"])
        sb.patch_record("members", member, {"company": targets[member]})
    run = sync_env.run("members", **window)

    assert run["state"] == "success" and run["extracted"] == len(moved)
    assert association_types(sync_env, "contacts", contacts[first], "companies") == {
        companies[new]: {1, 279}, companies[personal]: {279}}
    for member in moved:
        assert association_types(sync_env, "contacts", contacts[member], "companies") \
            .keys() >= {companies[targets[member]]}
        assert companies[members[member]["company"]] not in association_types(
            sync_env, "contacts", contacts[member], "companies")
    # One removal call and one create call for the five moves; the ledger follows.
    assert run["routes"].get(ARCHIVE) == 1 and run["routes"].get(CREATE) == 1, run["routes"]
    details = run["details"]
    assert details["removed_associations"] == len(moved)
    ledger = {(e["source_id"], e["to_source_id"]) for e in sync_env.warehouse.ledger("members")}
    assert {(m, targets[m]) for m in moved} <= ledger
    assert not {(m, members[m]["company"]) for m in moved} & ledger
    assert (first, personal) not in ledger

    again = sync_env.run("members", **window)
    assert again["write_calls"] == 0, again["routes"]
    assert association_types(sync_env, "contacts", contacts[first], "companies") == {
        companies[new]: {1, 279}, companies[personal]: {279}}


def test_contracts_follow_company_changes_emptied_plans_and_renamed_plans(sync_env) -> None:
    sb = sync_env.officernd
    run_all(sync_env, ("companies", "plans", "contracts"))  # members: not needed here
    hook, wh = sync_env.hook(), sync_env.warehouse
    deals, companies = wh.id_map("contracts"), wh.id_map("companies")
    contracts = by_id(sb.state.records("contracts"))
    with_plans = [c for c in sorted(deals) if contracts[c].get("plans")
                  and contracts[c].get("company") in companies]
    moving, emptied = with_plans[0], with_plans[1]
    old = contracts[moving]["company"]
    new = next(c for c in sorted(companies) if c != old)
    personal = next(c for c in sorted(companies) if c not in (old, new))
    person_links(sync_env, "deals", deals[moving], companies[personal])
    emptied_items = hook.read_associations("deals", "line_items", [deals[emptied]])[
        deals[emptied]]
    assert emptied_items

    window = fresh_hour(sync_env)
    sb.patch_record("contracts", moving, {"company": new})
    sb.patch_record("contracts", emptied, {"plans": [], "baseTotal": 0})
    run = sync_env.run("contracts", **window)

    assert run["state"] == "success", run
    assert association_types(sync_env, "deals", deals[moving], "companies") == {
        companies[new]: {5, 341}, companies[personal]: {341}}
    live = hook.batch_read("line_items", emptied_items, ["officernd_id"])
    assert live == []  # every line item of the emptied contract is archived
    items_run = wh.get_run("contracts_line_items", run["dag_run"].run_id)
    assert items_run["details"]["archived"] == len(emptied_items)
    assert run["routes"].get(OBJECT_ARCHIVE) == 1 and run["routes"].get(ARCHIVE) == 1

    # A plan used by contracts that do not change is renamed in OfficeRnD.
    plans = by_id(sb.state.records("plans"))
    plan_id = next(p["id"] for c in with_plans[2:] for p in contracts[c]["plans"])
    users = {c for c in with_plans if c not in (moving, emptied)
             and plan_id in {p["id"] for p in contracts[c]["plans"]}}
    sb.patch_record("plans", plan_id, {"name": plans[plan_id]["name"] + " (renamed)"})
    rename = sync_env.run("contracts", **fresh_hour(sync_env))

    assert rename["state"] == "success" and rename["updated"] == 0
    items = wh.get_run("contracts_line_items", rename["dag_run"].run_id)
    assert items["updated"] == len(users) and items["created"] == 0
    keys = [f"contract-line-{c}:{plan_id}" for c in sorted(users)]
    found = hook.batch_read("line_items", keys, LINE_ITEM_PROPS, id_property="officernd_id")
    assert {i["properties"]["name"] for i in found} == {plans[plan_id]["name"] + " (renamed)"}
    # Only those line items are written: one upsert call, nothing else.
    assert rename["record_write_calls"] == 1 and rename["routes"].get(UPSERT) == 1, \
        rename["routes"]
    # The next run finds nothing more to follow (the new names are remembered).
    quiet = sync_env.run("contracts", **fresh_hour(sync_env))
    assert quiet["write_calls"] == 0, quiet["routes"]
    assert wh.get_run("contracts_line_items", quiet["dag_run"].run_id)["updated"] == 0
