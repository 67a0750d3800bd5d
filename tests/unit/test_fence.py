"""The fenced writer on a real (embedded) DuckDB: a lease holder whose lease was taken can never
commit, even paused in the middle of a load; the target holds each change once.

Two connections in one process stand for two instances: across processes, DuckDB lets only one
open the file at a time, so there the file lock keeps them apart and the fence is the second line.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from s3rb_stream import faultpoints
from s3rb_stream.errors import FencedOut
from s3rb_stream.targets import Fence
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from tests.unit.test_duckdb_apply import TABLE, batch, rows

OLD, NEW = Fence("src", 1), Fence("src", 2)


def ledger(wh: DuckDBWarehouse) -> list[tuple[object, ...]]:
    return wh.query("SELECT object_key FROM t._s3rb_batches ORDER BY object_key")


def test_a_lower_generation_can_neither_claim_nor_commit(tmp_path: Path) -> None:
    old = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    old.claim("t", OLD)
    old.prepare("t", TABLE)
    first = batch(("c", 10, 1, "a"))
    old.apply("t", TABLE, "merge", [first], fence=OLD)
    old.idle()

    new = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    new.claim("t", NEW)  # the standby took the lease over
    new.idle()

    late = batch(("u", 11, 1, "late"))
    with pytest.raises(FencedOut, match=r"another instance took over \(lease generation 2, ours 1\)"):
        old.apply("t", TABLE, "merge", [late], fence=OLD)
    with pytest.raises(FencedOut):
        old.claim("t", OLD)
    assert rows(old) == [(1, "a", 10, "c")] and ledger(old) == [(first[0].key,)]
    old.idle()
    new.apply("t", TABLE, "merge", [late], fence=NEW)
    assert rows(new) == [(1, "late", 11, "u")]


def test_a_holder_paused_inside_a_load_cannot_commit_after_a_takeover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "w.duckdb")
    old = DuckDBWarehouse(path)
    old.claim("t", OLD)
    old.prepare("t", TABLE)
    paused, resume = threading.Event(), threading.Event()

    def pause_at_merge(point: str) -> None:  # the old holder stops, rows applied, not yet committed
        if point == "load.merge" and threading.current_thread().name == "old":
            paused.set()
            resume.wait(10)

    monkeypatch.setattr(faultpoints, "reached", pause_at_merge)
    changes = batch(("c", 10, 1, "a"), ("c", 11, 2, "b"))
    failure: list[BaseException] = []

    def old_load() -> None:
        try:
            old.apply("t", TABLE, "merge", [changes], fence=OLD)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=old_load, name="old")
    thread.start()
    assert paused.wait(10)
    new = DuckDBWarehouse(path)  # a second connection to the same database, as another instance
    new.claim("t", NEW)
    resume.set()
    thread.join(10)
    assert len(failure) == 1 and isinstance(failure[0], FencedOut)
    assert rows(new) == [] and ledger(new) == []  # nothing of the old holder's load
    new.apply("t", TABLE, "merge", [changes], fence=NEW)
    assert rows(new) == [(1, "a", 10, "c"), (2, "b", 11, "c")] and len(ledger(new)) == 1
