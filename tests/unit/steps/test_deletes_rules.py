"""The rules of deletes and churn (steps/deletes.py, steps/hubspot_deletes.py and the
mapping keys of hubspot_sync.lifecycle), without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from hubspot_sync.steps import deletes, hubspot_deletes
from hubspot_sync.steps.deletes import Planned
from hubspot_sync.steps.properties import plan_properties
from tests.unit.steps.conftest import mapping, rec

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


# --------------------------------------------------------------------------- mapping keys

def test_defaults_keep_todays_behaviour() -> None:
    m = mapping()
    assert (m.on_source_delete, m.on_filter_exit, m.delete_check) == ("ignore", "ignore",
                                                                      "daily")
    assert not m.handles_deletes and not m.recreate_deleted
    assert (m.max_delete_ratio, m.delete_guard_min_records) == (0.05, 20)
    assert m.flag_property_definition() is None


@pytest.mark.parametrize(("overrides", "message"), [
    ({"on_source_delete": "delete"}, "Input should be 'ignore', 'flag' or 'archive'"),
    ({"delete_check": "weekly"}, "'every_run', 'daily' or 'full_refresh'"),
    ({"on_filter_exit": "archive", "filter": {}}, "on_filter_exit: archive needs a 'filter'"),
    ({"on_source_delete": "flag", "flag": {"property": "officernd_id"}},
     "flag.property 'officernd_id' is the id property"),
    ({"on_source_delete": "flag", "flag": {"property": "score"},
      "properties": [{"from": "email", "to": "email"},
                     {"from": "n", "to": "score", "type": "number"}]},
     "a flag needs a string property"),
    ({"max_delete_ratio": 1.5}, "less than or equal to 1"),
    ({"flag": {"colour": "red"}}, "Extra inputs are not permitted"),
])
def test_bad_lifecycle_keys_are_configuration_errors(overrides, message) -> None:
    with pytest.raises(ValidationError, match=message):
        mapping(**overrides)


def test_flag_property_is_created_when_hubspot_lacks_it() -> None:
    m = mapping(on_source_delete="flag", flag={"property": "sync_state"})
    wanted = plan_properties(m, {"officernd_id": {}, "email": {}, "firstname": {}})
    assert [d["name"] for d in wanted] == ["sync_state"]
    assert wanted[0]["type"] == "string"
    assert plan_properties(m, {"officernd_id": {}, "email": {}, "firstname": {},
                               "sync_state": {}}) == []


# --------------------------------------------------------------------------- schedule

@pytest.mark.parametrize(("check", "full_refresh", "last", "due"), [
    ("every_run", False, NOW - timedelta(minutes=5), True),
    ("daily", False, None, True),
    ("daily", False, NOW - timedelta(hours=2), False),
    ("daily", False, NOW - timedelta(hours=23), True),
    ("daily", True, NOW - timedelta(minutes=5), True),
    ("full_refresh", False, None, False),
    ("full_refresh", True, NOW, True),
])
def test_delete_check_schedule(check, full_refresh, last, due) -> None:
    m = mapping(on_source_delete="flag", delete_check=check)
    assert deletes.check_due(m, full_refresh, last, NOW) is due


def test_a_confirming_run_always_checks() -> None:
    m = mapping(on_source_delete="archive", delete_check="daily")
    assert deletes.check_due(m, False, NOW - timedelta(hours=1), NOW, confirmed=True)
    assert not deletes.check_due(m, False, NOW - timedelta(hours=1), NOW)


def test_no_scan_when_source_deletes_are_ignored() -> None:
    m = mapping(on_filter_exit="flag", delete_check="every_run")
    assert deletes.check_due(m, True, None, NOW) is False


# --------------------------------------------------------------------------- detection

def test_filter_exits_are_synced_records_the_filter_now_leaves_out() -> None:
    m = mapping(filter={"status": ["active"]}, on_filter_exit="archive")
    rows = [{"source_id": "a", "raw": {"status": "former"}},
            {"source_id": "b", "raw": {"status": "active"}},
            {"source_id": "c", "raw": {"status": "former"}},  # never synced
            {"source_id": "d", "raw": None}]
    assert deletes.filter_exits(m, rows, {"a": "1", "b": "2", "d": "4"}) == {"a"}
    assert deletes.filter_exits(mapping(filter={"status": ["active"]}), rows, {"a": "1"}) \
        == set()


def test_plan_touches_only_our_records_and_skips_what_is_done() -> None:
    m = mapping(on_source_delete="flag", on_filter_exit="archive")
    synced = {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    current = {"1": rec("1", officernd_id="a"),
               "2": rec("2", officernd_id="b", officernd_status="deleted"),
               "3": rec("3", officernd_id="someone-else"),
               "5": rec("50", officernd_id="e")}  # merged: the survivor answers
    planned, skipped = deletes.plan(m, {"a": "source_delete", "b": "source_delete",
                                        "c": "source_delete", "d": "source_delete",
                                        "e": "filter_exit"}, synced, current)
    assert planned == [Planned("a", "1", "source_delete", "flag"),
                       Planned("e", "50", "filter_exit", "archive")]
    assert skipped == {"not_ours": 1, "already_flagged": 1, "already_gone": 1}


def test_filter_exit_flag_uses_its_own_value() -> None:
    m = mapping(on_filter_exit="flag")
    planned, _ = deletes.plan(m, {"a": "filter_exit"}, {"a": "1"},
                              {"1": rec("1", officernd_id="a", officernd_status="deleted")})
    assert planned == [Planned("a", "1", "filter_exit", "flag")]
    assert m.flag.value("filter_exit") == "left_filter"


# --------------------------------------------------------------------------- guard

def planned(n: int, action: str = "archive") -> list[Planned]:
    return [Planned(str(i), str(i), "source_delete", action) for i in range(n)]


def test_guard_needs_both_the_share_and_the_floor() -> None:
    m = mapping(on_source_delete="archive")
    assert deletes.guard(m, planned(19), 100) is None, "under the 20-record floor"
    assert deletes.guard(m, planned(5), 100) is None, "5 % is allowed"
    assert deletes.guard(m, planned(20), 1000) is None, "2 %"
    message = deletes.guard(m, planned(30), 100)
    assert message is not None
    assert "archive 30" in message and "30 of 100" in message and "30.0%" in message
    assert "confirm_deletes" in message and "Nothing was written" in message


def test_guard_limits_come_from_the_mapping() -> None:
    m = mapping(on_source_delete="flag", max_delete_ratio=0.5, delete_guard_min_records=2)
    assert deletes.guard(m, planned(3, "flag"), 10) is None
    assert "flag 6 and archive 0" in (deletes.guard(m, planned(6, "flag"), 10) or "")


def test_an_empty_source_scan_always_stops() -> None:
    m = mapping(on_source_delete="flag")
    assert "listed no members at all" in (deletes.guard(m, planned(3), 3, scan_empty=True)
                                          or "")
    assert deletes.guard(m, [], 3, scan_empty=True) is None


# --------------------------------------------------------------------------- HubSpot side

def test_answers_follow_merges() -> None:
    records = [rec("1"), rec("9", hs_merged_object_ids="2;3")]
    got = hubspot_deletes.answers(["1", "2", "3", "4"], records)
    assert {k: v["id"] for k, v in got.items()} == {"1": "1", "2": "9", "3": "9"}


def test_classify_tells_merges_archives_and_deletes_apart() -> None:
    m = mapping()
    missing = {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    live = {"1": rec("10", officernd_id="a"),  # merged, carries our id
            "2": rec("20"),  # merged into a record without an id property
            "3": rec("30", officernd_id="zz")}  # merged into another synced record
    archived = {"4": {"id": "4", "archivedAt": "2026-11-29T10:00:00Z"}}
    found = {f.source_id: f for f in hubspot_deletes.classify(m, missing, live, archived)}
    assert [found[s].kind for s in "abcde"] == ["adopt", "adopt", "merged", "archived",
                                                "deleted"]
    assert "merged into 30, which is synced from zz" in found["c"].reason
    assert "archived in HubSpot at 2026-11-29T10:00:00Z" in found["d"].reason
    assert "GDPR" in found["e"].reason
    assert "no longer carries" in hubspot_deletes.classify(
        m, {"a": "1"}, {"1": rec("1")}, {})[0].reason


def test_tombstone_rejects_hold_records_back_until_written() -> None:
    from hubspot_sync.steps.rejects import LOAD_RULES

    rejects = hubspot_deletes.tombstone_rejects([
        {"source_id": "a", "hubspot_id": "1", "kind": "archived", "reason": "why"}])
    assert rejects == [{"source_id": "a", "rule": "hubspot_deleted", "property": None,
                        "value": "1", "reason": "why", "source": "hubspot",
                        "category": "ARCHIVED"}]
    assert "hubspot_deleted" in LOAD_RULES, "validation never resolves it"


def test_report_counts_of_both_steps() -> None:
    counts, details = deletes.lifecycle_report(
        {"tombstoned": 2, "merges_adopted": 1, "tombstone_list": ["a: x", "b: y"]},
        {"flagged": 3, "archived": 0, "planned": 3, "delete_list": ["c: flag"],
         "delete_guard": "stop", "checked_source": True, "source_ids": 90}, dry_run=True)
    assert counts == {"tombstoned": 2, "merges_adopted": 1, "flagged": 3,
                      "planned_deletes": 3}
    assert details == {"tombstone_list": ["a: x", "b: y"], "delete_list": ["c: flag"],
                       "delete_guard": "stop", "delete_check_source_ids": 90}
