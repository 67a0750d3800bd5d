"""MariaDB binlog → moto S3 → the Redshift emulator, through redshift_connector, row for row."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
import redshift_connector
from pydantic import SecretStr

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.core.object_keys import parse_batch_key
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings, load_settings
from s3rb_stream.sql.redshift_lint import lint
from s3rb_stream.state.quarantines import active_quarantines
from s3rb_stream.store import open_store, parquet
from s3rb_stream.store.batches import put_batch
from s3rb_stream.store.s3 import S3Store
from s3rb_stream.targets import redshift as redshift_target
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server
from tests.integration.conftest import source_rows

ROLE = "arn:aws:iam::123456789012:role/s3rb-copy"


def redshift_settings(
    mariadb: MariaDBServer, s3_server: MotoS3Server, bucket: str, port: int, tables_file: Path
) -> Settings:
    """A pipeline from the test MariaDB through moto S3 into the emulator (or a proxy) on ``port``."""
    return load_settings(
        mysql_url=mariadb.url,
        store_url=f"s3://{bucket}/cdc",
        s3_endpoint_url=s3_server.endpoint_url,
        warehouse_url=f"redshift://postgres:not-checked@127.0.0.1:{port}/postgres?ssl=false",
        redshift_iam_role=ROLE,
        tables_file=tables_file,
        heartbeat_seconds=0.5,
    )


def settings_for_target(
    request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path, tables: Path, bucket: str
) -> tuple[Settings, int | None]:
    """Settings for a scenario run on both targets: into the Redshift emulator (through moto S3, in
    ``bucket``) when the test is parametrized ``redshift`` (or ``redshift-<isolation level>``), else
    into DuckDB; and the emulator's port."""
    if str(request.param).startswith("redshift"):
        s3: MotoS3Server = request.getfixturevalue("s3_server")
        port: int = request.getfixturevalue("emulator_port")
        boto3.client("s3", endpoint_url=s3.endpoint_url).create_bucket(Bucket=bucket)
        return redshift_settings(mariadb, s3, bucket, port, tables), port
    settings = load_settings(
        mysql_url=mariadb.url,
        store_url=f"file://{tmp_path / 'objects'}",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        tables_file=tables,
        heartbeat_seconds=0.5,
    )
    return settings, None


def redshift_source(
    mariadb: MariaDBServer,
    s3_server: MotoS3Server,
    port: int,
    tmp_path: Path,
    db: str,
    tables_yml: str,
    *statements: str,
) -> Settings:
    """A source database made by ``statements``, its tables file, a bucket named after it, and
    settings that load it through moto S3 into the emulator (or a proxy) on ``port``."""
    bucket = db.replace("_", "-")
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=bucket)
    (tmp_path / "tables.yml").write_text(tables_yml)
    mariadb.execute(f"CREATE DATABASE {db}", *statements)
    return redshift_settings(mariadb, s3_server, bucket, port, tmp_path / "tables.yml")


def redshift_cli_env(
    settings: Settings, mariadb: MariaDBServer, s3_server: MotoS3Server, tmp_path: Path, **extra: str
) -> dict[str, str]:
    """The environment of an ``s3rb-stream`` subprocess that runs ``settings`` (made by
    :func:`redshift_source`) into the emulator, with ``extra`` settings on top."""
    return {
        **os.environ,
        **TEST_CREDENTIALS,
        "S3RB_MYSQL_URL": mariadb.url,
        "S3RB_STORE_URL": settings.store_url,
        "S3RB_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3RB_WAREHOUSE_URL": settings.warehouse_url.get_secret_value(),
        "S3RB_REDSHIFT_IAM_ROLE": ROLE,
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        "S3RB_HEARTBEAT_SECONDS": "0.5",
        "S3RB_LOG_FORMAT": "json",
        **extra,
    }


def two_items(mariadb: MariaDBServer, s3_server: MotoS3Server, port: int, tmp_path: Path, db: str) -> Settings:
    """The smallest source: ``items (id, name)`` with two rows, loaded through ``port``."""
    return redshift_source(
        mariadb,
        s3_server,
        port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20))",
        f"INSERT INTO {db}.items VALUES (1, 'one'), (2, 'two')",
    )


