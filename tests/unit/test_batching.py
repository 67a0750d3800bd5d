from __future__ import annotations

from datetime import UTC, datetime

from s3rb_stream.core.batching import BatchBuffers, FlushPolicy
from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.positions import BinlogPosition

TS = datetime(2026, 1, 1, tzinfo=UTC)


def pos(n: int) -> BinlogPosition:
    return BinlogPosition("bin.000001", n)


def change(seq: int) -> tuple[Change, int]:
    return Change(Op.INSERT, seq, TS, (seq,)), 100


def test_checkpoint_is_last_commit_when_nothing_is_buffered() -> None:
    buffers = BatchBuffers(FlushPolicy(), pos(4))
    buffers.advance(pos(100))
    assert buffers.checkpoint_position() == pos(100)


def test_checkpoint_stays_before_the_oldest_unflushed_transaction() -> None:
    buffers = BatchBuffers(FlushPolicy(max_rows=10), pos(4))
    buffers.commit(pos(4), pos(50), {"a": [change(10)]}, now=0)
    buffers.commit(pos(50), pos(90), {"b": [change(60)]}, now=0)
    assert buffers.checkpoint_position() == pos(4)
    buffers.drop(["a"])
    assert buffers.checkpoint_position() == pos(50)
    buffers.drop(["b"])
    assert buffers.checkpoint_position() == pos(90)


def test_advance_never_moves_backwards() -> None:
    buffers = BatchBuffers(FlushPolicy(), pos(100))
    buffers.advance(pos(50))
    assert buffers.last_commit == pos(100)


def test_due_by_rows_bytes_and_age() -> None:
    buffers = BatchBuffers(FlushPolicy(max_rows=2, max_bytes=250, max_age_seconds=10), pos(4))
    buffers.commit(pos(4), pos(10), {"rows": [change(5), change(6)]}, now=0)
    buffers.commit(pos(10), pos(20), {"young": [change(11)]}, now=5)
    assert buffers.due(now=5) == ["rows"]
    assert sorted(buffers.due(now=15)) == ["rows", "young"]
    buffers.commit(pos(20), pos(30), {"big": [change(21)] * 3}, now=9)
    assert "big" in buffers.due(now=9)


def test_total_bytes_flushes_the_largest_buffers_first() -> None:
    policy = FlushPolicy(max_rows=1000, max_bytes=10_000, max_age_seconds=100, max_total_bytes=500)
    buffers = BatchBuffers(policy, pos(4))
    buffers.commit(pos(4), pos(10), {"small": [change(5)], "large": [change(6)] * 4}, now=0)
    assert buffers.due(now=1) == ["large"]
