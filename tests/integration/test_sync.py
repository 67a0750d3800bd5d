"""``sync``: hybrid (timestamp + id keyset with a look-back) and full_sync (whole table, deletes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import ConfigError, SchemaError
from s3rb_stream.pipeline.pages import TableStore
from s3rb_stream.settings import load_tables_file
from s3rb_stream.sources.mysql_meta import connect, resolve_tables
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore
from tests.integration.conftest import Pipeline

LEADS = "CREATE TABLE leads (lead_id INT PRIMARY KEY, name VARCHAR(40), modified_time DATETIME(6) NOT NULL)"
HYBRID = (
    'tables:\n  - name: "{db}.leads"\n    cdc_strategy: hybrid\n'
    "    cdc_timestamp_column: modified_time\n    cdc_id_column: lead_id\n    cdc_lookback: 300\n"
)
PRODUCTS = "CREATE TABLE products (sku VARCHAR(20) PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2))"
FULL = 'tables:\n  - name: "{db}.products"\n    cdc_strategy: full_sync\n'


def insert_leads(pipeline: Pipeline, ids: range, ts: str) -> None:
    values = ",".join(f"({i}, 'lead {i}', '{ts}')" for i in ids)
    pipeline.sql(f"INSERT INTO leads VALUES {values}")


def test_hybrid_misses_none_of_many_rows_sharing_one_timestamp(pipeline: Pipeline) -> None:
    pipeline.tables(HYBRID)
    pipeline.sql(LEADS)
    pipeline.configure(snapshot_chunk_rows=64)
    insert_leads(pipeline, range(1, 501), "2026-01-01 10:00:00")  # 500 rows, one timestamp, 8 pages

    first = pipeline.sync()
    assert first.rows == {"leads": 500}
    assert pipeline.target_rows("leads") == pipeline.source_rows("leads")

    # More rows at the same timestamp as the watermark, and changed rows with a newer one.
    insert_leads(pipeline, range(501, 601), "2026-01-01 10:00:00")
    pipeline.sql("UPDATE leads SET name = 'changed', modified_time = '2026-01-01 11:00:00' WHERE lead_id <= 10")
    second = pipeline.sync()
    assert pipeline.target_rows("leads") == pipeline.source_rows("leads")
    assert second.rows["leads"] == 600  # the whole table lies within the 300 s look-back: re-read, harmlessly
    # ... but only what changed is written and loaded: 100 new rows and 10 changed, not the 600 read.
    assert second.written == {"leads": 110} and second.loaded.rows == 110
    third = pipeline.sync()  # nothing changed: the window is read, nothing written
    assert third.rows["leads"] == 10 and third.written == {"leads": 0} and third.loaded.rows == 0
    pipeline.sql("UPDATE leads SET name = 'again' WHERE lead_id = 3")  # a change that keeps its timestamp
    fourth = pipeline.sync()
    assert fourth.written == {"leads": 1} and pipeline.target_rows("leads") == pipeline.source_rows("leads")
    watermark = TableStore(_store(pipeline), pipeline.source_db, "analytics", _table(pipeline, "leads")).hybrid_state()
    assert watermark is not None and watermark.last_ts == "2026-01-01 11:00:00.000000" and watermark.last_id == b"10"


def test_hybrid_catches_a_late_row_inside_the_look_back_and_says_what_it_cannot_see(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables(HYBRID)
    pipeline.sql(LEADS)
    insert_leads(pipeline, range(1, 4), "2026-01-01 10:00:00")
    pipeline.sync()
    # Committed late with an older timestamp: 60 s behind the watermark (caught), 1 h behind (not).
    pipeline.sql(
        "INSERT INTO leads VALUES (100, 'late', '2026-01-01 09:59:00')",
        "INSERT INTO leads VALUES (101, 'too late', '2026-01-01 09:00:00')",
        "DELETE FROM leads WHERE lead_id = 1",  # hard deletes are invisible to hybrid
    )
    pipeline.sync()
    target_ids = [r[0] for r in pipeline.target_rows("leads")]
    assert 100 in target_ids
    assert 101 not in target_ids
    assert 1 in target_ids


def test_full_sync_propagates_deletes_updates_and_inserts(pipeline: Pipeline) -> None:
    pipeline.tables(FULL)
    pipeline.sql(PRODUCTS)
    pipeline.configure(snapshot_chunk_rows=7)
    pipeline.sql("INSERT INTO products VALUES " + ",".join(f"('sku-{i:03d}', 'p{i}', {i}.50)" for i in range(40)))
    pipeline.sync()
    assert pipeline.target_rows("products") == pipeline.source_rows("products")

    pipeline.sql(
        "DELETE FROM products WHERE sku IN ('sku-000', 'sku-013', 'sku-039')",
        "UPDATE products SET price = NULL WHERE sku = 'sku-020'",
        "INSERT INTO products VALUES ('SKU-new', 'upper case sorts with the collation', 1)",
    )
    pipeline.sync()
    # MariaDB orders the keys by collation, DuckDB by bytes: compare as sets of rows.
    assert sorted(pipeline.target_rows("products")) == sorted(pipeline.source_rows("products"))
    assert len(pipeline.target_rows("products")) == 38

    pipeline.sql("DELETE FROM products")
    pipeline.sync()
    assert pipeline.target_rows("products") == []


def test_run_drives_query_tables_next_to_binlog_tables(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables(HYBRID + FULL.removeprefix("tables:\n") + '  - name: "{db}.orders"\n')
    pipeline.sql(LEADS, PRODUCTS, "CREATE TABLE orders (id INT PRIMARY KEY, total INT)")
    insert_leads(pipeline, range(1, 6), "2026-01-01 10:00:00")
    pipeline.sql("INSERT INTO products VALUES ('a', 'A', 1)", "INSERT INTO orders VALUES (1, 10), (2, 20)")
    pipeline.run()
    for table in ("leads", "products", "orders"):
        assert pipeline.target_rows(table) == pipeline.source_rows(table), table


def test_bad_query_configs_get_clear_errors(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.sql(LEADS, "CREATE TABLE n (id INT NULL, ts DATETIME, UNIQUE KEY (id))")
    cases = [
        (
            HYBRID.replace("cdc_timestamp_column: modified_time", "cdc_timestamp_column: updated"),
            SchemaError,
            r"cdc_timestamp_column updated of src\d+\.leads .* are not columns.*lead_id, name, modified_time",
        ),
        (
            HYBRID.replace("cdc_timestamp_column: modified_time", "cdc_timestamp_column: name"),
            SchemaError,
            r"cdc_timestamp_column name of src\d+\.leads is varchar\(40\), not a DATETIME or TIMESTAMP",
        ),
        (
            'tables:\n  - name: "{db}.n"\n    cdc_strategy: hybrid\n    key_columns: [id]\n'
            "    cdc_timestamp_column: ts\n    cdc_id_column: id\n",
            SchemaError,
            "cdc_id_column id of src\\d+\\.n is nullable",
        ),
        ('tables:\n  - name: "{db}.leads"\n', ConfigError, r"sync applies to cdc_strategy .*not to leads \(binlog\)"),
        ('tables:\n  - name: "{db}.leads"\n', ConfigError, "no table of this source database has cdc_strategy"),
    ]
    for text, error, message in cases:
        pipeline.tables(text)
        with pytest.raises(error, match=message):
            pipeline.sync("leads") if "binlog" in message else pipeline.sync()
    pipeline.tables('tables:\n  - name: "{db}.leads"\n    cdc_strategy: full_sync\n    mode: append\n')
    with pytest.raises(ConfigError, match="full_sync needs mode merge or scd2"):
        pipeline.sync()


def _store(pipeline: Pipeline) -> ObjectStore:
    return open_store(pipeline.settings)


def _table(pipeline: Pipeline, name: str) -> SourceTable:
    conn = connect(pipeline.settings.mysql())
    try:
        tables = resolve_tables(conn, pipeline.source_db, load_tables_file(Path(pipeline.settings.tables_file)))
    finally:
        conn.close()
    return next(t for _, t in tables if t.name == name)


def test_a_table_switched_from_hybrid_to_binlog_is_refused(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables(HYBRID)
    pipeline.sql(LEADS)
    insert_leads(pipeline, range(1, 3), "2026-01-01 10:00:00")
    pipeline.sync()
    pipeline.tables('tables:\n  - name: "{db}.leads"\n')
    with pytest.raises(ConfigError, match=r"table\(s\) leads in analytics were loaded by hybrid or full_sync"):
        pipeline.run()


@pytest.mark.parametrize("command", ["snapshot", "sync"])
def test_snapshot_and_sync_run_the_references_when_the_speed_ups_are_turned_off(
    file_pipeline: Pipeline, command: str
) -> None:
    """S3RB_SPEEDUPS and Arrow's allocator are set by every command, not only by ``run``."""
    import pyarrow as pa

    from s3rb_stream import speedups

    pipeline = file_pipeline
    pipeline.tables(FULL + '  - name: "{db}.leads"\n')
    pipeline.sql(PRODUCTS, LEADS, "INSERT INTO products VALUES ('a', 'first', 1.5)")
    pipeline.sql("INSERT INTO leads VALUES (1, 'lead', '2026-01-01 10:00:00')")
    pipeline.configure(speedups=False)
    speedups.use(True)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    try:
        getattr(pipeline, command)()
        assert speedups.compiled is None and speedups.missing == "turned off by S3RB_SPEEDUPS=false"
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        speedups.use(True)
    table = "products" if command == "sync" else "leads"
    assert pipeline.target_rows(table) == pipeline.source_rows(table)  # and the references did the work