def admin_connection(port: int) -> Any:
    """An autocommit session on the emulator, for DDL and its settings."""
    conn = redshift_connector.connect(
        host="127.0.0.1", port=port, user="postgres", password="", database="postgres", ssl=False
    )
    conn.autocommit = True
    return conn


def target_rows(port: int, schema: str, table: str, columns: str, order: str) -> list[tuple[Any, ...]]:
    conn = redshift_connector.connect(
        host="127.0.0.1", port=port, user="postgres", password="", database="postgres", ssl=False
    )
    try:
        cur = conn.cursor()
        cur.execute(f'SELECT {columns} FROM "{schema}"."{table}" ORDER BY {order}')
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def query_target(
    settings: Settings, redshift_port: int | None, schema: str, table: str, columns: str, order: str
) -> list[tuple[Any, ...]]:
    """Rows of a target table, from the Redshift emulator when a port is given, else from DuckDB."""
    if redshift_port is not None:
        return target_rows(redshift_port, schema, table, columns, order)
    from s3rb_stream.targets.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(settings.warehouse().path)
    try:
        return [tuple(r) for r in wh.query(f"SELECT {columns} FROM {wh.table_sql(schema, table)} ORDER BY {order}")]
    finally:
        wh.close()


def test_binlog_to_redshift_emulator_mirrors_the_source(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, schema = "rs_src", "rs_target"
    settings = redshift_source(
        mariadb,
        s3_server,
        emulator_port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2), qty BIGINT UNSIGNED)",
        f"INSERT INTO {db}.items VALUES (1, 'one', 1.50, 10), (2, 'two ✓', NULL, 18446744073709551615),"
        " (3, 'three', 3.00, 0), (4, 'four', 4.00, 4)",
        f"UPDATE {db}.items SET name = 'uno', price = NULL WHERE id = 1",
        f"UPDATE {db}.items SET id = 30 WHERE id = 3",
        f"DELETE FROM {db}.items WHERE id = 4",
    )
    statements: list[str] = []
    monkeypatch.setattr(redshift_target, "STATEMENT_OBSERVERS", [statements.append])

    run(settings, db, schema, until_caught_up=True)
    mariadb.execute(f"INSERT INTO {db}.items VALUES (5, 'five', 5.55, 5)", f"DELETE FROM {db}.items WHERE id = 2")
    second = run(settings, db, schema, until_caught_up=True)
    assert second.changes == 2

    expected = [
        (row[0], row[1], row[2], Decimal(row[3]) if row[3] is not None else None)
        for row in source_rows(mariadb, db, "items")
    ]
    assert target_rows(emulator_port, schema, "items", "id, name, price, qty", "id") == expected
    assert [r[0] for r in expected] == [1, 5, 30]

    idle = run(settings, db, schema, until_caught_up=True)
    assert idle.loaded.rows == 0
    assert target_rows(emulator_port, schema, "items", "id, name, price, qty", "id") == expected

    assert any(s.startswith("COPY ") for s in statements) and any(s.startswith("MERGE ") for s in statements)
    for statement in statements:
        assert lint(statement) == [], statement


def test_redshift_needs_an_s3_store_and_an_iam_role(emulator_port: int, tmp_path: Path) -> None:
    from s3rb_stream.errors import ConfigError
    from s3rb_stream.targets import open_warehouse

    url = f"redshift://postgres:x@127.0.0.1:{emulator_port}/postgres?ssl=false"
    with pytest.raises(ConfigError, match="needs an s3:// store"):
        open_warehouse(load_settings(warehouse_url=url, store_url=f"file://{tmp_path}", redshift_iam_role=ROLE))
    with pytest.raises(ConfigError, match="S3RB_REDSHIFT_IAM_ROLE is not set"):
        open_warehouse(load_settings(warehouse_url=url, store_url="s3://b/p"))


