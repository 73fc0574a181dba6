"""A contract's plan entries as HubSpot line items: gained, lost and repriced entries followed
exactly, through the real DAG against both sandboxes."""

from __future__ import annotations

import pytest

from tests.e2e.test_all_entities import (
    LINE_ITEM_PROPS,
    association_types,
    by_id,
    fresh_hour,
    num,
    run_all,
)

pytestmark = pytest.mark.e2e

UPSERT = "/crm/v3/objects/{objectType}/batch/upsert"
ARCHIVE = "/crm/v3/objects/{objectType}/batch/archive"
ASSOCIATE = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create"


def test_line_items_follow_the_contracts_plan_entries(sync_env) -> None:
    sb = sync_env.officernd
    run_all(sync_env, ("companies", "plans", "contracts"))
    hook = sync_env.hook()
    deals = sync_env.warehouse.id_map("contracts")
    products = sync_env.warehouse.id_map("plans")
    plans, contracts = by_id(sb.state.records("plans")), by_id(sb.state.records("contracts"))
    contract_id = next(c for c in sorted(deals) if len(contracts[c]["plans"]) >= 2)
    deal_id = deals[contract_id]
    entries = [dict(e) for e in contracts[contract_id]["plans"]]
    items_before = len(sync_env.records("line_items", ["officernd_id"]))
    before = hook.read_associations("deals", "line_items", [deal_id])[deal_id]
    assert len(before) == len(entries)

    # The contract loses its first entry, reprices its second and gains a plan it lacked.
    removed, repriced = entries[0], entries[1]
    added_plan = next(p for p in sorted(products) if p not in {e["id"] for e in entries})
    repriced["price"] = round(repriced["price"] * 0.9, 2)
    added = {"id": added_plan, "count": 3, "price": 99.5, "deposit": 0,
             "increasePriceInRolling": False, "steps": []}
    new_entries = [*entries[1:], added]
    base_total = round(sum(e["count"] * e["price"] for e in new_entries), 2)
    window = fresh_hour(sync_env)
    sb.patch_record("contracts", contract_id, {"plans": new_entries, "baseTotal": base_total})

    run = sync_env.run("contracts", **window)

    assert run["state"] == "success" and run["extracted"] == 1 and run["updated"] == 1
    items_run = sync_env.warehouse.get_run("contracts_line_items", run["dag_run"].run_id)
    assert (items_run["created"], items_run["updated"]) == (1, 1)
    assert items_run["details"]["archived"] == 1
    # The deal's (live) line items in HubSpot are exactly the new entries, one each. (The
    # sandbox still lists associations of archived records; batch read returns live ones.)
    associated = hook.read_associations("deals", "line_items", [deal_id])[deal_id]
    items = hook.batch_read("line_items", associated, LINE_ITEM_PROPS)
    item_ids = [i["id"] for i in items]
    assert len(items) == len(set(item_ids)) == len(new_entries)
    got = {i["properties"]["officernd_id"]: i for i in items}
    assert set(got) == {f"contract-line-{contract_id}:{e['id']}" for e in new_entries}
    for entry in new_entries:
        props = got[f"contract-line-{contract_id}:{entry['id']}"]["properties"]
        assert props["name"] == plans[entry["id"]]["name"]
        assert props["quantity"] == num(entry["count"])
        assert props["price"] == num(entry["price"])
        assert props["hs_product_id"] == products[entry["id"]]
    for item_id in item_ids:
        assert association_types(sync_env, "line_items", item_id, "deals") == {deal_id: {20}}
    # The removed entry's line item is archived, not left dangling or deleted silently.
    archived = {i["properties"].get("officernd_id"): i["id"] for i in hook.list_objects(
        "line_items", ["officernd_id"], archived=True)}
    removed_key = f"contract-line-{contract_id}:{removed['id']}"
    assert removed_key in archived and archived[removed_key] in before
    assert archived[removed_key] not in item_ids
    assert len(sync_env.records("line_items", ["officernd_id"])) == items_before
    deal = hook.batch_read("deals", [deal_id], ["amount"])[0]
    assert deal["properties"]["amount"] == num(base_total)
    # Exactly those writes: the deal and the two line items (one upsert each object), the
    # archive, and the new line item's association with its deal.
    assert run["routes"].get(UPSERT) == 2 and run["routes"].get(ARCHIVE) == 1
    assert run["routes"].get(ASSOCIATE) == 1 and run["record_write_calls"] == 4, run["routes"]

    again = sync_env.run("contracts", **window)
    assert again["write_calls"] == 0, again["routes"]
    assert sync_env.warehouse.get_run("contracts_line_items",
                                      again["dag_run"].run_id)["details"].get("archived", 0) == 0
