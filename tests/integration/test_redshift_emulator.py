"""redshift_connector, unchanged, through the emulator to a real PostgreSQL."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redshift_connector

from s3rb_stream.store.manifest import ManifestEntry, manifest_json
from s3rb_stream.testing.s3server import MotoS3Server


def connect(port: int) -> Any:
    return redshift_connector.connect(
        host="127.0.0.1", port=port, user="postgres", password="", database="postgres", ssl=False
    )


def test_redshift_connector_connects_and_sees_redshift_version(emulator_port: int) -> None:
    conn = connect(emulator_port)
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1 + %s", (41,))
        assert cur.fetchall()[0][0] == 42
        statuses = dict(conn.parameter_statuses)
        assert statuses[b"server_version"] == b"8.0.2"
    finally:
        conn.close()


def test_transactions_commit_and_roll_back_through_the_proxy(emulator_port: int) -> None:
    conn = connect(emulator_port)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS tx_check (id INT, v VARCHAR(10))")
        conn.commit()
        cur.execute("INSERT INTO tx_check VALUES (%s, %s)", (1, "kept"))
        conn.commit()
        cur.execute("INSERT INTO tx_check VALUES (%s, %s)", (2, "dropped"))
        conn.rollback()
        cur.execute("SELECT id, v FROM tx_check ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == [(1, "kept")]
    finally:
        conn.close()


def test_redshift_ddl_and_functions_run_on_postgres(emulator_port: int) -> None:
    conn = connect(emulator_port)
    try:
        cur = conn.cursor()
        cur.execute(
            "CREATE TABLE IF NOT EXISTS rs_only (id INT IDENTITY(1,1), v VARCHAR(MAX) ENCODE zstd, j SUPER,"
            " at TIMESTAMP) DISTKEY(id) SORTKEY(id)"
        )
        cur.execute("INSERT INTO rs_only (v, at) VALUES (%s, GETDATE())", ("x",))
        conn.commit()
        cur.execute("SELECT id, v, at IS NOT NULL FROM rs_only")
        assert [tuple(r) for r in cur.fetchall()] == [(1, "x", True)]
    finally:
        conn.close()


def put(s3_server: MotoS3Server, bucket: str, key: str, data: bytes) -> None:
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).put_object(Bucket=bucket, Key=key, Body=data)


def test_copy_from_a_manifest_loads_in_the_clients_transaction(emulator_port: int, s3_server: MotoS3Server) -> None:
    bucket = "emulator-copy"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=bucket)
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32()), "v": ["a", None]}), sink)
    put(s3_server, bucket, "b/one.parquet", sink.getvalue())
    put(
        s3_server, bucket, "b/m.manifest", manifest_json(bucket, [ManifestEntry("b/one.parquet", len(sink.getvalue()))])
    )
    copy = f"COPY copied FROM 's3://{bucket}/b/m.manifest' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST"
    conn = connect(emulator_port)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS copied (id INT, v VARCHAR(10))")
        conn.commit()
        cur.execute(copy)
        conn.rollback()  # the COPY belongs to the transaction: rolled back, nothing stays
        cur.execute("SELECT count(*) FROM copied")
        assert cur.fetchall()[0][0] == 0
        cur.execute(copy)
        conn.commit()
        cur.execute("SELECT id, v FROM copied ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == [(1, "a"), (2, None)]
        conn.commit()
        with pytest.raises(redshift_connector.error.ProgrammingError, match="does not exist"):
            cur.execute(copy.replace("m.manifest", "missing.manifest"))
    finally:
        conn.close()


def test_copy_fails_when_a_value_is_too_long_in_bytes(emulator_port: int, s3_server: MotoS3Server) -> None:
    bucket = "emulator-bytes"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=bucket)
    sink = io.BytesIO()
    pq.write_table(pa.table({"v": ["ééé"]}), sink)  # 3 characters, 6 bytes
    put(s3_server, bucket, "x.parquet", sink.getvalue())
    put(s3_server, bucket, "x.manifest", manifest_json(bucket, [ManifestEntry("x.parquet", len(sink.getvalue()))]))
    conn = connect(emulator_port)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS narrow (v VARCHAR(4))")
        conn.commit()
        with pytest.raises(redshift_connector.error.ProgrammingError, match="check constraint"):
            cur.execute(f"COPY narrow FROM 's3://{bucket}/x.manifest' IAM_ROLE 'arn:r' FORMAT AS PARQUET MANIFEST")
        conn.rollback()
        cur.execute("SELECT count(*) FROM narrow")
        assert cur.fetchall()[0][0] == 0
    finally:
        conn.close()