def test_replayed_and_older_batches_change_nothing_on_redshift(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    db, schema = "rs_replay", "rs_replay_target"
    settings = two_items(mariadb, s3_server, emulator_port, tmp_path, db)
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    run(settings, db, schema, until_caught_up=True)
    first = [o["Key"] for o in s3.list_objects_v2(Bucket="rs-replay")["Contents"] if o["Key"].endswith(".parquet")]
    assert len(first) == 1
    mariadb.execute(f"UPDATE {db}.items SET name = 'uno' WHERE id = 1", f"DELETE FROM {db}.items WHERE id = 2")
    run(settings, db, schema, until_caught_up=True)
    expected = source_rows(mariadb, db, "items")
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == expected == [(1, "uno")]

    # The first batch again under a new name (a replay after a crash): older than what is applied.
    old = s3.get_object(Bucket="rs-replay", Key=first[0])["Body"].read()
    head, _, tail = first[0].rpartition("/")
    table, lo, hi = tail.removesuffix(".parquet").rsplit("_", 2)
    replay_key = f"{head}/{table}_{lo}_{int(hi) + 1}.parquet"
    put_batch(open_store(settings), replay_key, parquet.decode(old, first[0]))  # as capture writes: object, note
    result = run(settings, db, schema, until_caught_up=True)
    assert result.loaded.batches == 1  # the replay was loaded ...
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == expected  # ... and changed nothing


def test_a_load_cut_mid_transaction_applies_nothing_and_the_next_load_completes(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    from s3rb_stream.errors import WarehouseError
    from s3rb_stream.testing.tcp_proxy import CuttingProxy

    db, schema = "rs_cut", "rs_cut_target"
    with CuttingProxy(emulator_port) as proxy:
        settings = two_items(mariadb, s3_server, proxy.port, tmp_path, db)
        # Every load is cut as it records its batches: after COPY, deletes and MERGE ran in its transaction.
        proxy.cut_on = b'"_s3rb_batches" (table_name, object_key'

        with pytest.raises(WarehouseError, match="nothing was applied"):
            run(settings, db, schema, until_caught_up=True)
        assert proxy.cuts >= 2  # the first try and at least one retry were cut
        assert target_rows(emulator_port, schema, "items", "id, name", "id") == []
        applied = target_rows(emulator_port, schema, "_s3rb_batches", "object_key", "object_key")
        assert applied == []

        proxy.cut_on = None
        result = run(settings, db, schema, until_caught_up=True)
        assert result.loaded.batches == 1
        assert target_rows(emulator_port, schema, "items", "id, name", "id") == source_rows(mariadb, db, "items")


def test_type_extremes_reach_redshift_exactly(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    db, schema = "rs_types", "rs_types_target"
    settings = redshift_source(
        mariadb,
        s3_server,
        emulator_port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.t"\n',  # the server runs at -07:00: ts is the last TIMESTAMP in UTC
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, uti TINYINT UNSIGNED, usi SMALLINT UNSIGNED,"
        " umi MEDIUMINT UNSIGNED, ui INT UNSIGNED, ubi BIGINT UNSIGNED, bi BIGINT, b1 BIT(1), b64 BIT(64),"
        " j JSON, vc VARCHAR(3), tm TIME(6), ts TIMESTAMP(6) NULL, dw DECIMAL(50,10))",
        f"INSERT INTO {db}.t VALUES (1, 255, 65535, 16777215, 4294967295, 18446744073709551615,"
        " -9223372036854775808, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',"
        " '{\"k\": [1, \"ü\", null]}', '😀😀😀', '-838:59:59.000000', '2038-01-18 20:14:07.999999',"
        " '-1234567890123456789012345678901234567890.0123456789')",
        f"INSERT INTO {db}.t (id) VALUES (2)",
    )
    run(settings, db, schema, until_caught_up=True)

    columns = "id, uti, usi, umi, ui, ubi, bi, b1, b64, j::text, vc, tm, (ts AT TIME ZONE 'UTC')::text, dw"
    rows = target_rows(emulator_port, schema, "t", columns, "id")
    assert rows[0] == (
        1, 255, 65535, 16777215, 4294967295, Decimal(18446744073709551615), -9223372036854775808, 1,
        Decimal(2**64 - 1), '{"k": [1, "ü", null]}', "😀😀😀", "-838:59:59.000000",
        "2038-01-19 03:14:07.999999", "-1234567890123456789012345678901234567890.0123456789",
    )  # fmt: skip
    assert rows[1] == (2, *[None] * 13)


def test_values_over_the_varchar_byte_limit_follow_the_overflow_policy(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    from s3rb_stream.errors import WarehouseError

    db, schema = "rs_long", "rs_long_target"
    settings = redshift_source(
        mariadb,
        s3_server,
        emulator_port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.t"\n',
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, body MEDIUMTEXT, note MEDIUMTEXT)",
        # 20,000 characters, 80,000 bytes: within VARCHAR(65535) for PostgreSQL, over it for Redshift
        f"INSERT INTO {db}.t VALUES (1, 'fits', 'short'), (2, REPEAT('😀', 20000), REPEAT('x', 70000))",
    )
    tables = tmp_path / "tables.yml"
    with pytest.raises(
        WarehouseError, match=r"1 value\(s\) of rs_long_target\.t\.body exceed the target's 65535 bytes"
    ):
        run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "t", "id", "id") == []
    assert target_rows(emulator_port, schema, "_s3rb_batches", "object_key", "object_key") == []

    # The same pending batch, once the policy allows it: cut on a character boundary, or nulled.
    tables.write_text(f'tables:\n  - name: "{db}.t"\n    overflow: truncate\n    overflow_columns: {{note: "null"}}\n')
    result = run(settings, db, schema, until_caught_up=True)
    assert result.loaded.batches == 1
    rows = target_rows(emulator_port, schema, "t", "id, body, note", "id")
    assert rows[0] == (1, "fits", "short")
    assert rows[1] == (2, "😀" * 16383, None)  # 65,532 bytes: the next character would not fit


def reads_of_batches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The batch objects this process reads from S3 from now on (COPY's reads are the emulator's)."""
    read: list[str] = []
    real = S3Store.get_versioned

    def recording(self: S3Store, key: str) -> tuple[bytes, str] | None:
        if parse_batch_key(key) is not None:
            read.append(key)
        return real(self, key)

    monkeypatch.setattr(S3Store, "get_versioned", recording)
    return read


def test_a_redshift_load_reads_only_the_batches_whose_values_it_must_fit(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COPY is the only full read of a batch: the load knows rows, sizes and the longest values
    from each batch's note, and reads a batch itself only when a value is over a limit."""
    db, schema = "rs_unread", "rs_unread_target"
    settings = redshift_source(
        mariadb, s3_server, emulator_port, tmp_path, db,
        f'tables:\n  - name: "{db}.t"\n    overflow: truncate\n  - name: "{db}.other"\n',
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, body MEDIUMTEXT)",
        f"CREATE TABLE {db}.other (id INT PRIMARY KEY, body MEDIUMTEXT)",
        f"INSERT INTO {db}.other VALUES (1, REPEAT('x', 60000))",  # long, but within 65535 bytes
    )  # fmt: skip
    read = reads_of_batches(monkeypatch)
    run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "other", "id, LENGTH(body)", "id") == [(1, 60000)]
    assert read == []
    mariadb.execute(f"INSERT INTO {db}.t VALUES (1, REPEAT('y', 70000))", f"INSERT INTO {db}.other VALUES (2, 'b')")
    run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "t", "id, LENGTH(body)", "id") == [(1, 65535)]
    assert target_rows(emulator_port, schema, "other", "id", "id") == [(1,), (2,)]
    assert [parse_batch_key(k).table for k in read] == ["t"]  # type: ignore[union-attr]


