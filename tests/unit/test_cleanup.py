"""Retention and the ledger's folding (pipeline/cleanup.py), and finding new batches by their
notes: a local store and an embedded DuckDB, real objects and real ledger rows."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import batch_key, pending_prefix
from s3rb_stream.errors import WarehouseUnavailable
from s3rb_stream.pipeline import cleanup
from s3rb_stream.pipeline.cleanup import Cleanup
from s3rb_stream.pipeline.load import Loader
from s3rb_stream.settings import Mode, TableConfig
from s3rb_stream.state.layout import notes_since
from s3rb_stream.store.batches import put_batch
from s3rb_stream.store.local import LocalStore
from s3rb_stream.store.parquet import changes_to_table, encode
from s3rb_stream.targets.base import LedgerEntry
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from tests.unit.test_duckdb_apply import TABLE

TS = datetime(2026, 1, 1, tzinfo=UTC)
NOW = timedelta(0)  # a retention every applied batch is past


def write(store: LocalStore, seq: int, note: bool = True, name: str = "") -> str:
    """One batch of one insert (id ``seq``), as capture writes it; ``note=False``: as a version
    before pending notes wrote it."""
    change = Change(Op.INSERT, seq, TS, (seq, name or f"row {seq}"))
    key = batch_key(store.prefix, "src", "t", "items", seq, seq, TS)
    rows = changes_to_table(TABLE, [change])
    if note:
        put_batch(store, key, rows)
    else:
        store.put(key, encode(rows, "zstd"))
    return key


def ledger(warehouse: DuckDBWarehouse) -> list[tuple[object, ...]]:
    return warehouse.query("SELECT object_key, first_seq, last_seq, row_count FROM t._s3rb_batches ORDER BY 1")


def ids(warehouse: DuckDBWarehouse) -> list[object]:
    return [r[0] for r in warehouse.query("SELECT id FROM t.items ORDER BY id")]


def notes(store: LocalStore) -> list[str]:
    return store.list(pending_prefix(store.prefix, "src", "t", "items"))


def setup(tmp_path: Path, mode: Mode = "merge") -> tuple[LocalStore, DuckDBWarehouse, Loader]:
    store = LocalStore(str(tmp_path / "objects"))
    warehouse = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    return store, warehouse, Loader(store, warehouse, "src", "t", [(TableConfig(name="src.items", mode=mode), TABLE)])


@pytest.mark.parametrize("mode", ["merge", "append"])
def test_applied_batches_go_after_the_retention_and_waiting_ones_stay(tmp_path: Path, mode: Mode) -> None:
    store, warehouse, loader = setup(tmp_path, mode)
    applied = [write(store, seq) for seq in range(10, 20)]
    assert loader.load_all().batches == 10
    assert notes(store) == []  # a note goes with its load
    waiting = write(store, 20)  # written after the pass: not applied yet
    stats = Cleanup(store, warehouse, "src", "t", retention=NOW).run(["items"])
    assert (stats.batches_removed, stats.rows_folded) == (10, 10)
    assert [k for k in applied if store.get(k) is not None] == []
    assert store.get(waiting) is not None and len(notes(store)) == 1  # never a batch not yet applied
    # The ledger keeps one row for the ten: their range, rows, and so the watermark.
    assert ledger(warehouse) == [("_s3rb_folded", 10, 19, 10)]
    assert warehouse.load_summary("t")["items"].max_seq == 19
    assert loader.load_all().batches == 1
    assert ids(warehouse) == list(range(10, 21))
    # A replay writes a removed, folded batch again: applied again, it changes nothing.
    write(store, 15)
    assert loader.load_all().batches == 1
    assert ids(warehouse) == list(range(10, 21))
    again = Cleanup(store, warehouse, "src", "t", retention=NOW).run(["items"])
    assert again.rows_folded == 2 and ledger(warehouse) == [("_s3rb_folded", 10, 20, 12)]


def test_kept_for_good_the_objects_stay_and_the_ledger_still_folds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cleanup, "FOLD_AFTER", timedelta(0))
    store, warehouse, loader = setup(tmp_path)
    kept = [write(store, seq) for seq in range(1, 6)]
    loader.load_all()
    stats = Cleanup(store, warehouse, "src", "t", retention=None).run(["items"])
    assert (stats.batches_removed, stats.rows_folded) == (0, 5)
    assert all(store.get(k) is not None for k in kept)
    assert ledger(warehouse) == [("_s3rb_folded", 1, 5, 5)]


def test_a_fold_that_fails_after_the_removal_is_done_by_the_next_round(tmp_path: Path) -> None:
    """What a kill between the two steps leaves (the fault suite kills there for real): objects
    gone, rows still in the ledger. The next round removes them again (nothing) and folds."""
    store, warehouse, loader = setup(tmp_path)
    keys = [write(store, seq) for seq in range(1, 4)]
    loader.load_all()
    real_fold = warehouse.fold

    def fails(target_schema: str, table: str, entries: list[LedgerEntry], fence: object) -> None:
        raise WarehouseUnavailable("the warehouse went away")

    warehouse.fold = fails  # type: ignore[method-assign,assignment]
    first = Cleanup(store, warehouse, "src", "t", retention=NOW).run(["items"])
    assert first.batches_removed == 3 and first.rows_folded == 0
    assert [k for k in keys if store.get(k) is not None] == [] and len(ledger(warehouse)) == 3
    warehouse.fold = real_fold  # type: ignore[method-assign]
    second = Cleanup(store, warehouse, "src", "t", retention=NOW).run(["items"])
    assert second.rows_folded == 3 and ledger(warehouse) == [("_s3rb_folded", 1, 3, 3)]
    write(store, 4)
    loader.load_all()
    assert ids(warehouse) == [1, 2, 3, 4]


def test_leftovers_of_a_crashed_load_go_once_old(tmp_path: Path) -> None:
    store, warehouse, loader = setup(tmp_path)
    key = write(store, 1)
    loader.load_all()
    folder = key.rsplit("/year=", 1)[0]
    old, fresh = f"{folder}/_manifests/1_1.manifest", f"{folder}/_fitted/items_2_2.parquet"
    store.put(old, b"{}")
    store.put(fresh, b"x")
    an_hour_ago = time.time() - 2 * 3600
    os.utime(tmp_path / "objects" / old, (an_hour_ago, an_hour_ago))
    stats = Cleanup(store, warehouse, "src", "t", retention=timedelta(hours=1)).run(["items"])
    assert stats.leftovers_removed == 1
    assert store.get(old) is None and store.get(fresh) is not None


def test_batches_written_before_notes_are_indexed_once(tmp_path: Path) -> None:
    """A store an older version wrote: objects without notes, some applied. The first pass gives
    the others their notes and loads them; the pipeline's layout record says it is done."""
    store, warehouse, loader = setup(tmp_path)
    write(store, 1)
    write(store, 2)
    loader.load_all()  # applied, notes gone; now pretend the record and the notes never existed
    store.delete("src/t/_s3rb_state/layout.json")
    write(store, 3, note=False)
    write(store, 4, note=False)
    fresh = Loader(store, warehouse, "src", "t", loader.tables.entries())
    stats = fresh.load_all()
    assert stats.batches == 2 and ids(warehouse) == [1, 2, 3, 4]
    assert notes_since(store, "src", "t") is not None and notes(store) == []


class CountingWarehouse(DuckDBWarehouse):
    """The real warehouse, counting the keys a pass asks the ledger about."""

    asked: list[int]

    def applied_among(self, target_schema: str, table: str, keys: Sequence[str]) -> set[str]:
        self.asked.append(len(keys))
        return super().applied_among(target_schema, table, keys)


def test_a_pass_reads_what_waits_not_the_history(tmp_path: Path) -> None:
    """The same pass after 300 applied batches as after none: requests to the store by kind, and
    keys asked of the ledger."""
    costs = []
    for history in (0, 300):
        store = LocalStore(str(tmp_path / str(history) / "objects"))
        warehouse = CountingWarehouse(str(tmp_path / str(history) / "w.duckdb"))
        warehouse.asked = []
        tables = [(TableConfig(name="src.items"), TABLE)]
        for seq in range(1, history + 1):
            write(store, seq)
        Loader(store, warehouse, "src", "t", tables).load_all()
        write(store, 1000)
        warehouse.asked = []
        stats = Loader(store, warehouse, "src", "t", tables).load_all()
        assert stats.batches == 1
        costs.append((dict(stats.requests), warehouse.asked))
    assert costs[0] == costs[1]
