"""What alerts say and when they are due (pure rules, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubspot_sync.alerts.checks import behind_alerts, behind_hours, behind_key
from hubspot_sync.alerts.config import AlertConfig
from hubspot_sync.alerts.messages import (
    dag_run_url,
    digest_alert,
    failure_alert,
    reason_of,
    redact,
    rule_list,
)
from hubspot_sync.steps.context import RejectThresholdExceeded

BASE = "https://airflow.example.test/"
RUN = "scheduled__2026-11-30T01:00:00+00:00"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_dag_run_link_quotes_the_run_id() -> None:
    assert dag_run_url(BASE, "sync_members", RUN) == (
        "https://airflow.example.test/dags/sync_members/runs/"
        "scheduled__2026-11-30T01%3A00%3A00%2B00%3A00")


@pytest.mark.parametrize(("text", "hidden", "kept"), [
    ("contact jane.doe@example.com refused", "jane.doe@example.com", "refused"),
    ("POST https://hooks.slack.com/services/T1/B2/XyZ failed", "T1/B2/XyZ",
     "https://hooks.slack.com/…"),
    ("Authorization: Bearer pat-na1-abc123 rejected", "pat-na1-abc123", "rejected"),
    ("url=https://x.test/?hapikey=s3cret", "s3cret", "https://x.test/…"),
    ("token=abc.def failed", "abc.def", "token=<redacted>"),
    ("Max retries exceeded with url: /services/T1/B2/XyZ (Caused by", "XyZ", "url: /…"),
    ("Property values were not valid: 'Jane Doe' for firstname", "Jane Doe", "firstname"),
])
def test_redact_masks_personal_and_secret_text(text: str, hidden: str, kept: str) -> None:
    out = redact(text)
    assert hidden not in out and kept in out


def test_reason_is_the_first_line_typed_redacted_and_short() -> None:
    error = RuntimeError("bob@example.com broke it\nsecond line with details")
    assert reason_of(error) == "RuntimeError: <email> broke it"
    assert len(reason_of(ValueError("x" * 1000))) == 300
    assert reason_of(None).startswith("task failed")


def test_a_failed_task_names_entity_run_step_reason_and_links() -> None:
    alert = failure_alert("members", "sync_members", RUN, "load",
                          ConnectionError("HubSpot answered 503 three times"), BASE, 2)
    assert alert.kind == "run_failed"
    assert alert.subject() == "[hubspot-sync] members: run failed in load"
    text = alert.text()
    link = dag_run_url(BASE, "sync_members", RUN)
    for line in ("entity: members", f"run: {RUN}", "step: load", "attempt: 2",
                 "reason: ConnectionError: HubSpot answered 503 three times", f"link: {link}",
                 f"task log: {link}/tasks/load"):
        assert line in text.splitlines(), line
    assert alert.webhook_payload() == {"text": text}
    assert f'<a href="{link}">' in alert.html() and "<th align=\"left\">run</th>" in alert.html()


def test_a_reject_threshold_lists_counts_and_rules_not_values() -> None:
    error = RejectThresholdExceeded(
        "members: 30 of 200 records (15.0%) failed validation, over the mapping's "
        "max_rejected_ratio 5.0%; nothing of this run is written.\n"
        "  email: 20 rejects\n    - m1: email 'jane@example.com' is not valid",
        "members", {"rejected": 30, "considered": 200,
                    "rule_counts": {"required": 10, "email": 20}})
    alert = failure_alert("members", "sync_members", RUN, "validate", error, BASE)
    assert alert.kind == "reject_threshold"
    assert alert.subject() == "[hubspot-sync] members: reject threshold exceeded, nothing written"
    text = alert.text()
    assert "rejected: 30 of 200 records" in text and "rules: email 20, required 10" in text
    assert "jane" not in text and "m1" not in text  # only the message's first line


def test_rule_list_is_largest_first_and_bounded() -> None:
    counts = {f"r{i}": i for i in range(1, 13)}
    assert rule_list(counts).startswith("r12 12, r11 11")
    assert rule_list(counts).endswith("… (2 more)")


def test_digest_groups_new_rejects_with_ids_rules_and_run_links() -> None:
    groups = [
        {"entity": "companies", "rule": "domain", "property": "domain", "source": "validation",
         "category": None, "count": 3, "examples": ["c1", "c2"], "latest_run_id": RUN},
        {"entity": "contracts_line_items", "rule": "hubspot", "property": None,
         "source": "hubspot", "category": "VALIDATION_ERROR", "count": 1, "examples": ["l1"],
         "latest_run_id": "manual__x"},
    ]
    since = NOW - timedelta(hours=1)
    alert = digest_alert(groups, since, NOW, {"contracts_line_items": "sync_contracts"}, BASE,
                         "https://airflow.example.test/dags/sync_alerts/runs/r1")
    assert alert is not None and alert.kind == "new_rejects"
    assert alert.title == "4 new rejects (companies, contracts_line_items)"
    text = alert.text()
    assert ("companies: 3 × rule domain on domain (validation); e.g. c1, c2; run "
            f"{RUN}: {dag_run_url(BASE, 'sync_companies', RUN)}") in text
    assert ("contracts_line_items: 1 × rule hubspot (hubspot VALIDATION_ERROR); e.g. l1; run "
            "manual__x: https://airflow.example.test/dags/sync_contracts/runs/manual__x") in text
    assert "first seen 2026-11-30T11:00:00+00:00 to 2026-11-30T12:00:00+00:00" in text
    assert "link: https://airflow.example.test/dags/sync_alerts/runs/r1" in text
    assert digest_alert([], since, NOW, {}, BASE) is None


SUMMARY = {
    "members": {"last_success_end": NOW - timedelta(hours=5), "latest_run_id": "r9",
                "latest_status": "failed", "first_started_at": NOW - timedelta(days=9)},
    "companies": {"last_success_end": NOW - timedelta(hours=1), "latest_run_id": "r8",
                  "latest_status": "success", "first_started_at": NOW - timedelta(days=9)},
    "plans": {"last_success_end": None, "latest_run_id": "r7", "latest_status": "failed",
              "first_started_at": NOW - timedelta(hours=4)},
    "retired": {"last_success_end": NOW - timedelta(days=30), "latest_run_id": "r1",
                "latest_status": "success", "first_started_at": NOW - timedelta(days=40)},
}
DAGS = {"members": "sync_members", "companies": "sync_companies", "plans": "sync_plans"}


def test_behind_alerts_once_per_episode_then_every_repeat_interval() -> None:
    due = behind_alerts(SUMMARY, DAGS, {}, 3, 24, NOW, BASE)
    # companies is current; retired has no mapping any more: neither is announced.
    assert [p.alert.entity for p in due] == ["members", "plans"]
    members = due[0]
    assert members.alert.title == "members: 5.0 hours behind"
    assert "behind: 5.0 h (threshold 3 h)" in members.alert.text()
    assert members.alert.link == dag_run_url(BASE, "sync_members", "r9")
    assert "no successful run yet" in due[1].alert.text()

    states = {p.state_key: p.state for p in due}
    assert behind_alerts(SUMMARY, DAGS, states, 3, 24, NOW + timedelta(hours=1), BASE) == []
    later = behind_alerts(SUMMARY, DAGS, states, 3, 24, NOW + timedelta(hours=24), BASE)
    assert [p.alert.entity for p in later] == ["companies", "members", "plans"]
    # A new episode (a success, then stuck again) is announced at once.
    moved = {**SUMMARY, "members": {**SUMMARY["members"],
                                    "last_success_end": NOW - timedelta(hours=4)}}
    again = behind_alerts(moved, DAGS, states, 3, 24, NOW + timedelta(hours=1), BASE)
    assert [p.alert.entity for p in again] == ["members"]
    assert behind_key("members") == "behind:members"


def test_behind_hours_gauges_entities_with_a_success() -> None:
    assert behind_hours(SUMMARY, NOW) == {"members": 5.0, "companies": 1.0, "retired": 720.0}


def test_config_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SYNC_ALERT_EMAIL_TO", "a@example.test, b@example.test;c@example.test")
    monkeypatch.setenv("SYNC_ALERT_BEHIND_HOURS", "6")
    monkeypatch.setenv("SYNC_ALERT_WEBHOOK_CONN_ID", "team_slack")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.test/")
    monkeypatch.setenv("SYNC_ALERT_BEHIND_REPEAT_HOURS", "soon")
    config = AlertConfig.load()
    assert config.email_to == ("a@example.test", "b@example.test", "c@example.test")
    assert config.behind_hours == 6 and config.behind_repeat_hours == 24  # not a number
    assert config.webhook_conn_id == "team_slack" and config.smtp_conn_id == "sync_alert_smtp"
    assert config.base_url == "https://airflow.example.test"


def test_metric_names() -> None:
    from hubspot_sync.metrics import name

    assert name("members", "step", "load", "duration") == "hubspot_sync.members.step.load.duration"
    assert name("line items", "api_calls") == "hubspot_sync.line_items.api_calls"
