"""The chaos test uses the end-to-end harness (real DAG runs against both sandboxes)."""

from tests.e2e.conftest import entity_dags, sync_env

__all__ = ["entity_dags", "sync_env"]
