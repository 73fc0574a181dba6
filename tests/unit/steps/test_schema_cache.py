"""ensure_properties trusts a schema it checked for the same mapping and portal for a while."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hubspot_sync.steps.properties import remembered_definitions, schema_fingerprint

from .conftest import mapping

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
DEFS = {"email": {"name": "email", "type": "string"}}


def entry(fingerprint: str, checked: datetime) -> dict:
    return {"fingerprint": fingerprint, "checked_at": checked.isoformat(), "definitions": DEFS}


def test_a_recent_check_of_the_same_mapping_is_reused() -> None:
    fp = schema_fingerprint(mapping(), "hubspot_default|")
    assert remembered_definitions(entry(fp, NOW - timedelta(hours=5)), fp, NOW, 6) == DEFS


def test_an_old_check_a_future_one_or_none_is_not() -> None:
    fp = schema_fingerprint(mapping(), "p")
    assert remembered_definitions(entry(fp, NOW - timedelta(hours=6)), fp, NOW, 6) is None
    assert remembered_definitions(entry(fp, NOW + timedelta(minutes=1)), fp, NOW, 6) is None
    assert remembered_definitions(None, fp, NOW, 6) is None
    assert remembered_definitions(entry(fp, NOW), fp, NOW, 0) is None, "0 hours: every run"
    assert remembered_definitions({"fingerprint": fp}, fp, NOW, 6) is None


def test_a_changed_mapping_or_another_portal_checks_again() -> None:
    fp = schema_fingerprint(mapping(), "p")
    changed = mapping(properties=[{"from": "email", "to": "email"},
                                  {"from": "name", "to": "lastname"}])
    assert schema_fingerprint(changed, "p") != fp
    assert schema_fingerprint(mapping(), "other portal") != fp
    assert schema_fingerprint(mapping(), "p") == fp, "stable for the same mapping"
    assert remembered_definitions(entry(fp, NOW), schema_fingerprint(changed, "p"), NOW,
                                  6) is None
