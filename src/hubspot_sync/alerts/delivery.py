"""Sending an alert through the configured channels, with Airflow's own notifiers: the
SMTP provider's ``SmtpNotifier`` (an ``smtp`` connection) and the HTTP provider's
``HttpNotifier`` (a Slack-compatible webhook on an ``http`` connection).

Every alert is logged first, so a deployment without channels still has it in the task
log. A channel that fails is reported (type and a redacted message: a webhook's URL is
its secret) and never stops the other channel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hubspot_sync.alerts.config import AlertConfig
from hubspot_sync.alerts.messages import Alert, redact

log = logging.getLogger("hubspot_sync.alerts")

WEBHOOK_TIMEOUT_SECONDS = 15  # a hung webhook must not hold the failure callback


@dataclass
class Delivery:
    """What happened to one alert: channels it went out on, and those that failed."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.sent or self.failed)

    @property
    def reached_someone(self) -> bool:
        """Sent on at least one channel, or only logged because none is configured."""
        return bool(self.sent) or not self.failed


def webhook_configured(conn_id: str) -> bool:
    """Whether the webhook connection exists (absent: webhooks are off, not an error)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def send_email(alert: Alert, config: AlertConfig) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    # Subject and body are given, so the notifier renders no template of its own; it is
    # called directly (not as a callback) so the alert text is never parsed as Jinja.
    notifier = SmtpNotifier(to=list(config.email_to), from_email=config.email_from,
                            subject=alert.subject(), html_content=alert.html(),
                            smtp_conn_id=config.smtp_conn_id)
    notifier.notify({})


def send_webhook(alert: Alert, config: AlertConfig) -> None:
    from airflow.providers.http.notifications.http import HttpNotifier

    notifier = HttpNotifier(http_conn_id=config.webhook_conn_id, method="POST",
                            json=alert.webhook_payload(),
                            headers={"Content-Type": "application/json"},
                            extra_options={"timeout": WEBHOOK_TIMEOUT_SECONDS})
    notifier.notify({})


def deliver(alert: Alert, config: AlertConfig | None = None) -> Delivery:
    """Log ``alert`` and send it on every configured channel."""
    config = config or AlertConfig.load()
    log.warning("ALERT %s\n%s", alert.kind, alert.text())
    out = Delivery()
    channels = []
    if config.email_to:
        channels.append(("email", send_email))
    if webhook_configured(config.webhook_conn_id):
        channels.append(("webhook", send_webhook))
    if not channels:
        log.info("no alert channel configured (SYNC_ALERT_EMAIL_TO, connection %s): the "
                 "alert is only logged", config.webhook_conn_id)
    for channel, send in channels:
        try:
            send(alert, config)
        except Exception as exc:  # one channel failing never stops the other
            out.failed[channel] = f"{type(exc).__name__}: {redact(str(exc))[:300]}"
            log.error("alert %s not sent by %s: %s", alert.kind, channel, out.failed[channel])
        else:
            out.sent.append(channel)
            log.info("alert %s sent by %s", alert.kind, channel)
    return out
