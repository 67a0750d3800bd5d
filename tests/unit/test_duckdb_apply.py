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
from s3rb_stream.targets import Fence, Sweep
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


# --------------------------------------------------------------------------- soft deletes


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(TS.timestamp() + seconds, UTC)


def timed(*changes: tuple[str, int, int, str | None]) -> tuple[BatchRef, pa.Table]:
    """Like :func:`batch`, each change committed ``seq`` seconds after TS."""
    built = [Change(Op(op), seq, at(seq), (key, name)) for op, seq, key, name in changes]
    ref = BatchRef(built[0].seq, built[-1].seq, f"items_{built[0].seq}_{built[-1].seq}_{len(built)}.parquet", "items")
    return ref, decode(encode(changes_to_table(TABLE, built), "zstd"), ref.key)


@pytest.fixture
def soft(tmp_path: Path) -> DuckDBWarehouse:
    wh = DuckDBWarehouse(str(tmp_path / "soft.duckdb"))
    wh.prepare("t", TABLE, soft_delete=True)
    return wh


def soft_rows(wh: DuckDBWarehouse) -> list[tuple[object, ...]]:
    return wh.query("SELECT id, name, _s3rb_seq, _s3rb_op, _s3rb_deleted_at FROM t.items ORDER BY id")


def test_a_soft_delete_keeps_the_row_marked_with_the_delete_time(soft: DuckDBWarehouse) -> None:
    soft.apply("t", TABLE, "merge", [timed(("c", 10, 1, "a"), ("c", 11, 2, "b"))], soft_delete=True)
    soft.apply("t", TABLE, "merge", [timed(("d", 20, 1, "a"))], soft_delete=True)
    assert soft_rows(soft) == [(1, "a", 20, "d", at(20)), (2, "b", 11, "c", None)]


def test_a_soft_deleted_key_inserted_again_lives_and_an_older_change_never_revives_it(soft: DuckDBWarehouse) -> None:
    soft.apply("t", TABLE, "merge", [timed(("c", 10, 1, "a"))], soft_delete=True)
    soft.apply("t", TABLE, "merge", [timed(("d", 30, 1, "a"))], soft_delete=True)
    soft.apply("t", TABLE, "merge", [timed(("u", 15, 1, "zombie"))], soft_delete=True)
    assert soft_rows(soft) == [(1, "a", 30, "d", at(30))]
    soft.apply("t", TABLE, "merge", [timed(("c", 40, 1, "again"))], soft_delete=True)
    assert soft_rows(soft) == [(1, "again", 40, "c", None)]


def test_insert_then_delete_in_one_soft_load_leaves_the_marked_row(soft: DuckDBWarehouse) -> None:
    soft.apply("t", TABLE, "merge", [timed(("c", 10, 7, "a"), ("d", 11, 7, "a"))], soft_delete=True)
    assert soft_rows(soft) == [(7, "a", 11, "d", at(11))]


def test_a_sweep_marks_the_live_rows_the_extract_did_not_see_at_its_read_time(soft: DuckDBWarehouse) -> None:
    soft.apply("t", TABLE, "merge", [timed(("c", 10, 1, "a"), ("c", 11, 2, "b"), ("c", 12, 3, "c"))], soft_delete=True)
    soft.apply("t", TABLE, "merge", [timed(("d", 13, 3, "c"))], soft_delete=True)
    extract = timed(("r", 100, 2, "b"))  # a snapshot at sequence 100 that saw key 2 only
    soft.apply("t", TABLE, "merge", [extract], Sweep(100, at(90)), soft_delete=True)
    expected = [(1, "a", 100, "d", at(90)), (2, "b", 100, "r", None), (3, "c", 13, "d", at(13))]
    assert soft_rows(soft) == expected
    assert soft.query("SELECT _s3rb_source_ts FROM t.items WHERE id = 1") == [(at(90),)]
    soft.apply("t", TABLE, "merge", [extract], Sweep(100, at(95)), soft_delete=True)  # loaded again
    assert soft_rows(soft) == expected
    soft.apply("t", TABLE, "merge", [timed(("c", 101, 1, "back"))], soft_delete=True)
    assert soft_rows(soft)[0] == (1, "back", 101, "c", None)


def test_soft_deletes_turned_off_keep_the_marks_and_a_revived_row_loses_its_mark(tmp_path: Path) -> None:
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    wh.prepare("t", TABLE, soft_delete=True)
    wh.apply("t", TABLE, "merge", [timed(("c", 10, 1, "a"), ("c", 11, 2, "b"), ("d", 12, 1, "a"))], soft_delete=True)
    wh.close()
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))  # a restart with soft_delete off
    wh.prepare("t", TABLE)
    wh.apply("t", TABLE, "merge", [timed(("d", 20, 2, "b"))])
    assert soft_rows(wh) == [(1, "a", 12, "d", at(12))]  # deletes are hard again; the old mark stays
    wh.apply("t", TABLE, "merge", [timed(("c", 30, 1, "again"))])
    assert soft_rows(wh) == [(1, "again", 30, "c", None)]


def test_soft_deletes_turned_on_add_the_column_to_a_table_that_has_rows(tmp_path: Path) -> None:
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    wh.prepare("t", TABLE)
    wh.apply("t", TABLE, "merge", [timed(("c", 10, 1, "a"), ("c", 11, 2, "b"))])
    wh.close()
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    wh.prepare("t", TABLE, soft_delete=True)
    wh.apply("t", TABLE, "merge", [timed(("d", 20, 2, "b"))], soft_delete=True)
    assert soft_rows(wh) == [(1, "a", 10, "c", None), (2, "b", 20, "d", at(20))]


def test_a_widened_definition_widens_the_column_and_narrower_batches_still_load(tmp_path: Path) -> None:
    """The first batch of a wider definition widens the target column (docs/ARCHITECTURE.md,
    "Schema history"); a batch of the narrower one, loaded after it, still loads; never narrowed back."""
    narrow = SourceTable("src", "items", (TABLE.columns[0], SourceColumn("n", "int", "int(11)")), ("id",))
    wide = SourceTable("src", "items", (TABLE.columns[0], SourceColumn("n", "bigint", "bigint(20)")), ("id",))

    def load(table: SourceTable, seq: int, key: int, n: int) -> None:
        ref = BatchRef(seq, seq, f"items_{seq}_{seq}_1.parquet", "items")
        data = decode(encode(changes_to_table(table, [Change(Op.INSERT, seq, TS, (key, n))]), "zstd"), ref.key)
        wh.prepare("t", table)
        wh.apply("t", table, "merge", [(ref, data)])

    def column_type() -> object:
        found = wh.query(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'n'"
        )
        return found[0][0]

    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    load(narrow, 10, 1, 2**31 - 1)
    assert column_type() == "INTEGER"
    load(wide, 20, 2, 2**40)
    assert column_type() == "BIGINT"
    load(narrow, 30, 3, -(2**31))
    assert column_type() == "BIGINT"
    assert wh.query("SELECT id, n FROM t.items ORDER BY id") == [(1, 2**31 - 1), (2, 2**40), (3, -(2**31))]


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
    assert {t: s.max_seq for t, s in wh.load_summary(schema).items()} == {"items": 21, "log": 21, "hist": 21}
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
