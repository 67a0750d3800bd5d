"""The deployment files parse and say what docs/operations.md says (no container engine runs here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
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
    assert set(kinds) == {"ConfigMap", "ServiceAccount", "Secret", "Deployment"}
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": kinds["Secret"]["metadata"]["name"]}}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "S3RB_MYSQL_PASSWORD" in kinds["Secret"]["stringData"]
    yaml.safe_load(kinds["ConfigMap"]["data"]["tables.yml"])  # the embedded tables file is YAML too
    # AWS credentials from an IAM role for the service account, not from keys in the Secret.
    account = kinds["ServiceAccount"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")


def test_k8s_pod_runs_as_the_images_numeric_user_with_nothing_it_does_not_need() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "s3rb-stream.yaml").read_text()))
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    image_user = next(
        line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER")
    )
    uid, gid = (int(part) for part in image_user.split(":"))  # numeric: the kubelet checks runAsNonRoot
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid) and uid > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # the one writable path


def systemd_unit() -> tuple[str, dict[str, list[str]]]:
    text = (DEPLOY / "systemd" / "s3rb-stream@.service").read_text()
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return text, settings


def test_systemd_unit_restarts_on_failure_and_stops_with_sigterm() -> None:
    _, settings = systemd_unit()
    assert settings["Restart"] == ["on-failure"] and settings["KillSignal"] == ["SIGTERM"]
    assert settings["ExecStart"][0].split()[1:3] == ["run", "--source-db"]
    assert settings["RestartPreventExitStatus"] == ["2"]


def test_systemd_unit_is_sandboxed() -> None:
    text, settings = systemd_unit()
    for key, value in {
        "ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true", "NoNewPrivileges": "true",
        "CapabilityBoundingSet": "", "StateDirectory": "s3rb-stream", "UMask": "0077",
    }.items():  # fmt: skip
        assert settings[key] == [value], key
    assert "@system-service" in settings["SystemCallFilter"]
    if shutil.which("systemd-analyze") is None:
        return  # the file's settings above are checked; systemd's own checks need systemd-analyze
    with tempfile.TemporaryDirectory() as scratch:  # verify wants an ExecStart that exists here
        unit = Path(scratch) / "s3rb-stream@.service"
        unit.write_text(
            "\n".join(
                "ExecStart=/bin/true"
                if line.startswith("ExecStart=")
                else line.replace("EnvironmentFile=", "EnvironmentFile=-")
                for line in text.splitlines()
            )
        )
        instance = Path(scratch) / "s3rb-stream@sales.service"
        instance.symlink_to(unit)
        verify = subprocess.run(["systemd-analyze", "verify", str(instance)], capture_output=True, text=True)
        assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
        security = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", str(instance)], capture_output=True, text=True
        )
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert score is not None, security.stdout + security.stderr
    assert float(score.group(1)) <= 2.0, score.group(0)  # "OK" in systemd's words


def test_dockerfile_builds_in_two_stages_with_pinned_dependencies_first_as_a_numeric_user() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2 and all(s.startswith("FROM python:3.11-slim") for s in stages)
    copies = [line for line in lines if line.startswith("COPY ")]
    first_code = next(i for i, line in enumerate(copies) if "s3rb_stream" in line)
    assert any("constraints.txt" in line for line in copies[:first_code])  # dependencies before the code
    assert "-c constraints.txt" in (ROOT / "scripts" / "setup.sh").read_text()  # the same pins
    user = [line for line in lines if line.startswith("USER ")]
    assert len(user) == 1 and re.fullmatch(r"USER \d+:\d+", user[0])
    health = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    assert "/healthz" in lines[health + 1] and "S3RB_METRICS_PORT" in lines[health + 1]
