"""Where alerts go, per deployment: environment variables, else Airflow Variables of the
same name, else the defaults below. No channel configured is not an error: alerts are
then only logged (the ``hubspot_sync.alerts`` logger, in the task log).

=================================  ======================  =================================
setting                            default                 meaning
=================================  ======================  =================================
``SYNC_ALERT_EMAIL_TO``            (none: no email)        recipients, comma-separated
``SYNC_ALERT_EMAIL_FROM``          the connection's        sender; else the SMTP
                                   ``from_email`` extra    connection's ``from_email`` extra
``SYNC_ALERT_SMTP_CONN_ID``        ``sync_alert_smtp``     Airflow SMTP connection
``SYNC_ALERT_WEBHOOK_CONN_ID``     ``sync_alert_webhook``  HTTP connection whose host is the
                                                           webhook URL; no such connection:
                                                           no webhook
``SYNC_ALERT_BEHIND_HOURS``        ``3``                   an entity whose last successful
                                                           window ended longer ago is behind
``SYNC_ALERT_BEHIND_REPEAT_HOURS`` ``24``                  remind while still behind
``SYNC_ALERT_DIGEST_SETTLE_SECONDS`` ``120``               rejects younger than this wait
                                                           for the next digest (a run still
                                                           writing them)
=================================  ======================  =================================

The link in each alert starts with Airflow's ``[api] base_url``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_SMTP_CONN_ID = "sync_alert_smtp"
DEFAULT_WEBHOOK_CONN_ID = "sync_alert_webhook"
DEFAULT_BASE_URL = "http://localhost:8080"


def setting(name: str, default: str | None = None) -> str | None:
    """The environment variable ``name``, else the Airflow Variable ``name``, else default."""
    value = os.environ.get(name)
    if value is None:
        try:
            from airflow.sdk import Variable

            value = Variable.get(name, default=None)
        except Exception:  # no metadata DB / API server to ask: the default applies
            log.debug("Airflow Variable %s not readable; using the default", name)
    value = value.strip() if isinstance(value, str) else value
    return value if value not in (None, "") else default


def _number(name: str, default: float) -> float:
    raw = setting(name)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, raw, default)
        return default


def base_url() -> str:
    """Airflow's ``[api] base_url`` (what the UI is reached at), without a trailing slash."""
    try:
        from airflow.sdk.configuration import conf

        url = conf.get("api", "base_url", fallback=None)
    except Exception:  # configuration not readable: the local default
        url = None
    return (url or DEFAULT_BASE_URL).rstrip("/")


@dataclass(frozen=True)
class AlertConfig:
    email_to: tuple[str, ...] = ()
    email_from: str | None = None
    smtp_conn_id: str = DEFAULT_SMTP_CONN_ID
    webhook_conn_id: str = DEFAULT_WEBHOOK_CONN_ID
    behind_hours: float = 3.0
    behind_repeat_hours: float = 24.0
    digest_settle_seconds: float = 120.0
    base_url: str = DEFAULT_BASE_URL

    @classmethod
    def load(cls) -> AlertConfig:
        """The deployment's settings (read when an alert is checked or sent, not at parse)."""
        to = tuple(a for a in re.split(r"[,;\s]+", setting("SYNC_ALERT_EMAIL_TO") or "") if a)
        return cls(
            email_to=to,
            email_from=setting("SYNC_ALERT_EMAIL_FROM"),
            smtp_conn_id=setting("SYNC_ALERT_SMTP_CONN_ID", DEFAULT_SMTP_CONN_ID)
            or DEFAULT_SMTP_CONN_ID,
            webhook_conn_id=setting("SYNC_ALERT_WEBHOOK_CONN_ID", DEFAULT_WEBHOOK_CONN_ID)
            or DEFAULT_WEBHOOK_CONN_ID,
            behind_hours=_number("SYNC_ALERT_BEHIND_HOURS", 3.0),
            behind_repeat_hours=_number("SYNC_ALERT_BEHIND_REPEAT_HOURS", 24.0),
            digest_settle_seconds=_number("SYNC_ALERT_DIGEST_SETTLE_SECONDS", 120.0),
            base_url=base_url(),
        )
