"""The host name a Celery worker reports for its task instances ([core] hostname_callable
in deploy/cluster.env)."""

from __future__ import annotations

import pytest

from hubspot_sync.worker_host import hostname
from tests.cluster.conftest import read_env_file
from tests.deploy.test_compose import SETTINGS


def test_a_named_worker_reports_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_WORKER_NAME", " worker2 ")
    assert hostname() == "worker2"


def test_otherwise_airflows_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.utils.net import getfqdn

    monkeypatch.delenv("SYNC_WORKER_NAME", raising=False)
    assert hostname() == getfqdn()


def test_the_settings_name_this_callable() -> None:
    callable_path = read_env_file(SETTINGS[0])["AIRFLOW__CORE__HOSTNAME_CALLABLE"]
    module, _, name = callable_path.rpartition(".")
    assert (module, name) == (hostname.__module__, hostname.__name__)
