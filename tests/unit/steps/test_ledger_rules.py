"""The association ledger's rules: which sync-made associations are stale, how each is
removed without touching what people made, which existing pairs count as the sync's; and
the lookup references that make line items follow a renamed plan."""

from __future__ import annotations

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.steps import ledger_rules as rules
from hubspot_sync.steps import lookup_refresh

LINKS = {("companies", 1): ["company"]}  # members: primary contact -> company


def entry(sid="m1", hid="c1", to="co1", to_hid="h1", type_id=1, **extra):
    return {"source_id": sid, "hubspot_id": hid, "to_entity": "companies", "to_source_id": to,
            "to_hubspot_id": to_hid, "type_id": type_id, **extra}


def row(sid="m1", company="co2", skip=None):
    return {"source_id": sid, "links": {"company": company}, "skip_reason": skip}


def objects(entity: str) -> str:
    return {"companies": "companies", "members": "contacts"}[entity]


def base(to_object: str) -> int | None:
    return {"companies": 279, "deals": 4}.get(to_object)


# --------------------------------------------------------------------------- stale rows

def test_a_moved_or_cleared_link_makes_the_old_pair_stale() -> None:
    ledger = [entry(), entry(sid="m2"), entry(sid="m3"), entry(sid="m4", to="co9")]
    rows = [row("m1", "co2"), row("m2", None), row("m3", "co1"), row("m4", "co2")]
    stale = rules.stale_rows(ledger, rows, LINKS, skip=set())
    assert [e["source_id"] for e in stale] == ["m1", "m2", "m4"]


def test_records_not_judged_this_run_keep_their_pairs() -> None:
    ledger = [entry(sid="m1"), entry(sid="m2"), entry(sid="m3", type_id=279)]
    rows = [row("m1", "co2", skip="status 'x' is not one of ..."), row("m2", "co2"),
            row("m3", "co2")]
    # m1 skipped, m2 rejected, m3's pair is of a type the mapping no longer makes
    assert rules.stale_rows(ledger, rows, LINKS, skip={"m1", "m2"}) == []
    assert rules.stale_rows(ledger, [row("m9")], LINKS, skip=set()) == []  # not read


# --------------------------------------------------------------------------- removals

def test_a_pair_with_only_the_syncs_types_is_removed_whole() -> None:
    current = {"c1": {"companies": {"h1": [1, 279], "h2": [1, 279], "h7": [279]}}}
    plan = rules.plan_removals([entry()], [entry()], current, objects, base, wanted=set())
    assert dict(plan.whole) == {"companies": [("c1", "h1")]} and not plan.labels
    assert plan.forget == [("m1", "companies", "h1", 1)] and plan.removed == 1


def test_a_person_label_on_the_same_pair_survives() -> None:
    # a person added label 17 to the pair the sync made primary: only primary goes
    current = {"c1": {"companies": {"h1": [1, 17, 279]}}}
    plan = rules.plan_removals([entry()], [entry()], current, objects, base, wanted=set())
    assert not plan.whole and dict(plan.labels) == {"companies": [("c1", "h1", 1)]}
    # the sync made only the unlabeled base: removing it would take label 17 with it
    unl = entry(type_id=279)
    current = {"c1": {"companies": {"h1": [17, 279]}}}
    plan = rules.plan_removals([unl], [unl], current, objects, base, wanted=set())
    assert plan.removed == 0 and plan.forget == []
    assert "17" in plan.kept[0]["reason"]


def test_a_pair_hubspot_no_longer_has_is_forgotten_without_a_call() -> None:
    for current in ({}, {"c1": {"companies": {"h1": [279]}}}):  # gone, or primary removed
        plan = rules.plan_removals([entry()], [entry()], current, objects, base, set())
        assert plan.removed == 0 and plan.forget == [("m1", "companies", "h1", 1)]


def test_a_stale_type_on_a_pair_still_wanted_loses_only_that_type() -> None:
    current = {"c1": {"companies": {"h1": [1, 279]}}}
    plan = rules.plan_removals([entry()], [entry()], current, objects, base,
                               wanted={("c1", "companies", "h1")})
    assert not plan.whole and dict(plan.labels) == {"companies": [("c1", "h1", 1)]}


# --------------------------------------------------------------------------- confirmations

def wanted_pair(type_id=1, to_hid="h1"):
    return {"source_id": "m1", "hubspot_id": "c1", "to_entity": "companies",
            "to_source_id": "co1", "to_hubspot_id": to_hid, "to_object": "companies",
            "type_id": type_id}


