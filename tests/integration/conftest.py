"""Real services for the integration tests: MariaDB with binlog and moto's S3 server.

The MariaDB server runs with a non-UTC ``time_zone`` and the process with a non-UTC ``TZ``
(tests/conftest.py), so TIMESTAMP handling that depends on either fails here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import redshift_connector

from s3rb_stream.commands.snapshot import SnapshotResult, snapshot
from s3rb_stream.commands.sync import SyncResult, sync
from s3rb_stream.pipeline.runner import run
from s3rb_stream.pipeline.types import RunResult
from s3rb_stream.settings import Settings, load_settings
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.emulator_server import RedshiftEmulatorServer
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server

SERVER_TIME_ZONE = "-07:00"
_names = itertools.count(1)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    server = MariaDBServer(options={"default-time-zone": SERVER_TIME_ZONE}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    for key, value in TEST_CREDENTIALS.items():
        os.environ[key] = value
    server = MotoS3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def emulator_port(s3_server: MotoS3Server) -> Iterator[int]:
    with RedshiftEmulatorServer(s3_server.endpoint_url) as emulator:
        yield emulator.port


ISOLATION_LEVELS = ["snapshot", "serializable"]  # Redshift's two; new clusters and Serverless: snapshot


@contextmanager
def emulator_isolation(port: int, level: str) -> Iterator[None]:
    """Sessions that start inside run at ``level``, as on a cluster whose database was altered to
    it (``ALTER DATABASE ... ISOLATION LEVEL``); the emulator's default, snapshot, again after."""

    def alter(to: str) -> None:
        conn = redshift_connector.connect(
            host="127.0.0.1", port=port, user="postgres", password="", database="postgres", ssl=False
        )
        try:
            conn.autocommit = True
            conn.cursor().execute(f"ALTER DATABASE postgres ISOLATION LEVEL {to}")
        finally:
            conn.close()

    alter(level)
    try:
        yield
    finally:
        alter("snapshot")


@pytest.fixture(params=ISOLATION_LEVELS)
def isolation(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each level in turn, for a test of the Redshift emulator (which it needs)."""
    port: int = request.getfixturevalue("emulator_port")
    with emulator_isolation(port, request.param):
        yield request.param


@dataclass
class Pipeline:
    """One source database, one target schema, one store and one DuckDB file per test."""

    server: MariaDBServer
    source_db: str
    target_schema: str
    settings: Settings

    def cli_env(self, **extra: str) -> dict[str, str]:
        """The environment that makes ``s3rb-stream`` in a subprocess use this pipeline's settings."""
        s = self.settings
        return {
            **os.environ,
            "S3RB_MYSQL_URL": s.mysql_url.get_secret_value() if s.mysql_url else "",
            "S3RB_STORE_URL": s.store_url,
            "S3RB_WAREHOUSE_URL": s.warehouse_url.get_secret_value(),
            "S3RB_TABLES_FILE": str(s.tables_file),
            **extra,
        }

    def run(self, **kwargs: Any) -> RunResult:
        return run(self.settings, self.source_db, self.target_schema, until_caught_up=True, **kwargs)

    def tables(self, yaml_text: str) -> None:
        """Write the tables file; ``{db}`` stands for the source database."""
        Path(self.settings.tables_file).write_text(yaml_text.format(db=self.source_db))

    def configure(self, **overrides: Any) -> None:
        self.settings = self.settings.model_copy(update=overrides)

    def snapshot(self, *tables: str, **kwargs: Any) -> SnapshotResult:
        return snapshot(self.settings, self.source_db, self.target_schema, tables, **kwargs)

    def sync(self, *tables: str, **kwargs: Any) -> SyncResult:
        return sync(self.settings, self.source_db, self.target_schema, tables, **kwargs)

    def sql_unlogged(self, *statements: str) -> None:
        """Write rows the binlog never sees, so only a snapshot or a query can deliver them."""
        conn = self.server.connect(self.source_db)
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            for statement in statements:
                cur.execute(statement)
        conn.close()

    def sql(self, *statements: str) -> None:
        self.server.execute(*statements, database=self.source_db)

    def source_rows(self, table: str) -> list[tuple[Any, ...]]:
        return source_rows(self.server, self.source_db, table)

    def target_rows(self, table: str) -> list[tuple[Any, ...]]:
        columns = source_columns(self.server, self.source_db, table)
        keys = ", ".join(f'"{c}"' for c in primary_key(self.server, self.source_db, table) or [columns[0][0]])
        select = ", ".join(f'"{name}"' for name, _ in columns)
        wh = DuckDBWarehouse(self.settings.warehouse().path)
        try:
            return wh.query(f"SELECT {select} FROM {wh.table_sql(self.target_schema, table)} ORDER BY {keys}")
        finally:
            wh.close()

    def target_query(self, statement: str) -> list[tuple[Any, ...]]:
        wh = DuckDBWarehouse(self.settings.warehouse().path)
        try:
            return wh.query(statement)
        finally:
            wh.close()


def source_columns(server: MariaDBServer, db: str, table: str) -> list[tuple[str, str]]:
    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME, IF(DATA_TYPE = 'decimal' AND NUMERIC_PRECISION > 38, 'wide decimal', DATA_TYPE)"
            " FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        rows = [(str(a), str(b)) for a, b in cur.fetchall()]
    conn.close()
    return rows


def primary_key(server: MariaDBServer, db: str, table: str) -> list[str]:
    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s AND INDEX_NAME='PRIMARY' ORDER BY SEQ_IN_INDEX",
            (db, table),
        )
        rows = [str(r[0]) for r in cur.fetchall()]
    conn.close()
    return rows


