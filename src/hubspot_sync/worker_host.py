"""The host name a worker reports for its task instances (``[core] hostname_callable``).

Two Celery workers on one machine (``make cluster``) would both report the machine's name,
so the UI and the task instances could not tell them apart; each worker's environment
names it in ``SYNC_WORKER_NAME``. Elsewhere this is Airflow's own default.
"""

from __future__ import annotations

import os


def hostname() -> str:
    """``SYNC_WORKER_NAME`` when set, else Airflow's default (the patched ``getfqdn``)."""
    name = os.environ.get("SYNC_WORKER_NAME", "").strip()
    if name:
        return name
    from airflow.utils.net import getfqdn

    return getfqdn()
