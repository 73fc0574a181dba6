"""What the hourly alerts read and remember, on SQLite and PostgreSQL (fixture ``wh``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _reject(source_id: str, rule: str = "email", prop: str | None = "email",
            source: str = "validation", category: str | None = None) -> dict:
    return {"source_id": source_id, "rule": rule, "property": prop,
            "value": "jane@example.com", "reason": "not an e-mail address", "source": source,
            "category": category}


def _seen_at(wh, entity: str, source_ids: list[str], when: datetime) -> None:
    rj = wh.tables["rejects"]
    with wh.engine.begin() as conn:
        conn.execute(update(rj).where(rj.c.entity == entity, rj.c.source_id.in_(source_ids))
                     .values(first_seen_at=when))


def test_alert_state_is_remembered_and_replaced(wh) -> None:
    assert wh.alert_state("rejects_digest") is None
    wh.set_alert_state("rejects_digest", {"cutoff": T0.isoformat()})
    wh.set_alert_state("rejects_digest", {"cutoff": (T0 + timedelta(hours=1)).isoformat()})
    wh.set_alert_state("behind:members", {"episode": "x"})
    assert wh.alert_state("rejects_digest") == {"cutoff": "2026-11-30T09:00:00+00:00"}
    assert wh.alert_state("behind:members") == {"episode": "x"}


def test_run_summary_per_entity(wh) -> None:
    wh.start_run("members", "r1", T0 - timedelta(hours=1), T0)
    wh.finish_run("members", "r1", "success")
    wh.start_run("members", "r2", T0, T0 + timedelta(hours=1), dry_run=True)
    wh.finish_run("members", "r2", "success")  # a dry run moves no watermark
    wh.start_run("members", "r3", T0, T0 + timedelta(hours=2))
    wh.finish_run("members", "r3", "failed")
    wh.start_run("plans", "p1", None, T0)
    wh.finish_run("plans", "p1", "failed")

    summary = wh.entity_run_summary()

    assert summary["members"]["last_success_end"] == T0
    assert summary["members"]["latest_run_id"] == "r3"
    assert summary["members"]["latest_status"] == "failed"
    assert summary["plans"]["last_success_end"] is None
    assert summary["plans"]["first_started_at"] is not None
    assert summary["plans"]["latest_run_id"] == "p1"


def test_new_reject_groups_between_cutoffs_with_ids_only(wh) -> None:
    wh.record_rejects("members", "r1", [_reject(f"m{i}") for i in range(7)]
                      + [_reject("m9", rule="required", prop=None)])
    wh.record_rejects("companies", "c1", [_reject("c1", rule="hubspot", prop=None,
                                                  source="hubspot", category="INVALID")])
    _seen_at(wh, "members", [f"m{i}" for i in range(7)], T0)
    _seen_at(wh, "members", ["m9"], T0 + timedelta(minutes=30))
    _seen_at(wh, "companies", ["c1"], T0 + timedelta(hours=2))
    wh.resolve_rejects("members", "r2", ["m6"])  # resolved since: not new any more

    first = wh.new_reject_groups(None, T0 + timedelta(hours=1))
    assert [(g["entity"], g["rule"], g["property"], g["count"]) for g in first] == [
        ("members", "email", "email", 6), ("members", "required", None, 1)]
    assert first[0]["examples"] == ["m0", "m1", "m2", "m3", "m4"]
    assert first[0]["latest_run_id"] == "r1" and first[1]["examples"] == ["m9"]
    assert all("value" not in g and "reason" not in g for g in first)

    assert wh.new_reject_groups(T0 + timedelta(minutes=30), T0 + timedelta(hours=1)) == [
        {"entity": "members", "rule": "required", "property": None, "source": "validation",
         "category": None, "count": 1, "latest_run_id": "r1", "examples": ["m9"]}]
    later = wh.new_reject_groups(T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [(g["entity"], g["source"], g["category"], g["examples"]) for g in later] == [
        ("companies", "hubspot", "INVALID", ["c1"])]
    assert wh.new_reject_groups(T0 + timedelta(hours=3), T0 + timedelta(hours=4)) == []
    assert wh.open_reject_counts() == {"members": 7, "companies": 1}
