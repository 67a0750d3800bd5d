"""The apply step on a real (embedded) DuckDB: invariants 2 and 4 without a source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import BatchRef
from s3rb_stream.core.scd2 import make_spec
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import ConfigError, WarehouseError
from s3rb_stream.sql import duckdb as duckdb_sql
from s3rb_stream.store.parquet import changes_to_table, decode, encode
from s3rb_stream.targets import Fence
from s3rb_stream.targets.duckdb import DuckDBWarehouse

TS = datetime(2026, 1, 1, tzinfo=UTC)
TABLE = SourceTable(
    "src",
    "items",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("name", "varchar", "varchar(20)"),
    ),
    ("id",),
)


def batch(*changes: tuple[str, int, int, str | None]) -> tuple[BatchRef, pa.Table]:
    """(op, seq, id, name) tuples → a batch ref and its Arrow table, round-tripped through Parquet."""
    built = [Change(Op(op), seq, TS, (key, name)) for op, seq, key, name in changes]
    seqs = [c.seq for c in built]
    ref = BatchRef(min(seqs), max(seqs), f"items_{min(seqs)}_{max(seqs)}_{len(seqs)}.parquet", "items")
    return ref, decode(encode(changes_to_table(TABLE, built), "zstd"), ref.key)


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    wh.prepare("t", TABLE)
    return wh


def rows(wh: DuckDBWarehouse) -> list[tuple[object, ...]]:
    return wh.query("SELECT id, name, _s3rb_seq, _s3rb_op FROM t.items ORDER BY id")


def test_newest_change_per_key_wins_within_a_load(warehouse: DuckDBWarehouse) -> None:
    warehouse.apply("t", TABLE, "merge", [batch(("c", 10, 1, "a"), ("u", 11, 1, "b"), ("c", 12, 2, "x"))])
    assert rows(warehouse) == [(1, "b", 11, "u"), (2, "x", 12, "c")]


def test_reapplying_the_same_changes_under_another_name_changes_nothing(warehouse: DuckDBWarehouse) -> None:
    first = batch(("c", 10, 1, "a"), ("c", 11, 2, "b"))
    warehouse.apply("t", TABLE, "merge", [first])
    before = rows(warehouse)
    replay = batch(("c", 10, 1, "a"), ("c", 11, 2, "b"), ("u", 11, 2, "b"))
    warehouse.apply("t", TABLE, "merge", [replay])
    assert rows(warehouse) == before


def test_an_older_batch_after_a_newer_one_changes_nothing(warehouse: DuckDBWarehouse) -> None:
    warehouse.apply("t", TABLE, "merge", [batch(("u", 20, 1, "new"))])
    warehouse.apply("t", TABLE, "merge", [batch(("c", 5, 1, "old"), ("c", 6, 3, "late"))])
    assert rows(warehouse) == [(1, "new", 20, "u")]


def test_a_hard_delete_is_not_undone_by_an_older_change(warehouse: DuckDBWarehouse) -> None:
    warehouse.apply("t", TABLE, "merge", [batch(("c", 10, 1, "a"))])
    warehouse.apply("t", TABLE, "merge", [batch(("d", 30, 1, "a"))])
    assert rows(warehouse) == []
    warehouse.apply("t", TABLE, "merge", [batch(("u", 15, 1, "zombie"))])
    assert rows(warehouse) == []


def test_insert_then_delete_in_one_load_leaves_nothing(warehouse: DuckDBWarehouse) -> None:
    warehouse.apply("t", TABLE, "merge", [batch(("c", 10, 7, "a"), ("d", 11, 7, "a"))])
    assert rows(warehouse) == []


def test_batches_are_recorded_in_the_same_transaction(warehouse: DuckDBWarehouse) -> None:
    ref, data = batch(("c", 10, 1, "a"))
    warehouse.apply("t", TABLE, "merge", [(ref, data)])
    assert warehouse.applied("t", "items") == {ref.key}


def test_a_failing_load_applies_nothing_and_records_nothing(
    warehouse: DuckDBWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = batch(("c", 10, 1, "a"))
    warehouse.apply("t", TABLE, "merge", [good])
    ref, data = batch(("c", 20, 2, "b"), ("u", 21, 1, "changed"))
    # The last step, the record of the batches, fails after the merge ran in the same transaction.
    monkeypatch.setattr(duckdb_sql, "record_batch", lambda schema: "INSERT INTO t.nowhere VALUES (?, ?, ?, ?, ?)")
    with pytest.raises(WarehouseError, match="nothing was applied"):
        warehouse.apply("t", TABLE, "merge", [(ref, data)])
    assert rows(warehouse) == [(1, "a", 10, "c")]
    assert warehouse.applied("t", "items") == {good[0].key}


def test_a_batch_applied_again_is_recorded_once(warehouse: DuckDBWarehouse) -> None:
    good = batch(("c", 10, 1, "a"))
    warehouse.apply("t", TABLE, "merge", [good])
    warehouse.apply("t", TABLE, "merge", [good])
    assert warehouse.query("SELECT object_key, row_count FROM t._s3rb_batches") == [(good[0].key, 1)]


def test_append_mode_keeps_every_change(warehouse: DuckDBWarehouse) -> None:
    warehouse.apply("t", TABLE, "append", [batch(("c", 10, 1, "a"), ("u", 11, 1, "b"), ("d", 12, 1, "b"))])
    assert [r[3] for r in warehouse.query("SELECT * FROM t.items ORDER BY _s3rb_seq")] == ["c", "u", "d"]


def _named(name: str) -> SourceTable:
    return SourceTable(TABLE.database, name, TABLE.columns, TABLE.key_columns)


@pytest.mark.parametrize(
    ("file", "schema"),
    [
        ("analytics.duckdb", "analytics"),  # the file's catalog is analytics
        ("analytics.duckdb", "Analytics"),
        ("a.b.duckdb", "a"),  # DuckDB names the catalog of a.b.duckdb "a"
        ("main.duckdb", "main_db"),  # and that of main.duckdb "main_db"
        ("w.duckdb", "temp"),
        ("w.duckdb", "system"),
        ("w.duckdb", "main"),
    ],
)
def test_a_schema_named_like_a_catalog_loads_every_mode(tmp_path: Path, file: str, schema: str) -> None:
    """Every statement names the file's catalog: a bare ``analytics.items`` would be ambiguous in
    analytics.duckdb (catalog analytics, schema main; or schema analytics) and DuckDB refuses it."""
    wh = DuckDBWarehouse(str(tmp_path / file))
    fence = Fence("src", 1)
    wh.claim(schema, fence, ["items", "log", "hist"])
    log, hist = _named("log"), _named("hist")
    spec = make_spec(hist, None, "valid_from", "valid_to", "is_current", "update")
    for table, mode, scd2 in [(TABLE, "merge", None), (log, "append", None), (hist, "scd2", spec)]:
        wh.prepare(schema, table, scd2)
        ref, data = batch(("c", 10, 1, "a"), ("c", 11, 2, "b"))
        wh.apply(schema, table, mode, [(ref, data)], scd2=scd2, fence=fence)  # type: ignore[arg-type]
        ref, data = batch(("u", 20, 1, "new"), ("d", 21, 2, "b"))
        wh.apply(schema, table, mode, [(ref, data)], scd2=scd2, fence=fence)  # type: ignore[arg-type]
    select = "SELECT id, name, _s3rb_op FROM {} ORDER BY _s3rb_seq"
    assert wh.query(select.format(wh.table_sql(schema, "items"))) == [(1, "new", "u")]
    assert [r[2] for r in wh.query(select.format(wh.table_sql(schema, "log")))] == ["c", "c", "u", "d"]
    current = f"SELECT id, name FROM {wh.table_sql(schema, 'hist')} WHERE is_current ORDER BY id"
    assert wh.query(current) == [(1, "new")]
    assert {t: s.batches for t, s in wh.load_summary(schema).items()} == {"items": 2, "log": 2, "hist": 2}
    added = SourceTable(TABLE.database, "items", (*TABLE.columns, SourceColumn("extra", "int", "int")), ("id",))
    wh.prepare(schema, added)  # evolution reads the table's columns from information_schema, in its catalog
    assert wh.query(f"SELECT extra FROM {wh.table_sql(schema, 'items')}") == [(None,)]
    wh.close()
    # A second process (status, a restart) finds everything again, in a file it opens read-only.
    again = DuckDBWarehouse(str(tmp_path / file), read_only=True)
    assert set(again.load_summary(schema)) == {"items", "log", "hist"}
    again.close()
    if schema != "main":  # DuckDB's main schema cannot be dropped; the roundtrip check drops its scratch schema
        wh = DuckDBWarehouse(str(tmp_path / file))
        wh.drop_schema(schema)
        assert wh.load_summary(schema) == {}
        wh.close()


@pytest.mark.parametrize("schema", ["information_schema", "pg_catalog"])
def test_what_duckdb_cannot_hold_is_refused_with_its_reason(tmp_path: Path, schema: str) -> None:
    """DuckDB's own schemas: it takes CREATE SCHEMA and then no table, so the name is refused first."""
    raw = duckdb.connect(str(tmp_path / "raw.duckdb"))
    raw.execute(f'CREATE SCHEMA IF NOT EXISTS "raw"."{schema}"')
    with pytest.raises(duckdb.CatalogException, match=f"Schema with name {schema} does not exist"):
        raw.execute(f'CREATE TABLE "raw"."{schema}".t (a INT)')
    raw.close()
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    with pytest.raises(ConfigError, match=f"target schema '{schema}' cannot be used with DuckDB: DuckDB keeps its own"):
        wh.prepare(schema, TABLE)
    wh.close()
