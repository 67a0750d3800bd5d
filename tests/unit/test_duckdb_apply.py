"""The apply step on a real (embedded) DuckDB: invariants 2 and 4 without a source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import BatchRef
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import WarehouseError
from s3rb_stream.sql import duckdb as duckdb_sql
from s3rb_stream.store.parquet import changes_to_table, decode, encode
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
