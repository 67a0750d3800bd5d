"""A replay after a crash can cut the same changes into other batches than the first run did; the
loader must apply each change once, whichever batches it finds (local store, embedded DuckDB)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.pipeline.load import Loader
from s3rb_stream.settings import Mode, TableConfig
from s3rb_stream.store import batches
from s3rb_stream.store.local import LocalStore
from s3rb_stream.store.parquet import changes_to_table
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from tests.unit.test_duckdb_apply import TABLE

TS = datetime(2026, 1, 1, tzinfo=UTC)


def put_batch(store: LocalStore, seqs: range) -> None:
    changes = [Change(Op.INSERT, seq, TS, (seq, f"row {seq}")) for seq in seqs]
    key = batch_key(store.prefix, "src", "t", "items", seqs[0], seqs[-1], TS)
    batches.put_batch(store, key, changes_to_table(TABLE, changes))


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_overlapping_batches_of_a_replay_apply_each_change_once(tmp_path: Path, mode: Mode) -> None:
    store = LocalStore(str(tmp_path / "objects"))
    put_batch(store, range(10, 60))  # the first run wrote 10..59, then died before its checkpoint
    put_batch(store, range(10, 30))  # the replay cut the same changes differently
    put_batch(store, range(30, 80))
    warehouse = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    config = TableConfig(name="src.items", mode=mode)
    stats = Loader(store, warehouse, "src", "t", [(config, TABLE)]).load_all()
    assert stats.batches == 3
    ids = [r[0] for r in warehouse.query("SELECT id FROM t.items ORDER BY id")]
    assert ids == list(range(10, 80))  # every change once: none lost, none twice


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_a_replay_batch_ending_earlier_never_hides_the_start_of_a_longer_one(tmp_path: Path, mode: Mode) -> None:
    """Seen in the fault suite (kill -9 at store.write): a run wrote 10..79 in one batch and died
    with its checkpoint held at 19 by another table's open batch; the replay began at 20 and cut
    20..49. Applied by last sequence, 20..49 went first and its watermark hid 10..19."""
    store = LocalStore(str(tmp_path / "objects"))
    put_batch(store, range(10, 80))
    put_batch(store, range(20, 50))
    put_batch(store, range(50, 90))
    warehouse = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    config = TableConfig(name="src.items", mode=mode)
    Loader(store, warehouse, "src", "t", [(config, TABLE)]).load_all()
    ids = [r[0] for r in warehouse.query("SELECT id FROM t.items ORDER BY id")]
    assert ids == list(range(10, 90))
