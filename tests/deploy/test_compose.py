"""docker-compose.yaml runs the tested deployment: `docker-compose config` (Debian's
docker-compose, installed by `make system-deps`) validates it, and every Airflow service
gets exactly deploy/cluster.env + deploy/sandboxes.env, the settings `make cluster` and
tests/cluster run with, except the documented docker-network host names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cluster.conftest import read_env_file

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = [ROOT / "deploy" / "cluster.env", ROOT / "deploy" / "sandboxes.env"]
AIRFLOW_SERVICES = {"airflow-init": None, "airflow-apiserver": "api-server",
                    "airflow-scheduler": "scheduler", "airflow-dag-processor": "dag-processor",
                    "airflow-triggerer": "triggerer",
                    "airflow-worker": "celery worker --queues default"}
SANDBOX_SERVICES = {"hubspot-sandbox", "officernd-sandbox"}
SECRETS = {"AIRFLOW_JWT_SECRET": "test-jwt-secret", "AIRFLOW_FERNET_KEY": "test-fernet-key"}


def compose_config(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose not found: install Debian's docker-compose "
                    "(`make system-deps`)")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "COMPOSE_"))} | extra_env
    return subprocess.run([tool, "-f", str(ROOT / "docker-compose.yaml"), "config"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def settings() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in SETTINGS:
        out.update(read_env_file(path))
    return out


def as_local(value: str, host: str) -> str:
    """value with the service name ``host`` in host position (after ``@`` or ``//``,
    before ``:`` or ``/``) replaced by 127.0.0.1."""
    return re.sub(rf"(?<=[@/]){re.escape(host)}(?=[:/])", "127.0.0.1", value)


def test_the_services_of_the_tested_deployment(config) -> None:
    services = config["services"]
    assert set(services) == set(AIRFLOW_SERVICES) | SANDBOX_SERVICES | {"postgres", "redis"}
    for name, command in AIRFLOW_SERVICES.items():
        if command:
            got = services[name]["command"]
            assert (" ".join(got) if isinstance(got, list) else got) == command, name
    assert services["airflow-worker"]["deploy"]["replicas"] == 2
    assert services["airflow-apiserver"]["ports"][0]["target"] == int(
        settings()["AIRFLOW__API__PORT"])


def test_every_airflow_service_gets_the_cluster_settings(config) -> None:
    """Each value is the file's, or (the docker-hosts block) the file's with 127.0.0.1
    replaced by a service's name and nothing else."""
    expected = settings()
    services = config["services"]
    overridden: set[str] = set()
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        for key, value in expected.items():
            got = str(env.get(key))
            if got == value:
                continue
            assert any(as_local(got, host) == value for host in services), (
                f"{name}: {key}={got!r} differs from the settings' {value!r} in more "
                f"than the host")
            overridden.add(key)
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRETS["AIRFLOW_JWT_SECRET"]
        assert env["AIRFLOW__CORE__FERNET_KEY"] == SECRETS["AIRFLOW_FERNET_KEY"]
        assert services[name]["build"]["target"] == "airflow", name
    # The minimal override: only what names a host (databases, broker, API, sandboxes).
    assert overridden == {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW_CONN_SYNC_WAREHOUSE", "AIRFLOW_CONN_HUBSPOT_DEFAULT",
        "AIRFLOW_CONN_OFFICERND_DEFAULT"}
    assert expected["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert expected["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")


def test_the_secrets_are_required_not_defaulted() -> None:
    result = compose_config({})
    assert result.returncode != 0
    assert "AIRFLOW_JWT_SECRET" in result.stderr


def test_production_image_holds_no_sandbox_code(config) -> None:
    """The sandboxes' code is copied only in the Dockerfile's `sandbox` stage, and only the
    two sandbox services build that stage."""
    stages: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            current = match.group(2) or match.group(1)
            stages[current] = [match.group(1)]
        elif current and line.strip() and not line.lstrip().startswith("#"):
            stages[current].append(line)
    assert {"base", "sandbox", "airflow"} <= set(stages)
    copies_sandbox = {name for name, lines in stages.items()
                      if any(re.match(r"COPY\b.*\bsandbox\b", line) for line in lines)}
    assert copies_sandbox == {"sandbox"}
    assert stages["airflow"][0] == "base" and stages["sandbox"][0] == "base"
    assert list(stages)[-1] == "airflow", "the default target is the production image"
    for name in SANDBOX_SERVICES:
        assert config["services"][name]["build"]["target"] == "sandbox"
