"""A claim of the fence, and the preparation of a table, meet what a load meets on Redshift: an
isolation conflict (error 1023, under SNAPSHOT as under SERIALIZABLE) is retried, and a statement
that outlasts ``statement_timeout`` is an outage that names the setting, never a raw driver error."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import WarehouseUnavailable
from s3rb_stream.settings import Settings
from s3rb_stream.targets import Fence, open_warehouse
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import MotoS3Server
from tests.integration.test_redshift_end_to_end import admin_connection, redshift_settings, target_rows

ITEMS = SourceTable("claims", "items", (SourceColumn("id", "int", "int", nullable=False),), ("id",))


def settings(mariadb: MariaDBServer, s3_server: MotoS3Server, port: int, tmp_path: Path, bucket: str) -> Settings:
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=bucket)
    (tmp_path / "tables.yml").write_text("tables: []\n")
    return redshift_settings(mariadb, s3_server, bucket, port, tmp_path / "tables.yml")


def waiting_on_a_lock(admin: Any) -> bool:
    cur = admin.cursor()
    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    return bool(cur.fetchall()[0][0])


def test_a_claim_that_meets_a_concurrent_write_of_the_fence_is_retried(
    isolation: str, mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """Another transaction writes the fence rows and commits while the claim waits on them: the
    claim's first try fails with 1023, its second claims the target."""
    schema = f"claim_conflict_{isolation}"
    warehouse = open_warehouse(settings(mariadb, s3_server, emulator_port, tmp_path, f"claim-{isolation}"))
    writer, monitor = admin_connection(emulator_port), admin_connection(emulator_port)
    try:
        warehouse.claim(schema, Fence("claims", 1), ["items"])
        writer.autocommit = False
        writer.cursor().execute(f"UPDATE {schema}._s3rb_fence SET taken_at = SYSDATE WHERE source_db = 'claims'")
        failed: list[BaseException] = []

        def claim() -> None:
            try:
                warehouse.claim(schema, Fence("claims", 2), ["items"])
            except BaseException as exc:
                failed.append(exc)

        claiming = threading.Thread(target=claim)
        claiming.start()
        deadline = time.monotonic() + 30
        while not waiting_on_a_lock(monitor) and time.monotonic() < deadline:
            time.sleep(0.1)
        writer.commit()
        claiming.join(timeout=60)
        assert not claiming.is_alive() and failed == []
        assert target_rows(emulator_port, schema, "_s3rb_fence", "DISTINCT generation", "1") == [(2,)]
    finally:
        writer.close()
        monitor.close()
        warehouse.drop_schema(schema)
        warehouse.close()


@pytest.mark.parametrize(
    ("step", "slow"),
    [("claim", "_s3rb_fence"), ("prepare", "^CREATE TABLE IF NOT EXISTS .*items")],
)
def test_a_claim_or_preparation_that_runs_out_of_time_is_an_outage(
    step: str, slow: str, mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    base = settings(mariadb, s3_server, emulator_port, tmp_path, f"slow-{step}")
    warehouse = open_warehouse(base.model_copy(update={"redshift_statement_timeout_seconds": 1}))
    admin = admin_connection(emulator_port)
    schema = f"slow_{step}"
    try:
        admin.cursor().execute(f"SET s3rb_emulator.statement_delay TO '3 {slow}'")
        with pytest.raises(WarehouseUnavailable) as raised:
            if step == "claim":
                warehouse.claim(schema, Fence("claims", 1), ["items"])
            else:
                warehouse.prepare(schema, ITEMS)
        what = "claiming slow_claim for lease generation 1" if step == "claim" else "preparing slow_prepare.items"
        assert str(raised.value).startswith(f"{what} ran out of time at ")
        assert "cancelled by Redshift's statement_timeout" in str(raised.value)
        assert "S3RB_REDSHIFT_STATEMENT_TIMEOUT_SECONDS" in str(raised.value) and raised.value.retryable
    finally:
        admin.cursor().execute("SET s3rb_emulator.statement_delay TO '0'")
        admin.close()
        warehouse.close()
    again = open_warehouse(base)  # quick again: the same step goes through
    try:
        again.claim(schema, Fence("claims", 1), ["items"])
        again.prepare(schema, ITEMS)
    finally:
        again.drop_schema(schema)
        again.close()
