"""``s3rb-stream check --warehouse-roundtrip``, as a user runs it first against a new cluster: here
against the Redshift emulator through moto's S3, and against DuckDB."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import redshift_connector

from s3rb_stream.commands.roundtrip import warehouse_roundtrip
from s3rb_stream.settings import load_settings
from s3rb_stream.sql.identifiers import literal
from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server
from tests.integration.conftest import emulator_isolation
from tests.integration.test_redshift_end_to_end import admin_connection

CHECKS = [
    "connect", "cluster", "store", "copy+merge", "merge again", "replay", "values", "names", "key encoding",
    "manifest", "json + scd2", "fence", "evolve", "limits", "blanks", "soft deletes", "cleanup",
]  # fmt: skip


def check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "s3rb_stream", "check", "--warehouse-roundtrip"],
        env={**os.environ, **TEST_CREDENTIALS, "S3RB_LOG_LEVEL": "error", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def scratch_schemas(port: int) -> list[str]:
    conn = redshift_connector.connect(
        host="127.0.0.1", port=port, user="postgres", password="", database="postgres", ssl=False
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 's3rb_check_%'")
        return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def redshift_env(s3_server: MotoS3Server, port: int, bucket: str) -> dict[str, str]:
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=bucket)
    return {
        "S3RB_STORE_URL": f"s3://{bucket}/cdc",
        "S3RB_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3RB_WAREHOUSE_URL": f"redshift://postgres:x@127.0.0.1:{port}/postgres?ssl=false",
        "S3RB_REDSHIFT_IAM_ROLE": "arn:aws:iam::123456789012:role/s3rb-copy",
    }


def objects_left(s3_server: MotoS3Server, bucket: str) -> list[str]:
    listing = boto3.client("s3", endpoint_url=s3_server.endpoint_url).list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listing.get("Contents", []) if "/_s3rb_state/" not in o["Key"]]


def line(lines: list[str], check: str) -> str:
    return next(x for x in lines if x[6:20].strip() == check)


def test_the_roundtrip_passes_on_the_emulator_and_leaves_nothing(
    s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    result = check(redshift_env(s3_server, emulator_port, "roundtrip"), tmp_path)
    print(result.stdout)  # the closing note quotes this output
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * len(CHECKS)
    assert [line[6:20].strip() for line in lines[:-1]] == CHECKS
    assert lines[1].endswith("Redshift 1.0.121010, isolation level Snapshot Isolation")  # at the top
    assert "(Parquet, snappy)" in line(lines, "store")
    assert "RoundTrip.createdAt is roundtrip.createdat" in line(lines, "names")
    assert "objects under Stra%C3%9Fe%2050%25/" in line(lines, "key encoding")
    assert "VARCHAR 65535 and VARBYTE 1024000 bytes" in line(lines, "limits")
    assert scratch_schemas(emulator_port) == [] and objects_left(s3_server, "roundtrip") == []


def roundtrip_in_process(s3_server: MotoS3Server, emulator_port: int, bucket: str) -> list[str]:
    """The same check, in this process: its lines."""
    env = redshift_env(s3_server, emulator_port, bucket)
    settings = load_settings(
        store_url=env["S3RB_STORE_URL"],
        s3_endpoint_url=env["S3RB_S3_ENDPOINT_URL"],
        warehouse_url=env["S3RB_WAREHOUSE_URL"],
        redshift_iam_role=env["S3RB_REDSHIFT_IAM_ROLE"],
    )
    lines: list[str] = []
    report = warehouse_roundtrip(settings, lines.append)
    assert report.failed == any(x.startswith("FAIL") for x in lines)
    return lines


@contextmanager
def refusing(port: int, pattern: str) -> Iterator[None]:
    """The emulator fails every statement matching ``pattern``, as a cluster that does otherwise."""
    admin = admin_connection(port)
    try:
        admin.cursor().execute("SET s3rb_emulator.fail_statements TO " + literal(pattern))
        yield
    finally:
        admin.cursor().execute("SET s3rb_emulator.fail_statements TO ''")
        admin.close()


# Statements that, refused, fail one line each: its own COPY, fence statements, DDL or UPDATE.
REFUSED = {
    "key encoding": r"^COPY .*/Stra%C3%9Fe%2050%25/",
    "manifest": r"^COPY .*/RoundTripParts/",
    "fence": r"_s3rb_fence",
    "evolve": r"RENAME COLUMN",
    "limits": r"^COPY .*/RoundTripLimits/",
    "blanks": r"^UPDATE .*roundtripblanks",
    "soft deletes": r"^UPDATE .*roundtripsoft.* SET \"_s3rb_op\" = 'd'",  # the sweep's marks
}


def test_each_line_fails_when_the_cluster_does_otherwise(s3_server: MotoS3Server, emulator_port: int) -> None:
    """An old cluster fails the first line (which still shows the isolation level); refused
    statements fail the line that sent them and no other; the cleanup runs."""
    admin = admin_connection(emulator_port)
    try:
        admin.cursor().execute("SET s3rb_emulator.cluster_version TO '1.0.72000'")
        pattern = "|".join(f"({r})" for r in REFUSED.values())
        with refusing(emulator_port, pattern), emulator_isolation(emulator_port, "serializable"):
            lines = roundtrip_in_process(s3_server, emulator_port, "roundtrip-refused")
    finally:
        admin.cursor().execute("SET s3rb_emulator.cluster_version TO '1.0.121010'")
        admin.close()
    print("\n".join(lines))
    assert line(lines, "cluster") == (
        "FAIL  cluster        cluster version 1.0.72000 is older than patch 183 (1.0.72982), which MERGE with a"
        " subquery source needs: let the cluster take its pending maintenance (or move it to the current track);"
        " isolation level Serializable"
    )
    assert {x[6:20].strip() for x in lines if x.startswith("FAIL")} == {"cluster", *REFUSED}
    for name in REFUSED:
        assert "statement failed on purpose" in line(lines, name), line(lines, name)
    assert line(lines, "cleanup").startswith("ok")
    assert scratch_schemas(emulator_port) == [] and objects_left(s3_server, "roundtrip-refused") == []


def test_the_names_line_fails_when_the_lookups_find_nothing(s3_server: MotoS3Server, emulator_port: int) -> None:
    # the check's own lookups, by literal names; the loads look up by bound parameters
    with refusing(emulator_port, r"information_schema\.columns WHERE .* = '"):
        lines = roundtrip_in_process(s3_server, emulator_port, "roundtrip-names")
    assert {x[6:20].strip() for x in lines if x.startswith("FAIL")} == {"names", "key encoding"}


def test_a_warehouse_that_refuses_a_load_fails_the_roundtrip_and_is_still_cleaned(
    s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    env = redshift_env(s3_server, emulator_port, "roundtrip-zstd") | {"S3RB_PARQUET_CODEC": "zstd"}
    result = check(env, tmp_path)
    assert result.returncode == 1
    assert "FAIL  copy+merge" in result.stdout and "compressed with ZSTD" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("ok    cleanup")
    assert "error: the warehouse roundtrip failed" in result.stderr
    assert scratch_schemas(emulator_port) == [] and objects_left(s3_server, "roundtrip-zstd") == []


def test_the_roundtrip_passes_on_duckdb(tmp_path: Path) -> None:
    env = {
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
    }
    result = check(env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sum(line.startswith("ok    ") for line in result.stdout.splitlines()) == len(CHECKS)
    leftovers = [p for p in (tmp_path / "objects").rglob("*") if p.is_file() and "_s3rb_state" not in p.parts]
    assert leftovers == []
