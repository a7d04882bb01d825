"""docker-compose.yml keeps the production shape that scaling and health depend on."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.operations.conftest import ROOT

SCALED = ("worker", "idle")
LONG_RUNNING = ("db", "redis", "web", "worker", "beat", "idle")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_every_long_running_service_has_a_health_check() -> None:
    services = compose()["services"]

    for name in LONG_RUNNING:
        check = services[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name


def test_scaled_services_have_no_fixed_name_and_no_host_port() -> None:
    services = compose()["services"]

    assert not [name for name, service in services.items() if "container_name" in service]
    for name in SCALED:
        assert "ports" not in services[name], name
    assert [name for name, service in services.items() if "ports" in service] == ["web"]


def test_the_database_redis_and_blobs_live_on_volumes() -> None:
    data = compose()

    assert {"pgdata", "redisdata", "blobs"} <= set(data["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in data["services"]["db"]["volumes"]
    for name in ("web", "worker", "idle"):
        assert "blobs:/data/blobs" in data["services"][name]["volumes"], name


def test_the_app_waits_for_migrations_and_the_secrets_are_required() -> None:
    services = compose()["services"]

    for name in ("web", "worker", "beat", "idle"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}
    environment = services["web"]["environment"]
    for secret in ("SECRET_KEY", "WEBMAIL_CREDENTIAL_KEYS"):
        assert environment[secret].startswith(f"${{{secret}:?"), secret


def test_the_image_builds_the_front_end_assets_from_the_npm_lock_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "RUN bash scripts/build_assets.sh" in dockerfile
    assert "COPY --from=assets /src/static/vendor static/vendor" in dockerfile
    assert "collectstatic" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "data"} <= set(ignored)


def test_compose_accepts_the_file_and_requires_the_secrets() -> None:
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.skip("neither docker compose nor docker-compose is installed")
    environment = {**os.environ, "POSTGRES_PASSWORD": "pw", "SECRET_KEY": "k",
                   "WEBMAIL_CREDENTIAL_KEYS": "k"}
    result = subprocess.run([*command, "config", "-q"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    missing = subprocess.run([*command, "config", "-q"], cwd=ROOT,
                             env={k: v for k, v in environment.items() if k != "SECRET_KEY"},
                             capture_output=True, text=True, check=False, timeout=60)
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