def test_existing_pairs_that_look_exactly_like_the_syncs_are_confirmed() -> None:
    current = {"c1": {"companies": {"h1": [1, 279], "h2": [1, 17, 279], "h3": [279]}}}
    got = rules.confirmed([wanted_pair(), wanted_pair(to_hid="h2"), wanted_pair(to_hid="h3"),
                           wanted_pair(to_hid="h4")], current, base, known=set())
    # h2 carries a person's label, h3 lacks the sync's primary, h4 is not in HubSpot
    assert [(c["to_hubspot_id"], c["origin"]) for c in got] == [("h1", "confirmed")]
    assert "to_object" not in got[0]
    assert rules.confirmed([wanted_pair()], current, base,
                           known={("m1", "companies", "h1", 1)}) == []


# --------------------------------------------------------------------------- lookups

def contracts_mapping(refresh: bool = True) -> EntityMapping:
    return EntityMapping.model_validate({
        "entity": "contracts_line_items",
        "source": {"system": "officernd", "resource": "contracts"},
        "lookups": {"plan": {"resource": "plans", "key": "item.id", "refresh": refresh}},
        "hubspot": {"object": "line_items"},
        "properties": [{"template": "{plan.name}", "to": "name"},
                       {"from": "item.price", "to": "price"}]})


def test_references_digest_only_the_fields_the_mapping_reads() -> None:
    mapping = contracts_mapping()
    assert lookup_refresh.lookup_fields(mapping, "plan") == ["name"]
    ctx = {"item": {"id": "p1"}, "plan": {"_id": "p1", "name": "Desk", "price": 10}}
    repriced = {**ctx, "plan": {**ctx["plan"], "price": 12}}
    renamed = {**ctx, "plan": {**ctx["plan"], "name": "Hot desk"}}
    refs = lookup_refresh.references(mapping, [ctx, repriced, renamed, {"item": {}}])
    assert refs[0] == refs[1] and refs[0]["plan"][0] == "p1"
    assert refs[2]["plan"] != refs[0]["plan"] and refs[3] == {}
    assert lookup_refresh.references(contracts_mapping(refresh=False), [ctx]) == [{}]


def test_a_lookup_named_as_its_key_field_references_the_id_not_the_record() -> None:
    """``company: {key: company}`` puts the company record where its id was: the reference
    must still be the id (a dict here overflowed lookup_refs.lookup_id on PostgreSQL and
    never matched a changed company)."""
    from hubspot_sync.steps.extract import with_lookups

    class Companies:
        def get_many(self, resource: str, ids: list[str]) -> dict[str, dict]:
            assert resource == "companies"
            return {i: {"_id": i, "name": f"Company {i}"} for i in ids}

    mapping = EntityMapping.model_validate({
        "entity": "contracts",
        "source": {"system": "officernd", "resource": "contracts"},
        "lookups": {"company": {"resource": "companies", "key": "company"}},
        "hubspot": {"object": "deals"},
        "properties": [{"template": "{company.name} {number}", "to": "dealname"}]})
    contexts = with_lookups(Companies(), [{"_id": "k1", "company": "co1", "number": "7"},
                                          {"_id": "k2", "company": None, "number": "8"}],
                            mapping.lookups)
    assert contexts[0]["company"]["name"] == "Company co1"
    refs = lookup_refresh.references(mapping, contexts)
    assert refs[0]["company"][0] == "co1" and refs[1] == {}
    # Without the kept join keys (a context built elsewhere), the record's _id is used.
    bare = {k: v for k, v in contexts[0].items() if k != lookup_refresh.JOIN_KEYS}
    assert lookup_refresh.references(mapping, [bare])[0]["company"][0] == "co1"


def test_the_guard_stops_mass_removals_only() -> None:
    assert rules.guard_message("members", 19, 20, 0.05, 20) is None  # under the minimum
    assert rules.guard_message("members", 25, 1000, 0.05, 20) is None  # 2.5 %
    message = rules.guard_message("members", 60, 300, 0.05, 20)
    assert message is not None and "60 of the 300" in message and "confirm_deletes" in message
    assert rules.guard_message("members", 0, 0, 0.05, 0) is None


def test_an_association_that_does_not_follow_the_source_is_never_stale() -> None:
    mapping = EntityMapping.model_validate({
        "entity": "members", "source": {"system": "officernd", "resource": "members"},
        "hubspot": {"object": "contacts"}, "properties": [{"from": "email", "to": "email"}],
        "associations": [{"to": "companies", "via": "company", "follow_source": False}]})
    assert mapping.associations[0].follow_source is False
    assert mapping.max_removed_associations_ratio == 0.05
