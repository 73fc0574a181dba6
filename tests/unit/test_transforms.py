"""Value transforms and record mapping: bad data passes through, never raises."""

from __future__ import annotations

import pytest

from hubspot_sync.mapping import PropertySpec
from hubspot_sync.transforms import (
    apply_steps,
    canonical_number,
    domain,
    email,
    first_name,
    iso_months,
    last_name,
    map_property,
    map_record,
    render_template,
    to_date,
    to_datetime,
)


@pytest.mark.parametrize(("name", "first", "last"), [
    ("John Ronald Tolkien", "John Ronald", "Tolkien"),
    ("Zoë Ångström", "Zoë", "Ångström"),
    ("Madonna", "Madonna", None),
    ("  ", None, None),
    (None, None, None),
])
def test_name_split(name, first, last) -> None:
    assert first_name(name) == first
    assert last_name(name) == last


def test_email_is_trimmed_and_lowered() -> None:
    assert email("  John.Doe@Example.COM ") == "john.doe@example.com"
    assert email("") is None
    assert email("not an email") == "not an email"  # validation rejects it, not the transform


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-03-04T10:11:12.000Z", "2025-03-04"),
    ("2025-03-04T23:30:00-02:00", "2025-03-05"),  # the UTC calendar day
    (1741046400000, "2025-03-04"),
    ("yesterday", "yesterday"),  # unparseable passes through for validation to explain
    (None, None),
])
def test_date_is_midnight_utc_day(value, expected) -> None:
    assert to_date(value) == expected


def test_datetime_has_milliseconds_and_z() -> None:
    assert to_datetime("2025-03-04T10:11:12+01:00") == "2025-03-04T09:11:12.000Z"


@pytest.mark.parametrize(("value", "expected"), [
    (149.99999, "149.99999"), ("12.50", "12.5"), (100, "100"), ("1e3", "1000"),
    ("TBD", None), (None, None), (True, None),
])
def test_canonical_number(value, expected) -> None:
    assert canonical_number(value) == expected


def test_round_and_months_and_domain() -> None:
    assert apply_steps("149.99999", [{"round": 2}]) == "150"
    assert apply_steps("10.456", [{"round": 2}]) == "10.46"
    assert iso_months(6) == "P6M" and iso_months(0) == 0
    assert domain("https://www.Acme.com/about") == "acme.com"
    assert domain("acme.io") == "acme.io"


def test_template_with_lookup_and_missing_parts() -> None:
    context = {"number": "CON-7", "company": {"name": "Acme"}}
    assert render_template("{company.name} {number}", context) == "Acme CON-7"
    assert render_template("{company.name} {number}", {"number": "CON-7"}) == "CON-7"
    assert render_template("{missing}", {}) is None


def test_value_map_unmapped_policies() -> None:
    spec = {"from": "status", "to": "dealstage", "value_map": {"open": "qualifiedtobuy"}}
    assert map_property(PropertySpec(**spec), {"status": "open"}) == ("qualifiedtobuy", None, None)
    _, skip, _ = map_property(PropertySpec(**spec, on_unmapped="skip"), {"status": "hold"})
    assert skip == "dealstage: 'hold' has no entry in the value map"
    _, _, problem = map_property(PropertySpec(**spec), {"status": "hold"})
    assert problem == "'hold' has no entry in the value map of dealstage"
    assert map_property(PropertySpec(**spec, on_unmapped="empty"), {"status": "x"})[0] is None


def test_map_record_collects_properties_and_problems() -> None:
    props = [PropertySpec(**{"from": "email", "to": "email", "transform": "email"}),
             PropertySpec(**{"from": "kind", "to": "kind", "value_map": {"a": "A"}}),
             PropertySpec(**{"value": "default", "to": "pipeline"})]
    mapped = map_record("x1", {"email": " A@B.co ", "kind": "z"}, props)
    assert mapped.properties == {"email": "a@b.co", "kind": "z", "pipeline": "default"}
    assert mapped.problems == [("kind", "z", "'z' has no entry in the value map of kind")]
    assert mapped.skip_reason is None
