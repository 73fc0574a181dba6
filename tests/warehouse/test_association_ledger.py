"""The association ledger and the lookup references on SQLite and PostgreSQL: a pair is held
once (its first origin kept), forgotten by key or with its record; references of a parent's
records are replaced as a whole."""

from __future__ import annotations


def pair(sid: str, to_hid: str, type_id: int = 1, origin: str = "created") -> dict:
    return {"source_id": sid, "hubspot_id": f"h-{sid}", "to_entity": "companies",
            "to_source_id": f"co-{to_hid}", "to_hubspot_id": to_hid, "type_id": type_id,
            "origin": origin}


def test_ledger_holds_each_pair_once_and_forgets_by_key_or_record(wh) -> None:
    assert wh.record_associations("members", "r1", [pair("m1", "1"), pair("m2", "2")]) == 2
    assert wh.record_associations("members", "r2", [pair("m1", "1", origin="confirmed"),
                                                    pair("m1", "3")]) == 1
    rows = wh.ledger("members", ["m1"])
    assert [(r["to_hubspot_id"], r["origin"], r["made_in_run"]) for r in rows] == [
        ("1", "created", "r1"), ("3", "created", "r2")]
    assert wh.ledger_size("members") == 3 and wh.ledger_size("contracts") == 0
    assert wh.forget_associations("members", [("m1", "companies", "1", 1),
                                              ("m1", "companies", "1", 279)]) == 1
    assert wh.forget_records_associations("members", ["m2"]) == 1
    assert [(r["source_id"], r["to_hubspot_id"]) for r in wh.ledger("members")] == [("m1", "3")]


def test_lookup_refs_of_a_parent_are_replaced_as_a_whole(wh) -> None:
    def ref(sid: str, parent: str, plan: str, digest: str = "d1") -> dict:
        return {"source_id": sid, "parent_source_id": parent, "lookup": "plan",
                "lookup_id": plan, "digest": digest}

    wh.write_lookup_refs("contracts_line_items", "r1", ["c1", "c2"],
                         [ref("c1:p1", "c1", "p1"), ref("c1:p2", "c1", "p2"),
                          ref("c2:p1", "c2", "p1")])
    # c1's plan list emptied: its references go; c2's stay as they were
    wh.write_lookup_refs("contracts_line_items", "r2", ["c1"], [])
    refs = wh.lookup_refs("contracts_line_items", "plan", ["p1", "p2"])
    assert [(r["source_id"], r["digest"], r["run_id"]) for r in refs] == [("c2:p1", "d1", "r1")]
    assert wh.lookup_refs("contracts_line_items", "company") == []
