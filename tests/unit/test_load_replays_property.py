"""Crash and replay, as hypothesis draws them: every run resumes from a checkpoint at or before
where the last one wrote, cuts the same changes into batches at other points, dies after some of
them, and loads happen at any moment in between. Whatever the cuts and timings, the target must end
with each change applied once: the last state per key (merge), every change exactly once (append),
the last state per key with deleted keys kept and marked with their delete's time (merge with soft
deletes). Local store and embedded DuckDB, no servers."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.pipeline.load import Loader
from s3rb_stream.settings import Mode, TableConfig
from s3rb_stream.store.batches import put_batch
from s3rb_stream.store.local import LocalStore
from s3rb_stream.store.parquet import changes_to_table
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from tests.unit.test_duckdb_apply import TABLE

TS = datetime(2026, 1, 1, tzinfo=UTC)

change_kinds = st.lists(st.tuples(st.sampled_from("cud"), st.integers(1, 4)), min_size=1, max_size=30)


def history(kinds: list[tuple[str, int]]) -> list[Change]:
    """Valid per-key histories: an update or delete of an absent key becomes an insert; a delete
    carries the row as it was (a full before-image); each change commits a second after the last."""
    live: dict[int, str] = {}
    out = []
    for i, (op, key) in enumerate(kinds):
        if op in "ud" and key not in live:
            op = "c"
        elif op == "c" and key in live:
            op = "u"
        name = live.pop(key) if op == "d" else f"v{i}"
        if op != "d":
            live[key] = name
        out.append(Change(Op(op), 10 * (i + 1), TS + timedelta(seconds=i), (key, name)))
    return out


Kind = Literal["merge", "append", "soft"]  # soft: merge with soft_delete


def config(kind: Kind) -> TableConfig:
    mode: Mode = "append" if kind == "append" else "merge"
    return TableConfig(name="src.items", mode=mode, soft_delete=kind == "soft")


def put(store: LocalStore, batch: list[Change], last: int | None = None) -> None:
    """A batch object as capture writes it, note and all; ``last``: another last sequence (a replay's name)."""
    key = batch_key(store.prefix, "src", "t", "items", batch[0].seq, batch[-1].seq if last is None else last, TS)
    put_batch(store, key, changes_to_table(TABLE, batch))


def final_table(warehouse: DuckDBWarehouse, kind: Kind) -> list[tuple[object, ...]]:
    marks = ", _s3rb_deleted_at" if kind == "soft" else ""
    return warehouse.query(f"SELECT id, name, _s3rb_seq{marks} FROM t.items ORDER BY _s3rb_seq, id")


def expected_table(changes: list[Change], kind: Kind) -> list[tuple[object, ...]]:
    """What applying every change once, in order, leaves."""
    if kind == "append":
        return [(c.values[0], c.values[1], c.seq) for c in changes]
    last = {c.values[0]: c for c in changes}
    if kind == "soft":
        rows = [(*c.values, c.seq, c.source_ts if c.op == Op.DELETE else None) for c in last.values()]
    else:
        rows = [(*c.values, c.seq) for c in last.values() if c.op != Op.DELETE]
    return sorted(rows, key=lambda r: (r[2], r[0]))


KINDS = st.sampled_from(["merge", "append", "soft"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=change_kinds, kind=KINDS, data=st.data())
def test_any_crash_and_replay_schedule_applies_each_change_once(
    kinds: list[tuple[str, int]], kind: Kind, data: st.DataObject
) -> None:
    changes = history(kinds)
    tmp = Path(tempfile.mkdtemp())
    try:
        store = LocalStore(str(tmp / "objects"))
        warehouse = DuckDBWarehouse(str(tmp / "w.duckdb"))
        loader = Loader(store, warehouse, "src", "t", [(config(kind), TABLE)])
        checkpoint = 0
        for _ in range(data.draw(st.integers(0, 4), label="crashed runs")):
            written = checkpoint
            while written < len(changes) and data.draw(st.booleans(), label="write another batch"):
                end = data.draw(st.integers(written + 1, len(changes)), label="cut")
                put(store, changes[written:end])
                written = end
                if data.draw(st.booleans(), label="load now"):
                    loader.load_all()
            checkpoint = data.draw(st.integers(checkpoint, written), label="checkpoint saved before dying")
        if checkpoint < len(changes):  # the last run reads to the end
            put(store, changes[checkpoint:])
        loader.load_all()
        assert final_table(warehouse, kind) == expected_table(changes, kind)
        warehouse.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=change_kinds, kind=KINDS, data=st.data())
def test_batches_delivered_again_in_any_order_change_nothing(
    kinds: list[tuple[str, int]], kind: Kind, data: st.DataObject
) -> None:
    """Once every change is applied, any ranges of them delivered again, older after newer, each
    load its own, leave the table as applying once in order did."""
    changes = history(kinds)
    tmp = Path(tempfile.mkdtemp())
    try:
        store = LocalStore(str(tmp / "objects"))
        warehouse = DuckDBWarehouse(str(tmp / "w.duckdb"))
        loader = Loader(store, warehouse, "src", "t", [(config(kind), TABLE)])
        put(store, changes)
        loader.load_all()
        once = final_table(warehouse, kind)
        assert once == expected_table(changes, kind)
        for _ in range(data.draw(st.integers(1, 5), label="deliveries again")):
            start = data.draw(st.integers(0, len(changes) - 1), label="from")
            end = data.draw(st.integers(start + 1, len(changes)), label="to")
            again = changes[start:end]
            # the same changes under another object name, as a replay writes them
            put(store, again, last=again[-1].seq + 1)
            loader.load_all()
            assert final_table(warehouse, kind) == once
        warehouse.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
