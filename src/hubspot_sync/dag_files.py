"""The entity DAGs, loaded from the DAG file the way Airflow's DAG processor loads it: by
path, from the configured DAGs folder; the CLI and tests need no import-path edits."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

DAG_FILE = "sync_entities.py"
MODULE_NAME = "sync_entities"
# The repository's dags/ folder, for an editable install run outside Airflow's settings.
_REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"


def dags_folder() -> Path:
    """``AIRFLOW__CORE__DAGS_FOLDER`` when set (the Makefile and the tests set it), else the
    repository's dags/ folder."""
    configured = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    return Path(configured) if configured else _REPO_DAGS


def entity_dags(folder: Path | None = None) -> dict[str, Any]:
    """dag_id -> DAG of every mapping file (entity DAGs and broken-mapping DAGs)."""
    module = sys.modules.get(MODULE_NAME)
    if module is None:
        path = (folder or dags_folder()) / DAG_FILE
        spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"no DAG file at {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(MODULE_NAME, None)
            raise
    return module.DAGS
