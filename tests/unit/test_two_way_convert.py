"""HubSpot values back to OfficeRnD values: numbers, dates at midnight UTC, the inverse value
map, prefixes, nested paths merged into the current object, lookups to the record's id, and a
reason for what cannot be converted."""

from __future__ import annotations

from typing import Any

import pytest

from hubspot_sync.mapping import EntityMapping, PropertySpec
from hubspot_sync.transforms import map_property
from hubspot_sync.two_way.convert import ConversionError, inverse_value, to_officernd_payload

STAGES = {"Open": "appointmentscheduled", "Won": "closedwon", "Lost": "closedlost"}
STATUSES = [{"_id": "st1", "description": "Open"}, {"_id": "st2", "description": "Won"},
            {"_id": "st3", "description": "Lost"}]


def prop(**keys: Any) -> PropertySpec:
    return PropertySpec.model_validate({"from": "x", "to": "x", **keys})


def opportunities() -> EntityMapping:
    return EntityMapping.model_validate({
        "entity": "opportunities", "sync_mode": "two_way",
        "source": {"system": "officernd", "resource": "opportunities"},
        "lookups": {"status_record": {"resource": "opportunity-statuses", "key": "status"}},
        "hubspot": {"object": "deals"},
        "properties": [
            {"from": "name", "to": "dealname", "transform": "trim"},
            {"from": "dealSize", "to": "amount", "transform": "number"},
            {"from": "startDate", "to": "closedate", "transform": "date"},
            {"from": "status_record.description", "to": "dealstage", "value_map": STAGES},
            {"from": "address.street", "to": "address"},
            {"from": "address.city", "to": "city"},
        ]})


@pytest.mark.parametrize(("keys", "hubspot", "officernd"), [
    ({}, "+47 22 00", "+47 22 00"),
    ({}, "  ", None),
    ({}, None, None),
    ({"transform": "number"}, "1200.5", 1200.5),
    ({"transform": "number"}, "1200", 1200),
    ({"transform": ["trim", {"round": 2}]}, "12.50", 12.5),
    ({"transform": "integer"}, "7", 7),
    ({"transform": "date"}, "2026-12-07", "2026-12-07T00:00:00.000Z"),
    ({"transform": "date"}, "1796601600000", "2026-12-07T00:00:00.000Z"),  # epoch ms
    ({"transform": "datetime"}, "2026-12-07T10:30:00.000Z", "2026-12-07T10:30:00.000Z"),
    ({"transform": {"prefix": "M-"}}, "M-42", "42"),
    ({"transform": "iso_months"}, "P6M", 6),
    ({"transform": "email"}, "ann@example.com", "ann@example.com"),
    ({"value_map": STAGES}, "closedwon", "Won"),
    ({"value_map": {"true": "Yes", "false": "No"}}, "No", "false"),
    ({"value_map": STAGES, "on_unmapped": "keep"}, "contractsent", "contractsent"),
])
def test_inverse_value(keys: dict[str, Any], hubspot: str | None, officernd: Any) -> None:
    assert inverse_value(prop(**keys), hubspot) == officernd


@pytest.mark.parametrize(("hubspot_type", "hubspot", "officernd"), [
    ("number", "3.0", 3), ("date", "2026-01-02", "2026-01-02T00:00:00.000Z"),
    ("datetime", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"),
    ("bool", "true", True), ("bool", "false", False), ("string", "007", "007"),
])
def test_the_hubspot_type_types_an_untransformed_value(hubspot_type: str, hubspot: str,
                                                       officernd: Any) -> None:
    assert inverse_value(prop(), hubspot, hubspot_type) == officernd


@pytest.mark.parametrize(("keys", "hubspot", "reason"), [
    ({"transform": "number"}, "twelve", "'twelve' is not a number"),
    ({"transform": "date"}, "someday", "'someday' is not a date"),
    ({"transform": {"prefix": "M-"}}, "X-42",
     "'X-42' does not start with the prefix 'M-' the mapping adds"),
    ({"transform": "iso_months"}, "6 months", "'6 months' is not a period of months (P6M)"),
    ({"value_map": STAGES}, "contractsent",
     "'contractsent' is not in the value map of x (known: appointmentscheduled, closedlost, "
     "closedwon)"),
])
def test_what_cannot_be_converted_says_why(keys: dict[str, Any], hubspot: str,
                                           reason: str) -> None:
    with pytest.raises(ConversionError) as caught:
        inverse_value(prop(**keys), hubspot)
    assert caught.value.reason == reason and caught.value.property == "x"
    assert caught.value.value == hubspot


@pytest.mark.parametrize("value", ["closedwon", "12.5", "2026-12-07"])
def test_forward_of_inverse_is_the_hubspot_value(value: str) -> None:
    """Round trip: what is written back maps forward to the value HubSpot holds."""
    mapping = opportunities()
    checked = 0
    for p in mapping.properties[1:4]:  # amount, closedate, dealstage: one takes each value
        try:
            back = inverse_value(p, value)
        except ConversionError:
            continue
        context = {"status_record": {"description": back}} if p.to == "dealstage" \
            else {p.from_: back}
        assert map_property(p, context)[0] == value
        checked += 1
    assert checked == 1


def test_payload_merges_nested_objects_and_resolves_lookups() -> None:
    current = {"name": "Deal", "address": {"street": "Old 1", "city": "Oslo", "zip": "0150"}}
    payload = to_officernd_payload(
        opportunities(), {"address": "New 2", "dealstage": "closedwon", "amount": "900",
                          "closedate": "2026-12-07"},
        current, {"status_record": STATUSES})
    assert payload == {"address": {"street": "New 2", "city": "Oslo", "zip": "0150"},
                       "status": "st2", "dealSize": 900,
                       "startDate": "2026-12-07T00:00:00.000Z"}
    assert current["address"]["street"] == "Old 1"  # the record is not changed in place
    both_parts = to_officernd_payload(opportunities(), {"address": "New 2", "city": None},
                                      current, {})
    assert both_parts == {"address": {"street": "New 2", "city": None, "zip": "0150"}}
    created = to_officernd_payload(opportunities(), {"address": "New 2"}, {}, {})
    assert created == {"address": {"street": "New 2"}}


def test_lookup_candidates_by_id_and_a_cleared_lookup() -> None:
    by_id = {"st9": {"description": "Won"}}
    assert to_officernd_payload(opportunities(), {"dealstage": "closedwon"}, {},
                                {"status_record": by_id}) == {"status": "st9"}
    assert to_officernd_payload(opportunities(), {"dealstage": None}, {},
                                {"status_record": by_id}) == {"status": None}


@pytest.mark.parametrize(("changes", "current", "lookups", "reason"), [
    ({"dealstage": "closedlost"}, {}, {"status_record": STATUSES[:2]},
     "no OfficeRnD opportunity-statuses record has description 'Lost'"),
    ({"dealstage": "closedwon"}, {},
     {"status_record": [*STATUSES, {"_id": "st4", "description": "Won"}]},
     "2 OfficeRnD opportunity-statuses records have description 'Won'; which is meant is "
     "ambiguous"),
    ({"city": "Bergen"}, {"address": "Storgata 1"}, {},
     "the OfficeRnD field 'address' is not an object; cannot set address.city"),
    ({"nothing": "x"}, {}, {}, "'nothing' is not mapped from an OfficeRnD field"),
])
def test_payload_errors(changes: dict[str, Any], current: dict[str, Any],
                        lookups: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConversionError) as caught:
        to_officernd_payload(opportunities(), changes, current, lookups)
    assert caught.value.reason == reason
