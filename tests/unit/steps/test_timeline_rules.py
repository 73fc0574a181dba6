"""Timeline rules without I/O: which records carry an event, its key, date and lines, why
one cannot be written, what a run does by the warehouse's status, the note's key line, and
the mapping's configuration errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from hubspot_sync.hubspot_client.notes import body_key, key_line, note_body
from hubspot_sync.mapping import load_mapping
from hubspot_sync.steps import timeline_rules as rules
from hubspot_sync.timeline_spec import TimelineSpec

from .conftest import mapping

SIGNED = {"event": "signed", "when": {"status": ["signed", "terminated"]},
          "attach_to": [{"entity": "contracts"}], "key": "contract-{_id}:signed",
          "timestamp": "signDate", "title": "Contract {number} signed",
          "lines": ["Start: {startDate:.10}"], "required": ["number", "signDate"]}
ISSUED = {"event": "issued", "resource": "payments", "when": {"status": ["issued", "paid"]},
          "attach_to": [{"entity": "companies", "via": "company"}],
          "key": "payment-{_id}:issued", "timestamp": "date",
          "title": "{documentType} {number} issued", "lines": ["Amount: {total} {currency}"],
          "required": ["number", "total", "date"]}


def spec(base: dict, **overrides) -> TimelineSpec:
    return TimelineSpec.model_validate({**base, **overrides})


def contract(**fields) -> dict:
    return {"_id": "c1", "number": "CON-1", "status": "signed",
            "signDate": "2026-11-02T10:00:00.000Z", "startDate": "2026-11-01T00:00:00.000Z",
            **fields}


def test_a_record_in_the_state_carries_the_event_with_its_key_date_and_lines() -> None:
    events = rules.detect([contract(), contract(_id="c2", status="not_signed"),
                           contract(_id="c3", status="terminated")], spec(SIGNED))
    assert [e.key for e in events] == ["contract-c1:signed", "contract-c3:signed"]
    first = events[0]
    assert first.targets == [("contracts", "c1")] and first.problems == []
    assert first.occurred_at == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert first.lines == ["Contract CON-1 signed", "Start: 2026-11-01"]


def test_an_event_of_another_resource_is_put_on_the_record_it_names() -> None:
    invoice = {"_id": "p1", "number": "INV-1", "documentType": "invoice", "status": "paid",
               "date": "2026-11-03T00:00:00.000Z", "total": 1234.5, "currency": "USD",
               "company": "co1"}
    [event] = rules.detect([invoice, {**invoice, "_id": "p2", "status": "draft"}],
                           spec(ISSUED))
    assert (event.key, event.targets) == ("payment-p1:issued", [("companies", "co1")])
    assert event.lines == ["invoice INV-1 issued", "Amount: 1234.5 USD"]


@pytest.mark.parametrize(("record", "rule", "field"), [
    ({"total": None}, "required", "total"),
    ({"total": "  "}, "required", "total"),
    ({"date": "yesterday"}, "timeline_date", "date"),
    ({"company": None}, "timeline_target", "company"),
    ({"_id": None}, "timeline_key", "key"),
])
def test_an_event_that_cannot_be_written_says_why(record, rule, field) -> None:
    invoice = {"_id": "p1", "number": "INV-1", "documentType": "invoice", "status": "issued",
               "date": "2026-11-03T00:00:00.000Z", "total": 10, "currency": "USD",
               "company": "co1", **record}
    [event] = rules.detect([invoice], spec(ISSUED))
    assert [(r, f) for r, f, _ in event.problems] == [(rule, field)]
    assert event.problems[0][2]  # a sentence a person understands


def test_what_a_run_does_depends_on_what_the_warehouse_holds() -> None:
    assert rules.action(None) == rules.SEND
    assert rules.action("refused") == rules.action("rejected") == rules.SEND
    assert rules.action("unknown") == rules.action("sending") == rules.LOOKUP
    assert rules.action("written") == rules.action("skipped") == rules.DONE


def test_old_events_are_kept_out_and_one_key_is_sent_once() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    [recent, old] = rules.detect([contract(), contract(_id="c9", signDate="2026-01-01")],
                                 spec(SIGNED))
    assert not rules.too_old(recent, now, 30) and rules.too_old(old, now, 30)
    assert not rules.too_old(old, now, 365)
    twice = rules.dedupe([recent, old, recent])
    assert [e.key for e in twice] == ["contract-c1:signed", "contract-c9:signed"]
    assert rules.hs_timestamp(now + timedelta(milliseconds=7)) == "2026-11-30T00:00:00.007Z"


def test_the_note_body_carries_its_key_escaped_and_found_again() -> None:
    body = note_body(["Contract <A&B> signed"], "contract-c1:signed")
    assert body == ("<p>Contract &lt;A&amp;B&gt; signed</p>"
                    "<p>sync key: contract-c1:signed</p>")
    assert body_key(body) == "contract-c1:signed"
    assert body_key("<p>Called the client</p>") is None and body_key(None) is None
    assert key_line("k") == "sync key: k"


@pytest.mark.parametrize(("change", "message"), [
    ({"when": {}}, "'when' is empty"),
    ({"key": "contract:signed"}, "names no field"),
    ({"event": "Signed"}, "lower-case"),
    ({"title": "Contract {number"}, "not a valid format"),
    ({"attach_to": []}, "at least 1"),
])
def test_a_timeline_spec_with_a_mistake_is_refused(change, message) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(SIGNED, **change)


def test_a_mapping_naming_an_event_twice_or_using_on_is_refused(tmp_path) -> None:
    with pytest.raises(ValidationError, match="timeline events named twice: signed"):
        mapping(timeline=[SIGNED, SIGNED])
    path = tmp_path / "members.yaml"
    path.write_text(
        "entity: members\nsource: {system: officernd, resource: members}\n"
        "hubspot: {object: contacts}\nproperties: [{from: email, to: email}]\n"
        "timeline:\n  - {event: joined, when: {status: [active]}, on: [{entity: members}],\n"
        "     key: 'member-{_id}:joined', timestamp: createdAt, title: Joined}\n")
    from hubspot_sync.mapping import MappingError

    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert "members.yaml: timeline[0].attach_to: Field required" in str(err.value)
