"""Alerts end to end: real DAG runs (dag.test() against both sandboxes) deliver to a real
local SMTP server (aiosmtpd) through the SMTP provider and to a local Slack-compatible
webhook receiver through the HTTP provider; each message names the entity, the run, the
reason and links to the DAG run in the Airflow UI."""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.conftest import hold_back_company

BASE_URL = "http://airflow.example.test:8080"
FROM = "airflow-alerts@example.test"
TO = "data-team@example.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What a local SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def bodies(self) -> list[str]:
        out = []
        for msg in self.messages:
            parts = msg.walk() if msg.is_multipart() else [msg]
            out.append("".join(p.get_payload(decode=True).decode() for p in parts
                               if p.get_content_maintype() == "text"))
        return out


class Webhook:
    """A local Slack-compatible webhook receiver (JSON posts, answered 200 ``ok``)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                size = int(self.headers.get("Content-Length") or 0)
                received.append({"path": self.path,
                                 "content_type": self.headers.get("Content-Type"),
                                 "body": json.loads(self.rfile.read(size))})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def texts(self) -> list[str]:
        return [p["body"]["text"] for p in self.posts]


@pytest.fixture
def channels(monkeypatch) -> Iterator[tuple[Inbox, Webhook]]:
    """A real SMTP server and webhook receiver, configured as the deployment's channels."""
    from aiosmtpd.controller import Controller

    inbox, hook = Inbox(), Webhook()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    hook.thread.start()
    monkeypatch.setenv("SYNC_ALERT_EMAIL_TO", TO)
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_ALERT_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"from_email": FROM, "disable_ssl": True, "disable_tls": True,
                  "retry_limit": 0, "timeout": 10}}))
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_ALERT_WEBHOOK",
                       json.dumps({"conn_type": "http", "host": hook.url}))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    monkeypatch.setenv("SYNC_ALERT_DIGEST_SETTLE_SECONDS", "0")
    try:
        yield inbox, hook
    finally:
        controller.stop()
        hook.server.shutdown()
        hook.server.server_close()


def run_link(dag_id: str, run_id: str) -> str:
    return f"{BASE_URL}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def test_a_failed_run_mails_and_posts_entity_run_reason_and_link(sync_env, channels) -> None:
    """HubSpot refuses every call (403): ensure_properties fails, and one mail and one
    webhook post say which entity, which run, which step, why, and link to the run."""
    inbox, hook = channels
    sync_env.hubspot.configure_faults(error_rate=1.0, statuses=[403])

    run = sync_env.run("companies")

    assert run["state"] == "failed" and run["details"]["failed_step"] == "ensure_properties"
    run_id = run["dag_run"].run_id
    assert len(inbox.messages) == 1 and len(hook.posts) == 1
    mail, body = inbox.messages[0], inbox.bodies()[0]
    assert mail["Subject"] == "[hubspot-sync] companies: run failed in ensure_properties"
    assert mail["From"] == FROM and inbox.envelopes[0].rcpt_tos == [TO]
    text = hook.texts()[0]
    for content in (body, text):
        assert "companies" in content and run_id in content
        assert "HubSpotError" in content and "403" in content
        assert "ensure_properties" in content
    link = run_link("sync_companies", run_id)
    assert f"link: {link}" in text and f'href="{link}"' in body
    assert f"run: {run_id}" in text
    # The webhook's secret path is where it was posted, never in what was posted.
    assert hook.posts[0]["path"].endswith("/secret") and "secret" not in text