def test_an_unreadable_batch_copy_refuses_is_set_aside_and_its_table_held(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """The load does not read a batch before COPY; when COPY refuses one, the load reads them and
    sets the unreadable one aside, as it would have before (docs/ARCHITECTURE.md, "Object layout")."""
    db, schema = "rs_corrupt", "rs_corrupt_target"
    settings = two_items(mariadb, s3_server, emulator_port, tmp_path, db)
    store = open_store(settings)
    snapshot(settings, db, schema, load=False)  # the snapshot's page is written, not loaded
    [key] = [k for k in store.list(store.prefix) if parse_batch_key(k) is not None]
    whole = store.get(key)
    assert whole is not None
    store.put(key, whole[: len(whole) // 2])  # torn, or bytes lost at rest; its note as written
    result = run(settings, db, schema, until_caught_up=True)
    assert "items" in result.loaded.held_back
    reason = active_quarantines(store, db, schema)["items"].describe()
    assert f"batch object {key} is unreadable" in reason
    assert store.get(key) is None and store.get(key.split("/year=")[0] + "/_corrupt/" + key.rsplit("/", 1)[1])
    assert target_rows(emulator_port, schema, "_s3rb_batches", "object_key", "object_key") == []


def test_cleanup_removes_applied_batches_and_folds_the_ledger_on_redshift(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    from datetime import timedelta

    from s3rb_stream.pipeline.cleanup import Cleanup
    from s3rb_stream.targets import open_warehouse

    db, schema = "rs_cleanup", "rs_cleanup_target"
    settings = two_items(mariadb, s3_server, emulator_port, tmp_path, db)
    run(settings, db, schema, until_caught_up=True)
    mariadb.execute(f"UPDATE {db}.items SET name = 'uno' WHERE id = 1")
    run(settings, db, schema, until_caught_up=True)
    store = open_store(settings)
    batches = [k for k in store.list(store.prefix) if parse_batch_key(k) is not None]
    assert len(batches) == 2
    warehouse = open_warehouse(settings)
    try:
        stats = Cleanup(store, warehouse, db, schema, retention=timedelta(0)).run(["items"])
    finally:
        warehouse.close()
    assert (stats.batches_removed, stats.rows_folded) == (2, 2)
    assert [k for k in store.list(store.prefix) if parse_batch_key(k) is not None] == []
    ledger = target_rows(emulator_port, schema, "_s3rb_batches", "object_key, row_count", "object_key")
    assert ledger == [("_s3rb_folded", 3)]
    mariadb.execute(f"DELETE FROM {db}.items WHERE id = 2")
    run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == source_rows(mariadb, db, "items")


def test_cli_run_until_caught_up_mirrors_a_table_through_the_emulator(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """What a user types: ``s3rb-stream run --until-caught-up`` with S3RB_* and the standard AWS variables."""
    import os
    import subprocess
    import sys

    from s3rb_stream.testing.s3server import TEST_CREDENTIALS

    db, schema = "rs_cli", "rs_cli_target"
    redshift_source(  # the bucket and the source; the CLI reads its settings from the environment below
        mariadb,
        s3_server,
        emulator_port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20), doc JSON)",
        f"INSERT INTO {db}.items VALUES (1, 'one', '{{\"a\": 1}}'), (2, 'two', NULL), (3, 'three', '[]')",
        f"UPDATE {db}.items SET name = 'zwei', doc = '{{\"b\": [true]}}' WHERE id = 2",
        f"DELETE FROM {db}.items WHERE id = 3",
    )
    env = {
        **os.environ,
        **TEST_CREDENTIALS,
        "S3RB_MYSQL_URL": mariadb.url,
        "S3RB_STORE_URL": "s3://rs-cli/cdc",
        "S3RB_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3RB_WAREHOUSE_URL": f"redshift://postgres:not-checked@127.0.0.1:{emulator_port}/postgres?ssl=false",
        "S3RB_REDSHIFT_IAM_ROLE": ROLE,
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        "S3RB_HEARTBEAT_SECONDS": "0.5",
        "S3RB_LOG_FORMAT": "json",
    }
    result = subprocess.run(
        [sys.executable, "-m", "s3rb_stream", "run", "--source-db", db, "--target-schema", schema, "--until-caught-up"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert target_rows(emulator_port, schema, "items", "id, name, doc::text", "id") == [
        (1, "one", '{"a": 1}'),
        (2, "zwei", '{"b": [true]}'),
    ]
    assert [(r[0], r[1]) for r in source_rows(mariadb, db, "items")] == [(1, "one"), (2, "zwei")]


def test_snapshot_and_full_sync_reach_redshift_with_their_sweeps(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    from s3rb_stream.commands.snapshot import snapshot
    from s3rb_stream.commands.sync import sync

    db, schema = "rs_query", "rs_query_target"
    settings = redshift_source(
        mariadb,
        s3_server,
        emulator_port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.items"\n  - name: "{db}.products"\n    cdc_strategy: full_sync\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, doc JSON)",
        f"CREATE TABLE {db}.products (sku VARCHAR(10) PRIMARY KEY, price DECIMAL(8,2))",
        f"INSERT INTO {db}.items VALUES (1, '{{\"a\": 1}}'), (2, NULL)",
        f"INSERT INTO {db}.products VALUES ('a', 1.00), ('b', 2.00), ('c', 3.00)",
    )
    settings = settings.model_copy(update={"snapshot_chunk_rows": 2})
    snapshot(settings, db, schema)
    sync(settings, db, schema)
    mariadb.execute(f"DELETE FROM {db}.products WHERE sku = 'b'", f"UPDATE {db}.products SET price = 9 WHERE sku = 'c'")
    sync(settings, db, schema)
    assert target_rows(emulator_port, schema, "items", "id, doc::text", "id") == [(1, '{"a": 1}'), (2, None)]
    assert target_rows(emulator_port, schema, "products", "sku, price", "sku") == [
        ("a", Decimal("1.00")),
        ("c", Decimal("9.00")),
    ]


def test_an_added_column_is_followed_into_redshift(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    db, schema = "rs_alter", "rs_alter_target"
    settings = two_items(mariadb, s3_server, emulator_port, tmp_path, db)
    run(settings, db, schema, until_caught_up=True)
    mariadb.execute(
        f"ALTER TABLE {db}.items ADD COLUMN qty INT NOT NULL DEFAULT 7, ADD COLUMN note TEXT",
        f"INSERT INTO {db}.items VALUES (3, 'three', 3, 'new')",
        f"UPDATE {db}.items SET note = 'changed' WHERE id = 1",
    )
    run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "items", "id, name, qty, note", "id") == [
        (1, "one", 7, "changed"),
        (2, "two", 7, None),  # untouched since the ALTER: the default, as at the source
        (3, "three", 3, "new"),
    ]
    assert source_rows(mariadb, db, "items") == [(1, "one", 7, "changed"), (2, "two", 7, None), (3, "three", 3, "new")]


def test_a_widened_and_renamed_column_is_followed_into_redshift(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    db, schema = "rs_widen", "rs_widen_target"
    settings = redshift_source(
        mariadb,
        s3_server,
        emulator_port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(5))",
        f"INSERT INTO {db}.items VALUES (1, 'short')",
    )
    run(settings, db, schema, until_caught_up=True)
    long_name = "é" * 50  # 100 bytes: over the old VARCHAR(20), within the new VARCHAR(200)
    mariadb.execute(
        f"ALTER TABLE {db}.items MODIFY name VARCHAR(50)", f"INSERT INTO {db}.items VALUES (2, '{long_name}')"
    )
    run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == [(1, "short"), (2, long_name)]
    mariadb.execute(
        f"ALTER TABLE {db}.items RENAME COLUMN name TO title", f"INSERT INTO {db}.items VALUES (3, 'renamed')"
    )
    run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "items", "id, title", "id") == [
        (1, "short"),
        (2, long_name),
        (3, "renamed"),
    ]


def test_a_column_added_with_a_default_is_widened_later_on_redshift(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """Redshift cannot alter a column that has a default: added columns get none (their default is
    backfilled), and one that has a default from an older release is rebuilt wider."""
    db, schema = "rs_default", "rs_default_target"
    settings = redshift_source(
        mariadb,
        s3_server,
        emulator_port,
        tmp_path,
        db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(5))",
        f"INSERT INTO {db}.items VALUES (1, 'a')",
    )
    run(settings, db, schema, until_caught_up=True)
    mariadb.execute(
        f"ALTER TABLE {db}.items ADD COLUMN tier VARCHAR(5) DEFAULT 'brnz'",
        f"INSERT INTO {db}.items VALUES (2, 'b', 'gold')",
        f"INSERT INTO {db}.items VALUES (3, 'c', NULL)",
    )
    run(settings, db, schema, until_caught_up=True)
    conn = admin_connection(emulator_port)
    try:  # as an older release left it: a column added with a DEFAULT
        conn.cursor().execute(f"ALTER TABLE {schema}.items ADD COLUMN legacy VARCHAR(8) DEFAULT 'x'")
    finally:
        conn.close()
    mariadb.execute(
        f"ALTER TABLE {db}.items ADD COLUMN legacy VARCHAR(2) DEFAULT 'x'",
        f"ALTER TABLE {db}.items MODIFY tier VARCHAR(40), MODIFY legacy VARCHAR(10)",
        f"INSERT INTO {db}.items VALUES (4, 'd', '{'é' * 30}', '{'ü' * 10}')",  # 60 and 20 bytes
    )
    run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "items", "id, name, tier, legacy", "id") == [
        (1, "a", "brnz", "x"),  # rows before each ALTER hold its default, as at the source
        (2, "b", "gold", "x"),
        (3, "c", None, "x"),
        (4, "d", "é" * 30, "ü" * 10),
    ]
    assert source_rows(mariadb, db, "items") == target_rows(
        emulator_port, schema, "items", "id, name, tier, legacy", "id"
    )


def test_a_load_slower_than_its_timeouts_is_transient_and_applies_nothing(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """A COPY that outlasts the socket timeout, or Redshift's statement_timeout, is a named, retryable
    error that applies nothing; once the warehouse is quick again the same batches load."""
    from s3rb_stream.errors import WarehouseUnavailable

    db, schema = "rs_slow", "rs_slow_target"
    settings = two_items(mariadb, s3_server, emulator_port, tmp_path, db)
    admin = admin_connection(emulator_port)
    try:
        admin.cursor().execute("SET s3rb_emulator.statement_delay TO '3 ^COPY'")
        socket_timeout = settings.model_copy(
            update={"warehouse_url": SecretStr(settings.warehouse_url.get_secret_value() + "&timeout=1")}
        )
        with pytest.raises(WarehouseUnavailable, match="ran out of time at COPY: no answer within") as raised:
            run(socket_timeout, db, schema, until_caught_up=True)
        assert raised.value.retryable and "S3RB_REDSHIFT_STATEMENT_TIMEOUT_SECONDS" in str(raised.value)
        statement_timeout = settings.model_copy(update={"redshift_statement_timeout_seconds": 1})
        with pytest.raises(WarehouseUnavailable, match="ran out of time at COPY: cancelled by Redshift's"):
            run(statement_timeout, db, schema, until_caught_up=True)
        assert target_rows(emulator_port, schema, "_s3rb_batches", "object_key", "object_key") == []
    finally:
        admin.cursor().execute("SET s3rb_emulator.statement_delay TO '0'")
        admin.close()
    assert run(settings, db, schema, until_caught_up=True).loaded.batches == 1
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == source_rows(mariadb, db, "items")


def test_a_commit_whose_answer_was_lost_is_retried_without_counting_twice(
    isolation: str, mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """The load commits, the connection drops before the client hears it, the load is retried: the
    primary key of the batch ledger is not enforced on Redshift, so the record itself must not repeat.
    Under either isolation level: the retry's WHERE NOT EXISTS reads the committed ledger."""
    from s3rb_stream.testing.tcp_proxy import CuttingProxy

    db, schema = f"rs_ledger_{isolation}", f"rs_ledger_{isolation}_target"
    with CuttingProxy(emulator_port) as proxy:
        settings = two_items(mariadb, s3_server, proxy.port, tmp_path, db)
        proxy.cut_after_commit_of = b'"_s3rb_batches" (table_name, object_key'
        result = run(settings, db, schema, until_caught_up=True)
        assert proxy.cuts == 1 and result.loaded.batches == 1
    ledger = target_rows(emulator_port, schema, "_s3rb_batches", "table_name, row_count", "object_key")
    assert ledger == [("items", 2)]
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == source_rows(mariadb, db, "items")
