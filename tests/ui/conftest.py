"""Browser tests of the Airflow UI: the e2e harness's fixtures (a real sync fills the
warehouse) and a real ``airflow api-server`` in a subprocess."""

from __future__ import annotations

from tests.e2e.conftest import entity_dags, sync_env  # noqa: F401 - fixtures used here too


def pytest_configure(config) -> None:
    # The e2e conftest registers it too, but only when tests/e2e is collected.
    config.addinivalue_line("markers", "officernd_scale(n): members in the OfficeRnD sandbox")
