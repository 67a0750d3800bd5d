"""Binlog → Parquet → store → DuckDB, row for row, on the file store and on moto's S3."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.integration.conftest import Pipeline

EVERYTHING = """CREATE TABLE everything (
  id INT PRIMARY KEY,
  ti TINYINT, uti TINYINT UNSIGNED, si SMALLINT, umi MEDIUMINT UNSIGNED, bi BIGINT, ubi BIGINT UNSIGNED,
  dec_small DECIMAL(20,6), dec_wide DECIMAL(50,10), f FLOAT, d DOUBLE, b BIT(10),
  c CHAR(5), vc VARCHAR(100), tx TEXT, e ENUM('x','y'), st SET('a','b','c'), j JSON,
  bn BINARY(4), vb VARBINARY(10), bl BLOB,
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2), yr YEAR
)"""

ROW_1 = (
    "(1, -128, 255, -32768, 16777215, -9223372036854775808, 18446744073709551615,"
    " 12345678901234.123456, 1234567890123456789012345678901234567890.0123456789, 1.5, -2.25, b'1000000001',"
    " 'ab', 'héllo 😀', 'long 𝄞 text', 'y', 'a,c', '{\"k\": [1, 2.5, null, true]}',"
    " x'0102', x'00ff', x'00ff10',"
    " '2024-02-29', '2024-01-02 03:04:05.000001', '2024-01-02 03:04:05.123', '-838:59:59.00', 2024)"
)
ROW_2 = "(2" + ", NULL" * 25 + ")"

TABLES_YML = """tables:
  - name: "{db}.everything"
  - name: "{db}.order_items"
  - name: "{db}.events"
    mode: append
