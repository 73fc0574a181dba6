"""The call floor: the fewest HubSpot calls the work of a run allows, per kind of call."""

from __future__ import annotations

from hubspot_sync.call_floor import RunWork, batches, match_key_lookups


def test_batches_round_up_per_hundred_and_none_for_nothing() -> None:
    assert [batches(n) for n in (0, 1, 100, 101, 1000)] == [0, 1, 1, 2, 10]
    assert batches(1001, 1000) == 2


def test_each_kind_of_call_rounds_up_on_its_own() -> None:
    work = RunWork(id_lookups=1000, key_lookups={"email": 23}, association_reads={"companies": 977},
                   upserts=750, flags=41, association_writes=19)
    assert work.calls() == {"id_lookups": 10, "lookup_by_email": 1,
                            "associations_read_companies": 1, "upserts": 8, "flags": 1,
                            "association_writes": 1}
    assert work.floor() == 22


def test_a_run_with_nothing_to_do_has_floor_zero() -> None:
    assert RunWork().floor() == 0 and RunWork().calls() == {}


def test_match_keys_are_asked_only_for_records_not_found_before() -> None:
    rows = [("a", {"email": "A@x.com "}), ("b", {"email": "a@x.com"}), ("c", {"email": ""}),
            ("d", {"email": "d@x.com", "domain": "x.com"}), ("e", None),
            ("f", {"email": "f@x.com", "domain": "f.com"})]
    matched = {"d": "officernd_id", "f": "email"}
    # a and b share one value; c has none; d was found by the id property; f by email.
    assert match_key_lookups(rows, matched, "officernd_id", ["email", "domain"]) == {
        "email": 2}
    assert match_key_lookups(rows, {}, "officernd_id", ["domain"]) == {"domain": 2}
