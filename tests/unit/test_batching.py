from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from s3rb_stream.core.batching import BatchBuffers, FlushPolicy
from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.positions import BinlogPosition

TS = datetime(2026, 1, 1, tzinfo=UTC)


def pos(n: int) -> BinlogPosition:
    return BinlogPosition("bin.000001", n)


def change(seq: int) -> tuple[Change, int]:
    return Change(Op.INSERT, seq, TS, (seq,)), 100


def batched(changes: dict[str, list[tuple[Change, int]]]) -> dict[str, tuple[list[Change], int]]:
    """Per table: the changes and their bytes in all, as capture hands them over."""
    return {t: ([c for c, _ in items], sum(size for _, size in items)) for t, items in changes.items()}


def test_checkpoint_is_last_commit_when_nothing_is_buffered() -> None:
    buffers = BatchBuffers(FlushPolicy(), pos(4))
    buffers.advance(pos(100))
    assert buffers.checkpoint_position() == pos(100)


def test_checkpoint_stays_before_the_oldest_unflushed_transaction() -> None:
    buffers = BatchBuffers(FlushPolicy(max_rows=10), pos(4))
    buffers.commit(pos(4), pos(50), batched({"a": [change(10)]}), now=0)
    buffers.commit(pos(50), pos(90), batched({"b": [change(60)]}), now=0)
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
    buffers.commit(pos(4), pos(10), batched({"rows": [change(5), change(6)]}), now=0)
    buffers.commit(pos(10), pos(20), batched({"young": [change(11)]}), now=5)
    assert buffers.due(now=5) == ["rows"]
    assert sorted(buffers.due(now=15)) == ["rows", "young"]
    buffers.commit(pos(20), pos(30), batched({"big": [change(21)] * 3}), now=9)
    assert "big" in buffers.due(now=9)


def test_total_bytes_flushes_the_largest_buffers_first() -> None:
    policy = FlushPolicy(max_rows=1000, max_bytes=10_000, max_age_seconds=100, max_total_bytes=500)
    buffers = BatchBuffers(policy, pos(4))
    buffers.commit(pos(4), pos(10), batched({"small": [change(5)], "large": [change(6)] * 4}), now=0)
    assert buffers.due(now=1) == ["large"]


@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("txn"), st.sets(st.sampled_from("abc"), max_size=3)),
            st.tuples(st.just("flush"), st.sets(st.sampled_from("abc"), min_size=1, max_size=3)),
        ),
        max_size=40,
    )
)
def test_the_checkpoint_never_passes_a_change_that_is_not_in_an_object(
    steps: list[tuple[str, set[str]]],
) -> None:
    """Whatever mix of transactions (on any tables, or none) and partial flushes: resuming at the
    checkpoint re-reads every change not yet written, and nothing earlier than it needs to."""
    buffers = BatchBuffers(FlushPolicy(), pos(4))
    boundary = [4]  # boundary[i]: the position after transaction i (0: the start)
    unflushed: dict[str, list[int]] = {}  # table -> transactions whose changes are only buffered
    for kind, tables in steps:
        if kind == "txn":
            n = len(boundary)
            boundary.append(4 + 10 * n)
            if tables:
                changes = {t: [change(boundary[-2] + 1)] for t in sorted(tables)}
                buffers.commit(pos(boundary[-2]), pos(boundary[-1]), batched(changes), now=0)
                for t in tables:
                    unflushed.setdefault(t, []).append(n)
            else:
                buffers.advance(pos(boundary[-1]))
        else:
            buffers.drop(tables)
            for t in tables:
                unflushed.pop(t, None)
        checkpoint = buffers.checkpoint_position().pos
        pending = [n for ns in unflushed.values() for n in ns]
        if pending:
            assert checkpoint == boundary[min(pending) - 1]  # right before the oldest unwritten change
        else:
            assert checkpoint == boundary[-1]  # everything written: the last commit


def test_a_held_xa_transaction_keeps_the_checkpoint_before_it_until_released() -> None:
    """A prepared XA transaction's rows live only in memory until its outcome: a restart must read
    it again, so the checkpoint stays at the boundary before it, whatever commits and flushes after."""
    buffers = BatchBuffers(FlushPolicy(), pos(4))
    buffers.advance(pos(100))
    buffers.hold("X'78',X'',1", pos(100))
    buffers.commit(pos(200), pos(300), batched({"a": [change(250)]}), now=0)
    buffers.drop(["a"])  # written: alone, it would let the checkpoint move to 300
    buffers.advance(pos(400))
    assert buffers.checkpoint_position() == pos(100)
    buffers.release("X'78',X'',1")
    assert buffers.checkpoint_position() == pos(400)