"""


def write_tables(pipeline: Pipeline, text: str = TABLES_YML) -> None:
    Path(pipeline.settings.tables_file).write_text(text.format(db=pipeline.source_db))


def create_schema(pipeline: Pipeline) -> None:
    pipeline.sql(
        EVERYTHING,
        "CREATE TABLE order_items (order_id INT, line INT, sku VARCHAR(20), qty INT, PRIMARY KEY (order_id, line))",
        "CREATE TABLE events (msg TEXT)",
        "CREATE TABLE not_configured (id INT PRIMARY KEY, secret TEXT)",
    )


def assert_mirrored(pipeline: Pipeline, *tables: str) -> None:
    for table in tables:
        assert pipeline.target_rows(table) == pipeline.source_rows(table), table


def test_every_kind_of_change_lands_row_for_row(pipeline: Pipeline) -> None:
    write_tables(pipeline)
    create_schema(pipeline)
    pipeline.sql(
        f"INSERT INTO everything VALUES {ROW_1}, {ROW_2}",
        "INSERT INTO everything (id, vc) VALUES (3, 'to be deleted'), (4, 'key will change')",
        "INSERT INTO order_items VALUES (1, 1, 'A', 1), (1, 2, 'B', 2), (2, 1, 'C', 3)",
        "INSERT INTO not_configured VALUES (1, 'never leaves the source')",
        "INSERT INTO events VALUES ('one'), ('two')",
    )
    # NULL ↔ value in both directions, a deleted row, a changed primary key.
    pipeline.sql(
        "UPDATE everything SET vc = NULL, j = NULL, ts = NULL WHERE id = 1",
        "UPDATE everything SET vc = 'now set', ts = '2030-06-01 12:00:00.5', tm = '25:00:00.12' WHERE id = 2",
        "DELETE FROM everything WHERE id = 3",
        "UPDATE everything SET id = 40 WHERE id = 4",
        "UPDATE order_items SET line = 3, qty = 9 WHERE order_id = 1 AND line = 1",
        "DELETE FROM order_items WHERE order_id = 2",
        "DELETE FROM events WHERE msg = 'one'",
    )
    # One multi-statement transaction.
    conn = pipeline.server.connect(pipeline.source_db)
    conn.autocommit(False)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO order_items VALUES (5, 1, 'T', 1)")
        cur.execute("UPDATE order_items SET qty = qty + 1 WHERE order_id = 5")
        cur.execute("UPDATE everything SET vc = 'in a transaction' WHERE id = 1")
        cur.execute("INSERT INTO everything (id, vc) VALUES (6, 'inserted then deleted')")
        cur.execute("DELETE FROM everything WHERE id = 6")
    conn.commit()
    conn.close()

    result = pipeline.run()

    assert result.changes > 0
    assert_mirrored(pipeline, "everything", "order_items")
    assert [r[0] for r in pipeline.target_rows("everything")] == [1, 2, 40]
    # append mode keeps the history: two inserts and one delete.
    ops = pipeline.target_query(f'SELECT msg, _s3rb_op FROM "{pipeline.target_schema}".events ORDER BY _s3rb_seq')
    assert ops == [("one", "c"), ("two", "c"), ("one", "d")]
    tables = {r[0] for r in pipeline.target_query("SELECT table_name FROM information_schema.tables")}
    assert "not_configured" not in tables


def test_timestamp_lands_as_the_same_instant(pipeline: Pipeline) -> None:
    write_tables(pipeline, 'tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, dt DATETIME)")
    # Written in a session at +05:30; the server default is -07:00 and the process runs in Asia/Tokyo.
    conn = pipeline.server.connect(pipeline.source_db)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+05:30'")
        cur.execute("INSERT INTO t VALUES (1, '2024-01-02 03:04:05.000007', '2024-01-02 03:04:05')")
    conn.close()
    pipeline.run()
    ts, dt, source_ts = pipeline.target_query(f'SELECT ts, dt, _s3rb_source_ts FROM "{pipeline.target_schema}".t')[0]
    assert ts == datetime(2024, 1, 1, 21, 34, 5, 7, tzinfo=UTC)
    assert dt == datetime(2024, 1, 2, 3, 4, 5)  # DATETIME has no zone: kept as written
    assert abs((datetime.now(UTC) - source_ts).total_seconds()) < 600


def test_run_again_loses_and_duplicates_nothing_and_idle_run_changes_nothing(pipeline: Pipeline) -> None:
    write_tables(pipeline)
    create_schema(pipeline)
    pipeline.sql("INSERT INTO order_items VALUES (1, 1, 'A', 1), (1, 2, 'B', 2)")
    pipeline.run()
    assert_mirrored(pipeline, "order_items")

    pipeline.sql(
        "INSERT INTO order_items VALUES (2, 1, 'C', 3)",
        "UPDATE order_items SET qty = 7 WHERE order_id = 1 AND line = 1",
        "DELETE FROM order_items WHERE order_id = 1 AND line = 2",
    )
    second = pipeline.run()
    assert second.changes == 3
    assert_mirrored(pipeline, "order_items")

    batches = pipeline.target_query(f'SELECT count(*) FROM "{pipeline.target_schema}"._s3rb_batches')
    before = pipeline.target_query(f'SELECT * FROM "{pipeline.target_schema}".order_items ORDER BY order_id, line')
    idle = pipeline.run()
    assert (idle.changes, idle.batches_written, idle.loaded.rows) == (0, 0, 0)
    after = pipeline.target_query(f'SELECT * FROM "{pipeline.target_schema}".order_items ORDER BY order_id, line')
    assert after == before
    assert pipeline.target_query(f'SELECT count(*) FROM "{pipeline.target_schema}"._s3rb_batches') == batches


def test_replaying_from_an_old_checkpoint_duplicates_nothing(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    write_tables(pipeline)
    create_schema(pipeline)
    pipeline.sql("INSERT INTO order_items VALUES (1, 1, 'A', 1)")
    pipeline.run()
    store_root = Path(pipeline.settings.store().root)
    checkpoint = next(store_root.rglob("checkpoint.json"))
    old = checkpoint.read_bytes()
    pipeline.sql("INSERT INTO order_items VALUES (1, 2, 'B', 2)", "DELETE FROM order_items WHERE line = 1")
    pipeline.run()
    # A crash after the objects were written but before the checkpoint: the range replays.
    checkpoint.write_bytes(old)
    pipeline.sql("INSERT INTO order_items VALUES (3, 1, 'C', 3)")
    pipeline.run()
    assert_mirrored(pipeline, "order_items")
    assert [r[:2] for r in pipeline.target_rows("order_items")] == [(1, 2), (3, 1)]


def test_an_idle_first_run_saves_its_start_position(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    write_tables(pipeline, 'tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    first = pipeline.run(start_position="current")
    assert first.changes == 0
    pipeline.sql("INSERT INTO t VALUES (2)")
    second = pipeline.run()
    # Resumed from the saved start: only the row written after it, not the oldest binlog again.
    assert second.changes == 1
    assert pipeline.target_rows("t") == [(2,)]


def test_status_shows_checkpoint_and_pending_batches(pipeline: Pipeline) -> None:
    from s3rb_stream.commands.status import collect, render

    write_tables(pipeline, 'tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    result = pipeline.run()
    status = collect(pipeline.settings, pipeline.source_db)
    assert [p.source_db for p in status.pipelines] == [pipeline.source_db]
    mine = status.pipelines[0]
    assert mine.checkpoint is not None and mine.checkpoint.position == result.position
    assert [(t.table, t.batches_written, t.batches_pending) for t in mine.tables] == [("t", 1, 0)]
    assert mine.tables[0].last_load is not None and mine.lag_seconds is not None
    assert status.problems == []
    text = "\n".join(render(status))
    assert f"{pipeline.source_db} → analytics: checkpoint {result.position}" in text


def test_metrics_move_during_a_run(file_pipeline: Pipeline) -> None:
    from s3rb_stream import metrics

    pipeline = file_pipeline
    write_tables(pipeline, 'tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
    source = {"source_db": pipeline.source_db, "target_schema": "analytics"}
    table = {**source, "table": "t"}

    def value(name: str, labels: dict[str, str]) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    pipeline.sql(
        "INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)", "UPDATE t SET v = 9 WHERE id = 1", "DELETE FROM t WHERE id = 2"
    )
    pipeline.run()
    assert value("s3rb_changes_total", {**source, "op": "insert"}) == 3
    assert value("s3rb_changes_total", {**source, "op": "update"}) == 1
    assert value("s3rb_changes_total", {**source, "op": "delete"}) == 1
    assert value("s3rb_batches_written_total", table) == 1
    assert value("s3rb_loaded_rows_total", table) == 5
    assert value("s3rb_load_duration_seconds_count", table) == 1
    assert value("s3rb_batches_pending", table) == 0
    freshness = metrics.REGISTRY.get_sample_value("s3rb_freshness_seconds", table)
    assert freshness is not None and freshness < 120

    pipeline.sql("INSERT INTO t VALUES (4, 4)")
    pipeline.run()
    assert value("s3rb_changes_total", {**source, "op": "insert"}) == 4
    assert value("s3rb_load_duration_seconds_count", table) == 2