def test_a_reject_threshold_exceeded_is_named_with_its_rules(sync_env, channels,
                                                             monkeypatch) -> None:
    """More members fail validation than the mapping allows: the alert says the threshold
    was exceeded, how many of how many, which rules, and never a member's value."""
    import hubspot_sync.steps.context as context

    inbox, hook = channels
    run_cls = context.EntityRun

    def strict(*args, **kwargs):
        run = run_cls(*args, **kwargs)
        run.mapping = run.mapping.model_copy(update={"max_rejected_ratio": 0.01})
        return run

    monkeypatch.setattr(context, "EntityRun", strict)
    bad = sync_env.officernd.anomalies()["members"]

    run = sync_env.run("members")

    assert run["state"] == "failed" and run["details"]["failed_step"] == "validate"
    assert len(inbox.messages) == 1 and len(hook.posts) == 1
    assert inbox.messages[0]["Subject"] == (
        "[hubspot-sync] members: reject threshold exceeded, nothing written")
    text = hook.texts()[0]
    n_bad = len(bad["invalid_email"]) + len(bad["missing_email"]) + len(bad["duplicate_email"])
    assert f"run: {run['dag_run'].run_id}" in text
    assert f"rejected: {n_bad} of " in text
    assert f"email {len(bad['invalid_email'])}" in text and "required" in text
    assert "max_rejected_ratio 1.0%" in text
    assert f"link: {run_link('sync_members', run['dag_run'].run_id)}" in text
    # No personal data: no e-mail address of a member, only ids and rules.
    assert "@" not in text.replace(BASE_URL, "") and "@" not in inbox.bodies()[0]


def test_hourly_digest_and_behind_alert_are_sent_once(sync_env, channels, alerts_dag) -> None:
    """A held-back company: the alerts DAG sends one digest naming it (and, with a tiny
    threshold, that companies is behind); the next hour sends nothing; a new reject later
    is digested alone."""
    inbox, hook = channels
    ids = [c["_id"] for c in sync_env.officernd.state.records("companies")[:2]]
    hold_back_company(sync_env.officernd, ids[0])
    first = sync_env.run("companies")
    assert first["state"] == "success" and first["rejected"] == 1

    conf = {"behind_hours": 0.0001}  # 0.36 s: the run that just finished is "behind"
    alerts = alerts_dag.test(run_conf=conf)
    assert str(getattr(alerts.state, "value", alerts.state)) == "success"
    subjects = sorted(m["Subject"] for m in inbox.messages)
    assert len(subjects) == 2 and len(hook.posts) == 2, subjects
    digest = next(t for t in hook.texts() if "new rejects" in t)
    assert "1 new rejects (companies)" in digest
    assert "companies: 1 × rule domain" in digest and ids[0] in digest
    assert run_link("sync_companies", first["dag_run"].run_id) in digest
    assert run_link("sync_alerts", alerts.run_id) in digest
    behind = next(t for t in hook.texts() if "behind" in t)
    assert behind.startswith("companies: ") and f"run: {first['dag_run'].run_id}" in behind
    assert "threshold 0.0001 h" in behind

    # The next hour: nothing new, the same behind episode already announced.
    again = alerts_dag.test(run_conf=conf)
    assert str(getattr(again.state, "value", again.state)) == "success"
    assert len(inbox.messages) == 2 and len(hook.posts) == 2

    # A second company held back later: the digest names it, not the first again.
    hold_back_company(sync_env.officernd, ids[1])
    time.sleep(1.1)  # its first_seen_at is after the digest's cutoff
    second = sync_env.run("companies")
    assert second["state"] == "success"
    alerts_dag.test(run_conf=conf)
    digests = [t for t in hook.texts() if "new rejects" in t]
    assert len(digests) == 2
    assert ids[1] in digests[1] and ids[0] not in digests[1]
    assert "1 new rejects (companies)" in digests[1]


def test_without_channels_alerts_are_only_logged(sync_env, alerts_dag, monkeypatch,
                                                 caplog) -> None:
    """No recipients and no webhook connection: the failure is logged as an alert, the
    run's own failure is unchanged, and the alerts DAG succeeds."""
    for name in ("SYNC_ALERT_EMAIL_TO", "AIRFLOW_CONN_SYNC_ALERT_SMTP",
                 "AIRFLOW_CONN_SYNC_ALERT_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    sync_env.hubspot.configure_faults(error_rate=1.0, statuses=[403])
    with caplog.at_level("INFO", logger="hubspot_sync.alerts"):
        run = sync_env.run("companies")
    assert run["state"] == "failed" and run["status"] == "failed"
    logged = [r.getMessage() for r in caplog.records if r.name == "hubspot_sync.alerts"]
    assert any(m.startswith("ALERT run_failed") and run["dag_run"].run_id in m
               for m in logged), logged
    assert any("only logged" in m for m in logged)