def source_rows(server: MariaDBServer, db: str, table: str) -> list[tuple[Any, ...]]:
    """Source rows in the form the target must hold them, written out per type (not via our converter)."""
    columns = source_columns(server, db, table)
    exprs = []
    for name, dtype in columns:
        quoted = f"`{name}`"
        if dtype == "bit":
            exprs.append(f"{quoted} + 0")
        elif dtype in ("time", "wide decimal"):  # the server's own text (a wide DECIMAL: exact text in the target)
            exprs.append(f"CAST({quoted} AS CHAR)")
        else:
            exprs.append(quoted)
    keys = ", ".join(f"`{c}`" for c in primary_key(server, db, table) or [columns[0][0]])
    conn = server.connect(db)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"SELECT {', '.join(exprs)} FROM `{table}` ORDER BY {keys}")
        fetched = cur.fetchall()
    conn.close()
    out = []
    for row in fetched:
        values = []
        for (_, dtype), value in zip(columns, row, strict=True):
            if dtype == "timestamp" and isinstance(value, datetime):
                value = value.replace(tzinfo=UTC)
            elif dtype == "bit" and value is not None:
                value = int(value)
            values.append(value)
        out.append(tuple(values))
    return out


@pytest.fixture(params=["file", "s3"])
def pipeline(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Pipeline:
    """A pipeline on the file store and on moto's S3 server."""
    return make_pipeline(request, mariadb, tmp_path, request.param)


@pytest.fixture
def file_pipeline(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Pipeline:
    return make_pipeline(request, mariadb, tmp_path, "file")


def make_pipeline(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path, store: str) -> Pipeline:
    n = next(_names)
    source_db = f"src{n}"
    overrides: dict[str, Any] = {
        "mysql_url": mariadb.url,
        "warehouse_url": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "tables_file": tmp_path / "tables.yml",
        "heartbeat_seconds": 0.5,
    }
    if store == "s3":
        s3: MotoS3Server = request.getfixturevalue("s3_server")
        bucket = f"bucket-{n}"
        boto3.client("s3", endpoint_url=s3.endpoint_url).create_bucket(Bucket=bucket)
        overrides |= {"store_url": f"s3://{bucket}/cdc", "s3_endpoint_url": s3.endpoint_url}
    else:
        overrides["store_url"] = f"file://{tmp_path / 'objects'}"
    mariadb.execute(f"CREATE DATABASE {source_db}")
    return Pipeline(mariadb, source_db, "analytics", load_settings(**overrides))
