"""The fenced writer on a real (embedded) DuckDB: a lease holder whose lease was taken can never
commit, even paused in the middle of a load; the target holds each change once.

Two connections in one process stand for two instances: across processes, DuckDB lets only one
open the file at a time, so there the file lock keeps them apart and the fence is the second line.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from s3rb_stream import faultpoints
from s3rb_stream.errors import FencedOut, WarehouseUnavailable
from s3rb_stream.targets import Fence
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from tests.unit.test_duckdb_apply import TABLE, batch, rows

OLD, NEW = Fence("src", 1), Fence("src", 2)
OTHERS = replace(TABLE, name="others")


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


def first_loads_at_once(path: str, monkeypatch: pytest.MonkeyPatch, known: list[str]) -> list[BaseException]:
    """Two connections of one holder load two tables at once (S3RB_LOAD_CONCURRENCY): the first is
    paused before its commit while the second commits. The claim knew the tables ``known``. What
    the first load raised."""
    one, two = DuckDBWarehouse(path), DuckDBWarehouse(path)
    one.claim("t", NEW, known)
    one.prepare("t", TABLE)
    two.prepare("t", OTHERS)
    paused, resume = threading.Event(), threading.Event()

    def pause_at_merge(point: str) -> None:
        if point == "load.merge" and threading.current_thread().name == "one":
            paused.set()
            resume.wait(10)

    monkeypatch.setattr(faultpoints, "reached", pause_at_merge)
    failure: list[BaseException] = []

    def first_load() -> None:
        try:
            one.apply("t", TABLE, "merge", [batch(("c", 10, 1, "a"))], fence=NEW)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=first_load, name="one")
    thread.start()
    assert paused.wait(10)
    ref, data = batch(("c", 12, 7, "z"))
    two.apply("t", OTHERS, "merge", [(replace(ref, table="others"), data)], fence=NEW)
    resume.set()
    thread.join(10)
    return failure


def test_tables_the_claim_knew_load_at_once_without_conflict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "w.duckdb")
    assert first_loads_at_once(path, monkeypatch, ["items", "others"]) == []
    wh = DuckDBWarehouse(path)
    assert rows(wh) == [(1, "a", 10, "c")]
    fences = wh.query("SELECT table_name, generation FROM t._s3rb_fence ORDER BY table_name")
    assert fences == [("", 2), ("items", 2), ("others", 2)]


def test_first_loads_of_tables_the_claim_did_not_know_are_retried_not_fenced_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a table's first load locks the claim's row, so a sibling's first load that committed
    meanwhile conflicts: worth a retry, not a takeover."""
    path = str(tmp_path / "w.duckdb")
    failure = first_loads_at_once(path, monkeypatch, [])
    assert len(failure) == 1 and isinstance(failure[0], WarehouseUnavailable), failure
    assert not isinstance(failure[0], FencedOut) and failure[0].retryable
    wh = DuckDBWarehouse(path)
    assert rows(wh) == []
    wh.apply("t", TABLE, "merge", [batch(("c", 10, 1, "a"))], fence=NEW)  # the retry
    assert rows(wh) == [(1, "a", 10, "c")]
    fences = wh.query("SELECT table_name, generation FROM t._s3rb_fence ORDER BY table_name")
    assert fences == [("", 2), ("items", 2), ("others", 2)]


def test_a_fence_table_from_before_per_table_rows_is_upgraded_and_still_fences(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    con = duckdb.connect(path)
    con.execute("CREATE SCHEMA t")
    con.execute(
        "CREATE TABLE t._s3rb_fence (source_db VARCHAR NOT NULL, generation BIGINT NOT NULL, taken_at TIMESTAMPTZ)"
    )
    con.execute("INSERT INTO t._s3rb_fence VALUES ('src', 1, now())")
    con.close()
    new = DuckDBWarehouse(path)
    new.claim("t", NEW)
    new.prepare("t", TABLE)
    new.apply("t", TABLE, "merge", [batch(("c", 10, 1, "a"))], fence=NEW)
    assert new.query("SELECT table_name, generation FROM t._s3rb_fence ORDER BY table_name") == [
        ("", 2),
        ("items", 2),
    ]
    new.idle()
    old = DuckDBWarehouse(path)
    with pytest.raises(FencedOut):
        old.apply("t", TABLE, "merge", [batch(("u", 11, 1, "b"))], fence=OLD)
