"""extract_hubspot's rules: our records by the id property, adoption by match key."""

from __future__ import annotations

from hubspot_sync.steps.hubspot_side import (
    adopt,
    by_id_property,
    match_key_values,
    source_id_of,
)

from .conftest import rec


def test_only_records_carrying_our_prefixed_id_are_ours() -> None:
    assert source_id_of(rec("1", officernd_id="plan:p1"), "officernd_id", "plan:") == "p1"
    assert source_id_of(rec("2", officernd_id="res:r1"), "officernd_id", "plan:") is None
    assert source_id_of(rec("3"), "officernd_id", "") is None
    found = by_id_property([rec("1", officernd_id="m1"), rec("2")], "officernd_id", "")
    assert found == {"m1": ("1", "officernd_id", {"officernd_id": "m1"})}


def test_match_key_values_are_trimmed_lowercased_first_wins() -> None:
    key_of = match_key_values([("m1", {"email": " Ann@B.co "}), ("m2", {"email": "ann@b.co"}),
                               ("m3", {"email": ""}), ("m4", None), ("m5", {"email": 7})],
                              "email")
    assert key_of == {"ann@b.co": "m1"}


def test_adopt_by_match_key_keeps_earlier_finds_and_reports_owners() -> None:
    found = {"m1": ("9", "officernd_id", {})}
    key_of = {"ann@b.co": "m1", "bob@b.co": "m2", "cy@b.co": "m3"}
    owners = adopt([rec("10", email="ANN@b.co"), rec("11", email="bob@b.co"),
                    rec("12", email="cy@b.co", officernd_id="other"),
                    rec("13", email="nobody@b.co")], "email", key_of, found, "officernd_id")
    assert found["m1"] == ("9", "officernd_id", {})  # found by id first: not re-adopted
    assert found["m2"][:2] == ("11", "email") and found["m3"][:2] == ("12", "email")
    assert owners == {"12": "other"}  # already synced from another source record
