"""Crash and replay, as hypothesis draws them: every run resumes from a checkpoint at or before
where the last one wrote, cuts the same changes into batches at other points, dies after some of
them, and loads happen at any moment in between. Whatever the cuts and timings, the target must end
with each change applied once: the last state per key (merge), every change exactly once (append).
Local store and embedded DuckDB, no servers."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.pipeline.load import Loader
from s3rb_stream.settings import Mode, TableConfig
from s3rb_stream.store.local import LocalStore
from s3rb_stream.store.parquet import changes_to_table, encode
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from tests.unit.test_duckdb_apply import TABLE

TS = datetime(2026, 1, 1, tzinfo=UTC)

change_kinds = st.lists(st.tuples(st.sampled_from("cud"), st.integers(1, 4)), min_size=1, max_size=30)


def history(kinds: list[tuple[str, int]]) -> list[Change]:
    """Valid per-key histories: an update or delete of an absent key becomes an insert."""
    live: set[int] = set()
    out = []
    for i, (op, key) in enumerate(kinds):
        if op in "ud" and key not in live:
            op = "c"
        elif op == "c" and key in live:
            op = "u"
        (live.add if op != "d" else live.discard)(key)
        out.append(Change(Op(op), 10 * (i + 1), TS, (key, f"v{i}")))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=change_kinds, mode=st.sampled_from(["merge", "append"]), data=st.data())
def test_any_crash_and_replay_schedule_applies_each_change_once(
    kinds: list[tuple[str, int]], mode: Mode, data: st.DataObject
) -> None:
    changes = history(kinds)
    tmp = Path(tempfile.mkdtemp())
    try:
        store = LocalStore(str(tmp / "objects"))
        warehouse = DuckDBWarehouse(str(tmp / "w.duckdb"))
        loader = Loader(store, warehouse, "src", "t", [(TableConfig(name="src.items", mode=mode), TABLE)])
        checkpoint = 0
        for _ in range(data.draw(st.integers(0, 4), label="crashed runs")):
            written = checkpoint
            while written < len(changes) and data.draw(st.booleans(), label="write another batch"):
                end = data.draw(st.integers(written + 1, len(changes)), label="cut")
                batch = changes[written:end]
                store.put(batch_key(store.prefix, "src", "t", "items", batch[0].seq, batch[-1].seq, TS),
                          encode(changes_to_table(TABLE, batch), "zstd"))  # fmt: skip
                written = end
                if data.draw(st.booleans(), label="load now"):
                    loader.load_all()
            checkpoint = data.draw(st.integers(checkpoint, written), label="checkpoint saved before dying")
        if checkpoint < len(changes):  # the last run reads to the end
            batch = changes[checkpoint:]
            store.put(batch_key(store.prefix, "src", "t", "items", batch[0].seq, batch[-1].seq, TS),
                      encode(changes_to_table(TABLE, batch), "zstd"))  # fmt: skip
        loader.load_all()
        got = warehouse.query("SELECT id, name, _s3rb_seq FROM t.items ORDER BY _s3rb_seq, id")
        if mode == "append":
            assert got == [(c.values[0], c.values[1], c.seq) for c in changes]
        else:
            last = {c.values[0]: c for c in changes}
            expected = sorted(((c.values[0], c.values[1], c.seq) for c in last.values() if c.op != Op.DELETE),
                              key=lambda r: (r[2], r[0]))  # fmt: skip
            assert got == expected
        warehouse.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
