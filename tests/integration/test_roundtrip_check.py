"""``s3rb-stream check --warehouse-roundtrip``, as a user runs it first against a new cluster: here
against the Redshift emulator through moto's S3, and against DuckDB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import redshift_connector

from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server

CHECKS = ["connect", "store", "copy+merge", "merge again", "replay", "values", "names", "json + scd2", "cleanup"]


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


def test_the_roundtrip_passes_on_the_emulator_and_leaves_nothing(
    s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    result = check(redshift_env(s3_server, emulator_port, "roundtrip"), tmp_path)
    print(result.stdout)  # the closing note quotes this output
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * len(CHECKS)
    assert [line[6:20].strip() for line in lines[:-1]] == CHECKS
    assert "(Parquet, snappy)" in lines[1]
    assert "RoundTrip.createdAt is roundtrip.createdat" in lines[6]
    assert scratch_schemas(emulator_port) == [] and objects_left(s3_server, "roundtrip") == []


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
