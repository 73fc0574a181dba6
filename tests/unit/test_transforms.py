"""Value transforms and record mapping: bad data passes through, never raises."""

from __future__ import annotations

import pytest

from hubspot_sync.mapping import PropertySpec
from hubspot_sync.transforms import (
    RULE_STRUCTURED,
    Problem,
    apply_steps,
    canonical_number,
    clean_text,
    domain,
    email,
    first_name,
    iso_months,
    last_name,
    map_property,
    map_record,
    parse_datetime,
    prefix,
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
    assert problem == Problem("dealstage", "hold",
                              "'hold' has no entry in the value map of dealstage", "value_map")
    assert map_property(PropertySpec(**spec, on_unmapped="empty"), {"status": "x"})[0] is None


def test_map_record_collects_properties_and_problems() -> None:
    props = [PropertySpec(**{"from": "email", "to": "email", "transform": "email"}),
             PropertySpec(**{"from": "kind", "to": "kind", "value_map": {"a": "A"}}),
             PropertySpec(**{"value": "default", "to": "pipeline"})]
    mapped = map_record("x1", {"email": " A@B.co ", "kind": "z"}, props)
    assert mapped.properties == {"email": "a@b.co", "kind": "z", "pipeline": "default"}
    assert mapped.problems == [("kind", "z", "'z' has no entry in the value map of kind",
                                "value_map")]
    assert mapped.skip_reason is None


def prop(**spec: object) -> PropertySpec:
    return PropertySpec.model_validate(spec)


@pytest.mark.parametrize(("raw", "clean"), [
    ("Acme\x00 Ltd", "Acme Ltd"),                   # NUL (PostgreSQL refuses it)
    ("ring\x07", "ring"),                            # BEL
    ("esc\x1b[0m", "esc[0m"),                        # ESC of a terminal colour code
    ("del\x7f", "del"),                              # DEL
    ("c1\x85\x9f", "c1"),                           # C1 controls (NEL, APC)
    ("line 1\nline 2\tcol\r\n", "line 1\nline 2\tcol\r\n"),  # kept: HubSpot keeps them
    ("Zoë Ångström – ok", "Zoë Ångström – ok"),    # letters and punctuation untouched
])
def test_clean_text_removes_control_characters_only(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    assert clean_text(7) == 7


def test_every_mapped_text_is_cleaned() -> None:
    context = {"name": "\x00\x07Acme\x00", "note": "a\x0bb\nc", "blank": "\x00 \x07"}
    assert map_property(prop(**{"from": "name", "to": "name"}), context) == ("Acme", None, None)
    assert map_property(prop(**{"from": "note", "to": "note"}), context)[0] == "ab\nc"
    # a template collapses whitespace (a vertical tab included) before the cleaning
    assert map_property(prop(**{"template": "{name} {note}", "to": "t"}), context)[0] == \
        "Acme a b c"
    # only control characters: blank, so missing (never a string of NULs)
    assert map_property(prop(**{"from": "blank", "to": "b"}), context)[0] is None


def test_an_object_for_a_scalar_property_is_a_problem_never_a_repr() -> None:
    context = {"address": {"city": "Oslo", "zip": "0150"}}
    value, skip, problem = map_property(prop(**{"from": "address", "to": "address"}), context)
    assert skip is None and value == '{"city": "Oslo", "zip": "0150"}'
    assert problem == Problem("address", value, 'address is an object ({"city": "Oslo", '
                              '"zip": "0150"}); map one of its fields, e.g. address.city',
                              RULE_STRUCTURED)
    # transforms leave the object alone rather than stringify it
    for step in ("trim", "first_name", "last_name", {"prefix": "x-"}, "number", "date",
                 "domain", {"join": ";"}):
        value, _, problem = map_property(
            prop(**{"from": "address", "to": "address", "transform": step}), context)
        assert problem is not None and problem.rule == RULE_STRUCTURED, step
        assert "'" not in value, step  # JSON, never {'city': 'Oslo'}


def test_a_list_is_rejected_unless_joined() -> None:
    context = {"tags": ["vip", "", "desk"], "people": [{"first": "A"}]}
    value, _, problem = map_property(prop(**{"from": "tags", "to": "tags"}), context)
    assert value == '["vip", "", "desk"]' and problem.rule == RULE_STRUCTURED
    assert problem.reason.startswith('tags is a list (["vip", "", "desk"]); add the transform '
                                     '{join: ";"}')
    joined = map_property(prop(**{"from": "tags", "to": "tags", "transform": {"join": ";"}}),
                          context)
    assert joined == ("vip;desk", None, None)
    # a list of objects cannot be joined into text: rejected, not "{'first': 'A'}"
    value, _, problem = map_property(
        prop(**{"from": "people", "to": "people", "transform": {"join": ";"}}), context)
    assert problem.rule == RULE_STRUCTURED and value == '[{"first": "A"}]'


def test_an_object_in_a_template_is_a_problem() -> None:
    context = {"company": {"name": {"en": "Acme"}}, "number": "7"}
    value, _, problem = map_property(prop(**{"template": "{company.name} {number}",
                                             "to": "dealname"}), context)
    assert problem.rule == RULE_STRUCTURED and value == '{"en": "Acme"}'
    assert problem.reason.startswith("company.name is an object")
    # render_template alone (child ids) writes JSON, never a repr
    assert render_template("{company.name}-{number}", context) == '{"en": "Acme"}-7'


def test_map_record_keeps_the_structured_problem() -> None:
    mapped = map_record("m1", {"name": ["A", "B"]}, [prop(**{"from": "name", "to": "name"})])
    (problem,) = mapped.problems
    assert problem.property == "name" and problem.rule == RULE_STRUCTURED


def test_prefix_and_parse_datetime_use_the_shared_helpers() -> None:
    assert prefix("7", "plan-") == "plan-7" and prefix("  ", "plan-") is None
    assert parse_datetime("2024-05-01T10:00:00+02:00").isoformat() == "2024-05-01T08:00:00+00:00"
    assert parse_datetime("1714557600000").isoformat() == "2024-05-01T10:00:00+00:00"
    assert parse_datetime("not a date") is None and parse_datetime({"a": 1}) is None
