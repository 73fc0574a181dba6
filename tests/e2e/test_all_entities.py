"""Plans, resources, contracts (with line items) and opportunities end to end: dag.test()
against both sandboxes over HTTP, checked against the source record by record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import hold_back_company, write_calls

pytestmark = pytest.mark.e2e

ORDER = ("companies", "members", "plans", "resources", "contracts", "opportunities")
EVERYTHING = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
MAPPINGS = Path(__file__).resolve().parents[2] / "include" / "mappings"

PRODUCT_PROPS = ["name", "price", "description", "hs_sku", "hs_recurring_billing_period",
                 "recurringbillingfrequency", "officernd_plan_type", "officernd_resource_type",
                 "officernd_location", "officernd_id"]
DEAL_PROPS = ["dealname", "amount", "pipeline", "dealstage", "contract_start_date",
              "contract_end_date", "contract_type", "officernd_contract_number", "closedate",
              "officernd_probability", "officernd_id"]
LINE_ITEM_PROPS = ["name", "quantity", "price", "hs_product_id", "officernd_id"]
# The value and stage maps, restated here (not read from the mappings) so a wrong map fails.
CONTRACT_STAGES = {"draft": "appointmentscheduled", "not_signed": "contractsent",
                   "signed": "closedwon", "terminated": "closedlost", "canceled": "closedlost"}
OPPORTUNITY_STAGES = {"Open": "appointmentscheduled", "Tour booked": "qualifiedtobuy",
                      "Proposal": "presentationscheduled", "Negotiation": "decisionmakerboughtin",
                      "Won": "closedwon", "Lost": "closedlost"}
FREQUENCIES = {1: "monthly", 3: "quarterly", 6: "per_six_months", 12: "annually",
               24: "per_two_years"}
PAIR_RULE = "expect_column_pair_values_a_to_be_greater_than_b"


# --------------------------------------------------------------------------- expectations

def num(value) -> str | None:
    """A number as HubSpot stores it: no exponent, no trailing zeros."""
    if value in (None, ""):
        return None
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text == "-0" else text


def day(value) -> str | None:
    return value[:10] if value else None


def clean(props: dict) -> dict:
    """HubSpot omits empty properties: compare without them."""
    return {k: v for k, v in props.items() if v not in (None, "")}


def expected_plan(plan: dict) -> dict:
    monthly = plan.get("intervalLength") == "month"
    return clean({"name": plan["name"], "price": num(plan["price"]),
                  "description": plan.get("description"), "hs_sku": plan.get("code"),
                  "hs_recurring_billing_period": f"P{plan['intervalCount']}M" if monthly else None,
                  "recurringbillingfrequency": FREQUENCIES.get(plan["intervalCount"])
                  if monthly else None,
                  "officernd_plan_type": plan.get("type")})


def expected_resource(resource: dict, locations: dict) -> dict:
    return clean({"name": resource["name"], "price": num(resource["price"]),
                  "description": resource.get("description"),
                  "officernd_resource_type": resource.get("type"),
                  "officernd_location": (locations.get(resource.get("location")) or {})
                  .get("name")})


def expected_contract(contract: dict, companies: dict) -> dict:
    return clean({"dealname": f"{companies[contract['company']]['name']} {contract['number']}"
                  .strip(),
                  "amount": num(contract["baseTotal"]), "pipeline": "default",
                  "dealstage": CONTRACT_STAGES[contract["status"]],
                  "contract_start_date": day(contract.get("startDate")),
                  "contract_end_date": day(contract.get("endDate")),
                  "contract_type": contract.get("type"),
                  "officernd_contract_number": contract["number"]})


def expected_opportunity(opportunity: dict, statuses: dict) -> dict:
    return clean({"dealname": opportunity["name"].strip(), "amount": num(opportunity["dealSize"]),
                  "pipeline": "default",
                  "dealstage": OPPORTUNITY_STAGES[statuses[opportunity["status"]]["description"]],
                  "closedate": opportunity.get("startDate"),
                  "officernd_probability": num(opportunity.get("probability"))})


def picked(record: dict, keys) -> dict:
    return clean({k: (record["properties"].get(k) or "").strip() or None for k in keys})


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["_id"]: r for r in records}


def status_ids(sb) -> dict[str, str]:
    """OfficeRnD opportunity status description -> its _id."""
    return {s["description"]: s["_id"] for s in sb.state.records("opportunity-statuses")}


def run_all(sync_env, entities=ORDER, **conf) -> dict[str, dict]:
    runs = {}
    for entity in entities:
        runs[entity] = sync_env.run(entity, **conf)
        assert runs[entity]["state"] == "success", f"{entity}: {runs[entity]}"
    return runs


def fresh_hour(sync_env) -> dict:
    """Moves the OfficeRnD clock into an hour no record was changed in; the window of it."""
    hour = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    sync_env.officernd.set_clock(hour + timedelta(minutes=5))
    return {"since": hour.isoformat(), "until": (hour + timedelta(hours=1)).isoformat()}


def association_types(sync_env, from_type: str, from_id: str, to_type: str) -> dict[str, set]:
    """to id -> the association type ids HubSpot shows from from_id (both labels included)."""
    page = sync_env.hubspot.state.assoc_list(from_type, from_id, to_type)
    return {str(r["toObjectId"]): {t["typeId"] for t in r["associationTypes"]}
            for r in page["results"]}


def rules_of(rejects) -> dict[str, set[tuple]]:
    """source id -> {(rule, property)} of its open rejects."""
    out: dict[str, set[tuple]] = {}
    for row in rejects.to_dict("records"):
        out.setdefault(row["source_id"], set()).add((row["rule"], row["property"]))
    return out


# --------------------------------------------------------------------------- first sync

@pytest.mark.slow
def test_first_sync_matches_the_source_and_a_second_run_writes_nothing(sync_env) -> None:
    sb = sync_env.officernd
    # Two more contracts with dates out of range, so every kind of the anomaly is present
    # (end before start is in the seed): a start in 1899 and an end in 2999.
    seeded_bad = set(sb.anomalies()["contracts"]["dates_out_of_range"])
    spare = [c["_id"] for c in sb.state.records("contracts") if c["_id"] not in seeded_bad]
    sb.patch_record("contracts", spare[0], {"startDate": "1899-12-01T00:00:00.000Z"})
    sb.patch_record("contracts", spare[1], {"endDate": "2999-01-01T00:00:00.000Z"})
    # One company fails validation, so a valid contract has a company that is not synced.
    held_company = by_id(sb.state.records("contracts"))[spare[2]]["company"]
    hold_back_company(sb, held_company)

    runs = run_all(sync_env)

    bad = sb.anomalies()
    hook = sync_env.hook()
    plans, resources = by_id(sb.state.records("plans")), by_id(sb.state.records("resources"))
    contracts, opportunities = (by_id(sb.state.records("contracts")),
                                by_id(sb.state.records("opportunities")))
    companies = by_id(sb.state.records("companies"))
    locations = by_id(sb.state.records("locations"))
    statuses = by_id(sb.state.records("opportunity-statuses"))

    # ---- companies: all but the held-back one, those sharing a domain included
    shared = set(bad["companies"]["shared_domain"])
    assert shared, "the seed has companies sharing a domain"
    assert set(sync_env.warehouse.id_map("companies")) == set(companies) - {held_company}
    assert rules_of(sync_env.warehouse.open_rejects("companies")) == {
        held_company: {("domain", "domain")}}
    assert runs["companies"]["created"] == len(companies) - 1

    # ---- products: plans and resources share the object, never an officernd_id
    valid_plans = {i: p for i, p in plans.items() if i not in bad["plans"]["negative_price"]}
    valid_resources = {i: r for i, r in resources.items()
                       if i not in bad["resources"]["non_numeric_price"]}
    assert bad["plans"]["negative_price"] and bad["resources"]["non_numeric_price"]
    products = sync_env.records("products", PRODUCT_PROPS)
    product_ids = [p["properties"].get("officernd_id") for p in products]
    assert len(product_ids) == len(set(product_ids)), "no officernd_id twice"
    assert all(i.startswith(("plan-", "resource-")) for i in product_ids)
    assert len(products) == len(valid_plans) + len(valid_resources)
    product_by = {p["properties"]["officernd_id"]: p for p in products}
    assert {i for i in product_by if i.startswith("plan-")} == {f"plan-{i}" for i in valid_plans}
    assert {i for i in product_by if i.startswith("resource-")} == {
        f"resource-{i}" for i in valid_resources}
    for sid, plan in valid_plans.items():
        want = expected_plan(plan)
        assert picked(product_by[f"plan-{sid}"], want.keys() | set(PRODUCT_PROPS[:7])) == want, sid
    for sid, resource in valid_resources.items():
        want = expected_resource(resource, locations)
        keys = want.keys() | {"name", "price", "description", "officernd_resource_type",
                              "officernd_location"}
        assert picked(product_by[f"resource-{sid}"], keys) == want, sid
    assert sync_env.warehouse.id_map("plans") == {
        sid: product_by[f"plan-{sid}"]["id"] for sid in valid_plans}
    plan_rejects = rules_of(sync_env.warehouse.open_rejects("plans"))
    assert plan_rejects == {sid: {("range", "price")} for sid in bad["plans"]["negative_price"]}
    resource_rejects = rules_of(sync_env.warehouse.open_rejects("resources"))
    assert resource_rejects == {sid: {("number", "price")}
                                for sid in bad["resources"]["non_numeric_price"]}
    assert runs["plans"]["created"] == len(valid_plans)
    assert runs["plans"]["rejected"] == len(bad["plans"]["negative_price"])
    assert runs["resources"]["created"] == len(valid_resources)

    # ---- deals: contracts and opportunities
    out_of_range = bad["contracts"]["dates_out_of_range"]
    assert {spare[0], spare[1]} < set(out_of_range)
    valid_contracts = {i: c for i, c in contracts.items() if i not in out_of_range}
    on_hold = set(bad["opportunities"]["unmapped_status"])
    assert on_hold
    valid_opportunities = {i: o for i, o in opportunities.items() if i not in on_hold}
    deals = sync_env.records("deals", DEAL_PROPS)
    deal_by = {d["properties"].get("officernd_id"): d for d in deals}
    assert len(deal_by) == len(deals) == len(valid_contracts) + len(valid_opportunities)
    assert set(deal_by) == ({f"contract-{i}" for i in valid_contracts}
                            | {f"opportunity-{i}" for i in valid_opportunities})
    for sid, contract in valid_contracts.items():
        want = expected_contract(contract, companies)
        assert picked(deal_by[f"contract-{sid}"], DEAL_PROPS[:-1]) == want, sid
    for sid, opportunity in valid_opportunities.items():
        want = expected_opportunity(opportunity, statuses)
        assert picked(deal_by[f"opportunity-{sid}"], DEAL_PROPS[:-1]) == want, sid
    # Every out-of-range contract is held back by the rule its dates break.
    contract_rejects = rules_of(sync_env.warehouse.open_rejects("contracts"))
    assert set(contract_rejects) == set(out_of_range)
    for sid in out_of_range:
        start, end = contracts[sid]["startDate"], contracts[sid].get("endDate")
        if start < "1900":
            assert ("date_range", "contract_start_date") in contract_rejects[sid], sid
        if end and end > "2100":
            assert ("date_range", "contract_end_date") in contract_rejects[sid], sid
        if end and end < start and start >= "1900":
            assert PAIR_RULE in {rule for rule, _ in contract_rejects[sid]}, sid
    assert runs["contracts"]["created"] == len(valid_contracts)
    assert runs["contracts"]["rejected"] == len(out_of_range)
    # "On hold" has no stage: skipped with the reason, never rejected, never sent.
    delta = sync_env.warehouse.read_delta("opportunities", runs["opportunities"]["dag_run"].run_id)
    skipped = delta[delta["action"] == "skipped"]
    assert set(skipped["source_id"]) == on_hold
    assert all("On hold" in reason for reason in skipped["reason"])
    assert len(sync_env.warehouse.open_rejects("opportunities")) == 0
    assert runs["opportunities"]["skipped"] == len(on_hold)
    assert runs["opportunities"]["created"] == len(valid_opportunities)

    # ---- line items: one per plan entry of each synced contract, under its deal
    plan_products = sync_env.warehouse.id_map("plans")
    want_items = {f"contract-line-{cid}:{e['id']}": (cid, e)
                  for cid, c in valid_contracts.items() for e in c["plans"]}
    items = sync_env.records("line_items", LINE_ITEM_PROPS)
    item_by = {i["properties"].get("officernd_id"): i for i in items}
    assert len(item_by) == len(items) and set(item_by) == set(want_items)
    for oid, (_cid, entry) in want_items.items():
        assert picked(item_by[oid], LINE_ITEM_PROPS[:-1]) == clean({
            "name": plans[entry["id"]]["name"], "quantity": num(entry["count"]),
            "price": num(entry["price"]), "hs_product_id": plan_products[entry["id"]]}), oid
    item_deals = hook.read_associations("line_items", "deals", [i["id"] for i in items])
    for oid, (cid, _) in want_items.items():
        assert item_deals[item_by[oid]["id"]] == [deal_by[f"contract-{cid}"]["id"]], oid
    sample = item_by[next(iter(sorted(want_items)))]
    assert association_types(sync_env, "line_items", sample["id"], "deals") == {
        deal_by[f"contract-{want_items[sample['properties']['officernd_id']][0]}"]["id"]: {20}}
    # Line items of a held-back contract wait for it (never written without their deal).
    held_items = {f"{cid}:{e['id']}" for cid in out_of_range for e in contracts[cid]["plans"]}
    assert held_items <= set(sync_env.warehouse.open_rejects("contracts_line_items")["source_id"])

    # ---- associations
    company_ids = sync_env.warehouse.id_map("companies")
    contact_ids = sync_env.warehouse.id_map("members")
    contract_deals = {sid: deal_by[f"contract-{sid}"]["id"] for sid in valid_contracts}
    to_companies = hook.read_associations("deals", "companies", list(contract_deals.values()))
    to_contacts = hook.read_associations("deals", "contacts", list(contract_deals.values()))
    waiting = {(p["source_id"], p["to_entity"], p["to_source_id"])
               for p in sync_env.warehouse.pending_associations("contracts")}
    for sid, hid in contract_deals.items():
        company, member = contracts[sid]["company"], contracts[sid].get("member")
        if company in company_ids:
            assert to_companies[hid] == [company_ids[company]], sid
            assert association_types(sync_env, "deals", hid, "companies") == {
                company_ids[company]: {5, 341}}, "primary, and unlabeled with it"
        else:
            assert to_companies[hid] == [] and (sid, "companies", company) in waiting, sid
        if member in contact_ids:
            assert to_contacts[hid] == [contact_ids[member]], sid
        elif member:
            assert to_contacts[hid] == [] and (sid, "members", member) in waiting, sid
    assert any(c["company"] == held_company for c in valid_contracts.values()), \
        "a contract of the held-back company waits for it"
    opportunity_deals = {sid: deal_by[f"opportunity-{sid}"]["id"] for sid in valid_opportunities}
    to_companies = hook.read_associations("deals", "companies", list(opportunity_deals.values()))
    to_contacts = hook.read_associations("deals", "contacts", list(opportunity_deals.values()))
    for sid, hid in opportunity_deals.items():
        company, member = opportunities[sid].get("company"), opportunities[sid].get("member")
        assert to_companies[hid] == ([company_ids[company]] if company in company_ids else []), sid
        assert to_contacts[hid] == ([contact_ids[member]] if member in contact_ids else []), sid
    assert any(not o.get("member") for o in valid_opportunities.values())
    assert any(not o.get("company") for o in valid_opportunities.values())

    # ---- a second run over the same window writes nothing
    agains = {}
    for entity in ORDER[2:]:
        agains[entity] = again = sync_env.run(entity, **EVERYTHING)
        assert again["state"] == "success"
        assert again["write_calls"] == 0, (entity, again["routes"])
        assert again["created"] == again["updated"] == 0, entity
        assert again["unchanged"] == runs[entity]["created"], entity
    items_again = sync_env.warehouse.get_run("contracts_line_items",
                                             agains["contracts"]["dag_run"].run_id)
    assert items_again["created"] == items_again["updated"] == 0
    # Plans have no change filter: a plain manual run reads them all and writes nothing.
    plain = sync_env.run("plans")
    assert plain["extracted"] == len(plans)
    assert plain["write_calls"] == 0 and plain["unchanged"] == len(valid_plans)



# --------------------------------------------------------------------------- changes

def test_changes_write_only_the_changed_records_and_line_items(sync_env) -> None:
    sb = sync_env.officernd
    run_all(sync_env)
    window = fresh_hour(sync_env)
    bad = sb.anomalies()
    plan_ids = sorted(sync_env.warehouse.id_map("plans"))
    resource_ids = sorted(sync_env.warehouse.id_map("resources"))
    contract_ids = sorted(sync_env.warehouse.id_map("contracts"))
    opportunity_ids = sorted(sync_env.warehouse.id_map("opportunities"))
    plans, contracts = by_id(sb.state.records("plans")), by_id(sb.state.records("contracts"))
    # Contracts that reference the changed plans do not change themselves; those using the
    # renamed plan are read again for their line items' names (the plans lookup's refresh).
    sb.patch_record("plans", plan_ids[0], {"price": 1234.5})
    sb.patch_record("plans", plan_ids[1], {"name": "Renamed plan"})
    sb.patch_record("resources", resource_ids[0], {"price": 77.25})
    sb.patch_record("resources", resource_ids[1], {"name": "Renamed room"})
    # One contract gets a later end date; another a new price on one plan entry.
    sb.patch_record("contracts", contract_ids[0], {"endDate": "2031-06-30T00:00:00.000Z"})
    repriced = next(c for c in contract_ids[1:] if len(contracts[c]["plans"]) >= 2)
    entries = [dict(e) for e in contracts[repriced]["plans"]]
    entries[0]["price"] = round(entries[0]["price"] + 10.5, 2)
    base_total = round(sum(e["count"] * e["price"] for e in entries), 2)
    sb.patch_record("contracts", repriced, {"plans": entries, "baseTotal": base_total})
    sb.patch_record("opportunities", opportunity_ids[0], {"dealSize": 4321})
    sb.patch_record("opportunities", opportunity_ids[1], {"probability": 35})

    runs = run_all(sync_env, ORDER[2:], **window)

    def updates(entity: str, run: dict) -> dict[str, set]:
        delta = sync_env.warehouse.read_delta(entity, run["dag_run"].run_id, ["update"])
        return {r["source_id"]: set(r["changed_fields"]) for r in delta.to_dict("records")}

    # Plans have no change filter: all are read, only the two changed are written.
    assert runs["plans"]["extracted"] == len(plans)
    assert updates("plans", runs["plans"]) == {plan_ids[0]: {"price"}, plan_ids[1]: {"name"}}
    assert runs["plans"]["created"] == 0 and runs["plans"]["write_calls"] == 1
    assert runs["resources"]["extracted"] == 2
    assert updates("resources", runs["resources"]) == {resource_ids[0]: {"price"},
                                                       resource_ids[1]: {"name"}}
    assert runs["resources"]["write_calls"] == 1
    renamed_users = {c for c in contract_ids
                     if any(e["id"] == plan_ids[1] for e in contracts[c]["plans"])}
    reread = {contract_ids[0], repriced} | renamed_users
    assert runs["contracts"]["extracted"] == len(reread)
    assert updates("contracts", runs["contracts"]) == {contract_ids[0]: {"contract_end_date"},
                                                       repriced: {"amount"}}
    item_run = sync_env.warehouse.get_run("contracts_line_items",
                                          runs["contracts"]["dag_run"].run_id)
    assert item_run["extracted"] == sum(len(contracts[c]["plans"]) for c in reread)
    expected_items: dict[str, set] = {f"{repriced}:{entries[0]['id']}": {"price"}}
    for c in renamed_users:
        expected_items.setdefault(f"{c}:{plan_ids[1]}", set()).add("name")
    assert updates("contracts_line_items", runs["contracts"]) == expected_items
    assert item_run["created"] == 0 and item_run["updated"] == len(expected_items)
    # One upsert for the two deals, one for the line item; the associations are all there.
    assert runs["contracts"]["write_calls"] == 2, runs["contracts"]["routes"]
    assert runs["contracts"]["routes"]["/crm/v3/objects/{objectType}/batch/upsert"] == 2
    assert updates("opportunities", runs["opportunities"]) == {
        opportunity_ids[0]: {"amount"}, opportunity_ids[1]: {"officernd_probability"}}
    assert runs["opportunities"]["write_calls"] == 1
    # The bad plans are read again every run and stay held back; nothing else is.
    assert runs["plans"]["rejected"] == len(bad["plans"]["negative_price"])
    assert [runs[e]["rejected"] for e in ORDER[3:]] == [0, 0, 0]

    # HubSpot has the new values.
    products = {p["properties"]["officernd_id"]: p["properties"]
                for p in sync_env.records("products", ["name", "price", "officernd_id"])}
    assert products[f"plan-{plan_ids[0]}"]["price"] == "1234.5"
    assert products[f"plan-{plan_ids[1]}"]["name"] == "Renamed plan"
    assert products[f"resource-{resource_ids[0]}"]["price"] == "77.25"
    assert products[f"resource-{resource_ids[1]}"]["name"] == "Renamed room"
    deals = {d["properties"]["officernd_id"]: d["properties"] for d in sync_env.records(
        "deals", ["amount", "contract_end_date", "officernd_probability", "officernd_id"])}
    assert deals[f"contract-{contract_ids[0]}"]["contract_end_date"] == "2031-06-30"
    assert deals[f"contract-{repriced}"]["amount"] == num(base_total)
    assert deals[f"opportunity-{opportunity_ids[0]}"]["amount"] == "4321"
    assert deals[f"opportunity-{opportunity_ids[1]}"]["officernd_probability"] == "35"
    items = {i["properties"]["officernd_id"]: i["properties"]
             for i in sync_env.records("line_items", ["price", "officernd_id"])}
    repriced_item = items[f"contract-line-{repriced}:{entries[0]['id']}"]
    assert repriced_item["price"] == num(entries[0]["price"])


# --------------------------------------------------------------------------- stage map

def test_unmapped_status_is_skipped_until_it_moves_to_a_mapped_one(sync_env) -> None:
    sb = sync_env.officernd
    first = sync_env.run("opportunities")
    on_hold = sb.anomalies()["opportunities"]["unmapped_status"]
    delta = sync_env.warehouse.read_delta("opportunities", first["dag_run"].run_id, ["skipped"])
    reasons = dict(zip(delta["source_id"], delta["reason"], strict=True))
    assert set(reasons) == set(on_hold)
    assert all("On hold" in reason and "dealstage" in reason for reason in reasons.values())
    assert first["skipped"] == len(on_hold) and first["rejected"] == 0
    assert not sync_env.hook().batch_read("deals", [f"opportunity-{i}" for i in on_hold],
                                          ["dealstage"], id_property="officernd_id")

    window = fresh_hour(sync_env)
    moved = on_hold[0]
    sb.patch_record("opportunities", moved, {"status": status_ids(sb)["Won"]})
    second = sync_env.run("opportunities", **window)

    assert second["extracted"] == 1 and second["created"] == 1 and second["skipped"] == 0
    deal = sync_env.hook().batch_read("deals", [f"opportunity-{moved}"],
                                      ["dealstage", "pipeline", "dealname"],
                                      id_property="officernd_id")
    assert len(deal) == 1
    assert deal[0]["properties"]["dealstage"] == "closedwon"
    assert deal[0]["properties"]["pipeline"] == "default"
    assert sync_env.warehouse.id_map("opportunities", [moved]) == {moved: deal[0]["id"]}


def test_a_stage_map_naming_an_unknown_stage_fails_before_any_write(sync_env, tmp_path,
                                                                    monkeypatch, capsys) -> None:
    import hubspot_sync.steps.context as context
    from hubspot_sync.mapping import load_mapping
    from hubspot_sync.steps.properties import ensure_properties

    data = yaml.safe_load((MAPPINGS / "opportunities.yaml").read_text())
    stage_map = next(p for p in data["properties"] if p["to"] == "dealstage")
    stage_map["value_map"]["Won"] = "signedandsealed"
    (tmp_path / "opportunities.yaml").write_text(yaml.safe_dump(data))
    broken = load_mapping(tmp_path / "opportunities.yaml")

    run_cls = context.EntityRun

    def with_broken_map(*args, **kwargs):
        entity_run = run_cls(*args, **kwargs)
        if entity_run.entity == "opportunities":
            entity_run.mapping = broken
        return entity_run

    monkeypatch.setattr(context, "EntityRun", with_broken_map)
    failed = sync_env.run("opportunities")

    assert failed["state"] == "failed"
    assert failed["record_write_calls"] == 0, failed["routes"]
    # Not even the schema: the map is checked before any property is created.
    assert failed["write_calls"] == 0, failed["routes"]
    assert sync_env.hubspot.stats()["objects"].get("deals", 0) == 0
    ti = failed["dag_run"].get_task_instance("ensure_properties")
    assert str(getattr(ti.state, "value", ti.state)) == "failed"
    assert "value_map of dealstage names signedandsealed" in capsys.readouterr().out
    # The step's message names the stage HubSpot's pipeline lacks, and the stages it has.
    before = sync_env.hubspot.stats()
    step = run_cls(mapping=broken, run_id="check", _hook=sync_env.hook())
    with pytest.raises(context.ConfigurationError,
                       match=r"dealstage names signedandsealed.*closedwon"):
        ensure_properties(step)
    assert write_calls(sync_env.hubspot.stats()) == write_calls(before)


# --------------------------------------------------------------------------- pending

def test_a_contract_of_an_unsynced_company_is_associated_once_the_company_syncs(sync_env) -> None:
    sb = sync_env.officernd
    # Two companies fail validation (a url without a valid domain): their contracts wait.
    held = sorted({c["company"] for c in sb.state.records("contracts")})[:2]
    for company in held:
        hold_back_company(sb, company)
    run_all(sync_env, ("companies", "plans", "contracts"))
    company_ids = sync_env.warehouse.id_map("companies")
    contracts = by_id(sb.state.records("contracts"))
    deals = sync_env.warehouse.id_map("contracts")
    waiting = {p["source_id"]: p["to_source_id"]
               for p in sync_env.warehouse.pending_associations("contracts")
               if p["to_entity"] == "companies"}
    assert set(waiting.values()) == set(held), "contracts of the held-back companies wait"
    assert waiting == {sid: c["company"] for sid, c in contracts.items()
                       if sid in deals and c["company"] not in company_ids}
    contract_id, company = sorted(waiting.items())[0]
    assert sync_env.hook().read_associations("deals", "companies", [deals[contract_id]]) == {
        deals[contract_id]: []}

    window = fresh_hour(sync_env)
    sb.patch_record("companies", company, {"url": "https://now-valid-domain.example"})
    synced = sync_env.run("companies", **window)
    later = sync_env.run("contracts", **window)

    assert synced["created"] == 1
    assert later["extracted"] == 0 and later["created"] == later["updated"] == 0
    company_hid = sync_env.warehouse.id_map("companies")[company]
    assert association_types(sync_env, "deals", deals[contract_id], "companies") == {
        company_hid: {5, 341}}
    left = {(p["source_id"], p["to_source_id"])
            for p in sync_env.warehouse.pending_associations("contracts")
            if p["to_entity"] == "companies"}
    assert (contract_id, company) not in left
    assert left == {(s, c) for s, c in waiting.items() if c != company}
