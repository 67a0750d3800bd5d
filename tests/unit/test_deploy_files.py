"""The deployment files parse and say what the README says (no container engine runs here)."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
ROOT = DEPLOY.parent


def test_compose_runs_mysql_with_the_binlog_settings_minio_and_the_daemon() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"mysql", "minio", "make-bucket", "s3rb-stream"} <= set(services)
    assert {"--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL"} <= set(
        services["mysql"]["command"]
    )
    daemon = services["s3rb-stream"]
    assert daemon["command"][:1] == ["run"] and daemon["environment"]["S3RB_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert daemon["depends_on"]["mysql"]["condition"] == "service_healthy"


def test_k8s_has_one_deployment_per_source_with_secrets_from_the_environment_and_a_probe() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "s3rb-stream.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"ConfigMap", "Secret", "Deployment"}
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": kinds["Secret"]["metadata"]["name"]}}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "S3RB_MYSQL_PASSWORD" in kinds["Secret"]["stringData"]
    yaml.safe_load(kinds["ConfigMap"]["data"]["tables.yml"])  # the embedded tables file is YAML too


def test_systemd_unit_restarts_on_failure_and_stops_with_sigterm() -> None:
    unit = (DEPLOY / "systemd" / "s3rb-stream@.service").read_text()
    settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["Restart"] == "on-failure" and settings["KillSignal"] == "SIGTERM"
    assert settings["ExecStart"].split()[1:3] == ["run", "--source-db"]
    assert settings["RestartPreventExitStatus"] == "2"


def test_dockerfile_is_slim_non_root_with_a_healthcheck() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert lines[0].startswith("FROM python:3.11-slim")
    assert "USER s3rb" in lines
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert any("/healthz" in line for line in lines)
