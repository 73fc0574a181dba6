"""Alerts that reach people: a failed entity run (a reject threshold exceeded included),
an entity behind by more than a configured number of hours, and an hourly digest of new
rejects, by e-mail (Airflow's SMTP provider) and a Slack-compatible webhook (the HTTP
provider), configured per deployment (``config``).

``messages`` builds what an alert says (pure), ``delivery`` sends it, ``notifier`` is the
entity DAGs' failure notifier, ``checks`` the hourly ``sync_alerts`` DAG's checks.
Importing this package is light (DAG files import the notifier at parse time).
"""

from hubspot_sync.alerts.notifier import SyncFailureNotifier

__all__ = ["SyncFailureNotifier"]
