"""Snapshots on MySQL's path (no exact snapshot position), run against MariaDB with that status hidden.

A transaction in the binlog before the snapshot's position whose commit is not yet visible when the
snapshot opens is neither in the snapshot nor replayed. Lossless semi-sync holds commits exactly
there (``s3rb_stream.testing.commit_window``), so the window is opened on purpose, not hoped for.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pymysql
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from s3rb_stream.cli import main
from s3rb_stream.errors import SourceError, SourceUnavailable
from s3rb_stream.sql import mysql as q
from s3rb_stream.testing import commit_window
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.ports import wait_until
from tests.integration.conftest import Pipeline, make_pipeline

ITEMS = "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), qty INT)"


@pytest.fixture(scope="module")
def window_server() -> Iterator[MariaDBServer]:
    """A server of its own: the tests switch semi-sync on and off globally."""
    server = MariaDBServer().start()
    yield server
    server.stop()


@pytest.fixture
def mysql_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """MariaDB answers the snapshot-position status as MySQL does: with nothing."""
    monkeypatch.setattr(q, "SNAPSHOT_POSITION", commit_window.STATUS_MYSQL_LACKS)


@pytest.fixture
def window_pipeline(request: pytest.FixtureRequest, window_server: MariaDBServer, tmp_path: Path) -> Iterator[Pipeline]:
    pipeline = make_pipeline(request, window_server, tmp_path, "file")
    yield pipeline
    commit_window.disarm(window_server)


def held_commit(pipeline: Pipeline, *statements: str) -> threading.Thread:
    """Run ``statements`` as one transaction whose commit is held in the window (binlogged, not yet
    visible); return once it is held."""
    commit_window.arm(pipeline.server, timeout_ms=2000)

    def transaction() -> None:
        conn = pipeline.server.connect(pipeline.source_db, autocommit=False)
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        conn.commit()
        conn.close()

    thread = threading.Thread(target=transaction)
    thread.start()
    wait_until(lambda: commit_window.commits_held(pipeline.server) == 1, 10, "a commit held in the window")
    return thread


@pytest.mark.parametrize("locking", ["tables", "global", "none"])
def test_a_commit_in_the_binlog_but_not_yet_visible_is_not_lost(
    window_pipeline: Pipeline, mysql_path: None, locking: str
) -> None:
    pipeline = window_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS)
    pipeline.sql_unlogged("INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    pipeline.configure(snapshot_locking=locking)

    commit = held_commit(
        pipeline, "UPDATE items SET name = 'in flight' WHERE id = 1", "INSERT INTO items VALUES (3, 'in flight', 3)"
    )
    result = pipeline.snapshot()
    commit.join()
    pipeline.run()

    expected = [(1, "in flight", 1), (2, "b", 2), (3, "in flight", 3)]
    assert pipeline.source_rows("items") == expected
    assert (result.method, result.exact) == (locking, locking != "none")
    if locking == "none":  # the window is real: without the lock the transaction is lost
        assert pipeline.target_rows("items") == [(1, "a", 1), (2, "b", 2)]
    else:
        assert pipeline.target_rows("items") == expected


def test_mariadbs_own_snapshot_position_needs_no_lock(window_pipeline: Pipeline) -> None:
    pipeline = window_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS)
    pipeline.sql_unlogged("INSERT INTO items VALUES (1, 'a', 1)")
    pipeline.configure(snapshot_locking="none")  # not consulted: the server reports the position

    commit = held_commit(pipeline, "INSERT INTO items VALUES (2, 'in flight', 2)")
    result = pipeline.snapshot()
    assert commit.is_alive(), "the snapshot did not wait for the held commit: it took no lock"
    commit.join()
    pipeline.run()

    assert result.method == "server"
    assert pipeline.target_rows("items") == pipeline.source_rows("items") == [(1, "a", 1), (2, "in flight", 2)]


@pytest.mark.parametrize("locking", ["tables", "none"])
def test_the_command_says_how_the_snapshot_is_consistent(
    window_pipeline: Pipeline, mysql_path: None, locking: str
) -> None:
    pipeline = window_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS)
    args = ["snapshot", "--source-db", pipeline.source_db, "--target-schema", pipeline.target_schema]
    result = CliRunner().invoke(main, args, env=pipeline.cli_env(S3RB_SNAPSHOT_LOCKING=locking))
    assert result.exit_code == 0, result.output
    if locking == "tables":
        assert "(exact: read under LOCK TABLES ... READ on the snapshotted tables)" in result.stdout
        assert "warning" not in result.stderr
    else:
        assert "(NOT exact: read without a lock (S3RB_SNAPSHOT_LOCKING=none)" in result.stdout
        assert "warning: NOT exact" in result.stderr


# --------------------------------------------------------------------------- privileges and waits

SECRET = "lock-test-pw"


def restricted_user(pipeline: Pipeline, name: str, *grants: str) -> None:
    pipeline.server.execute(
        f"CREATE USER '{name}'@'%' IDENTIFIED BY '{SECRET}'",
        f"GRANT SELECT ON `{pipeline.source_db}`.* TO '{name}'@'%'",
        f"GRANT BINLOG MONITOR ON *.* TO '{name}'@'%'",
        *(g.format(user=f"'{name}'@'%'", db=pipeline.source_db) for g in grants),
    )
    pipeline.configure(mysql_url=SecretStr(f"mysql://{name}:{SECRET}@127.0.0.1:{pipeline.server.port}"))


def written(pipeline: Pipeline) -> list[Path]:
    root = Path(pipeline.settings.store().root)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_lock_privilege_is_named_before_anything_is_written(window_pipeline: Pipeline, mysql_path: None) -> None:
    pipeline = window_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS, "INSERT INTO items VALUES (1, 'a', 1)")
    restricted_user(pipeline, f"nolock{pipeline.source_db}")

    with pytest.raises(SourceError, match=rf"lacks LOCK TABLES .*GRANT LOCK TABLES ON `{pipeline.source_db}`\.\*"):
        pipeline.snapshot()
    pipeline.configure(snapshot_locking="global")
    with pytest.raises(SourceError, match=r"lacks RELOAD.*GRANT RELOAD ON \*\.\*.*S3RB_SNAPSHOT_LOCKING=tables"):
        pipeline.snapshot()
    assert written(pipeline) == []  # nothing written: loads of the table are not held back

    pipeline.server.execute(f"GRANT LOCK TABLES ON `{pipeline.source_db}`.* TO 'nolock{pipeline.source_db}'@'%'")
    pipeline.configure(snapshot_locking="tables")
    assert pipeline.snapshot().method == "tables"
    assert pipeline.target_rows("items") == [(1, "a", 1)]


def test_a_lock_refused_at_run_time_says_which_grant(window_pipeline: Pipeline, mysql_path: None) -> None:
    """Privileges through roles are not resolved beforehand; the server's refusal is explained."""
    pipeline = window_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS)
    role = f"locker{pipeline.source_db}"
    pipeline.server.execute(f"CREATE ROLE {role}", f"GRANT LOCK TABLES ON `{pipeline.source_db}`.* TO {role}")
    restricted_user(pipeline, f"viarole{pipeline.source_db}", f"GRANT {role} TO {{user}}")  # granted, not active

    with pytest.raises(
        SourceError, match=rf"refused the snapshot's LOCK TABLES .*GRANT LOCK TABLES ON `{pipeline.source_db}`"
    ):
        pipeline.snapshot()


def test_a_lock_that_cannot_be_had_in_time_stops_the_snapshot_with_the_cause(
    window_pipeline: Pipeline, mysql_path: None
) -> None:
    pipeline = window_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS, "INSERT INTO items VALUES (1, 'a', 1)")
    pipeline.configure(snapshot_lock_wait_seconds=1)
    open_transaction = pipeline.server.connect(pipeline.source_db, autocommit=False)
    with open_transaction.cursor() as cur:
        cur.execute("UPDATE items SET qty = 2 WHERE id = 1")  # changed, never committed: holds the table
    try:
        with pytest.raises(SourceUnavailable, match=r"waited 1 s for an open transaction that changed items"):
            pipeline.snapshot()
    finally:
        open_transaction.rollback()
        open_transaction.close()
    assert pipeline.snapshot().method == "tables"  # once it has ended, the snapshot goes through


# --------------------------------------------------------------------------- stress

TABLES = {
    "a": "CREATE TABLE a (id INT PRIMARY KEY, v INT, note VARCHAR(40))",
    "b": "CREATE TABLE b (id INT PRIMARY KEY, a_id INT, qty INT)",
    "c": "CREATE TABLE c (k1 INT, k2 VARCHAR(10), val TEXT, PRIMARY KEY (k1, k2))",
}
ROUNDS = 8


class Gate:
    """The writers' transactions share it; a held commit takes it alone, so that while it waits in
    the window no other commit queues behind it (MariaDB would then hold SHOW MASTER STATUS until
    the window closes, and the position could not be read inside it)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = 0
        self._alone = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._open += 1
        try:
            yield
        finally:
            with self._cond:
                self._open -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._alone = True
            self._cond.wait_for(lambda: self._open == 0)
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()


def change(rng: random.Random, fresh: int) -> tuple[str, tuple[object, ...]]:
    """One statement of a writer: an insert, update, delete or key move in a, b or c."""
    i = rng.randint(1, 600)
    table = rng.choice("abc")
    action = rng.choice(["insert", "update", "delete", "move"])
    if table == "c":
        key = (i // 10, f"k{i % 10}")
        return {
            "insert": ("INSERT IGNORE INTO c VALUES (%s, %s, 'new')", key),
            "update": ("UPDATE c SET val = CONCAT(val, '+') WHERE k1 = %s AND k2 = %s", key),
            "delete": ("DELETE FROM c WHERE k1 = %s AND k2 = %s", key),
            "move": ("UPDATE IGNORE c SET k1 = %s WHERE k1 = %s AND k2 = %s", (fresh, *key)),
        }[action]
    values = "(%s, 1, 'new')" if table == "a" else "(%s, 1, 1)"
    column = "v" if table == "a" else "qty"
    return {
        "insert": (f"INSERT IGNORE INTO {table} VALUES {values}", (i,)),
        "update": (f"UPDATE {table} SET {column} = {column} + 1 WHERE id = %s", (i,)),
        "delete": (f"DELETE FROM {table} WHERE id = %s", (i,)),
        "move": (f"UPDATE IGNORE {table} SET id = %s WHERE id = %s", (fresh, i)),
    }[action]


def writer(server: MariaDBServer, db: str, seed: int, gate: Gate, stop: threading.Event, done: list[int]) -> None:
    """Transactions of 2-4 changes over a, b and c, as fast as they go."""
    rng = random.Random(seed)
    conn = server.connect(db, autocommit=False)
    fresh = seed * 1_000_000
    while not stop.is_set():
        with gate.shared():
            try:
                with conn.cursor() as cur:
                    for _ in range(rng.randint(2, 4)):
                        fresh += 1
                        cur.execute(*change(rng, fresh))
                conn.commit()
                done[0] += 1
            except pymysql.err.OperationalError as exc:  # deadlock or lock wait between the writers
                if exc.args[0] not in (1205, 1213):
                    raise
                conn.rollback()
    conn.close()


def held_commits(server: MariaDBServer, db: str, seed: int, gate: Gate, stop: threading.Event) -> None:
    """Again and again, a transaction whose commit waits 100 ms in the window (binlogged, not yet
    visible), as under lossless semi-sync with a slow replica: new rows and a key moved in a, b, c."""
    conn = server.connect(db, autocommit=False)
    fresh = seed * 1_000_000
    while not stop.is_set():
        with gate.alone():
            fresh += 1
            with conn.cursor() as cur:
                cur.execute("INSERT INTO a VALUES (%s, 0, 'held')", (fresh,))
                cur.execute("INSERT INTO b VALUES (%s, 0, 0)", (fresh,))
                cur.execute("INSERT INTO c VALUES (%s, 'held', 'held')", (fresh,))
                cur.execute("UPDATE IGNORE a SET id = %s WHERE id = %s", (fresh + 500_000, random.randint(1, 600)))
            commit_window.arm(server, timeout_ms=100)
            conn.commit()
            commit_window.disarm(server)
        stop.wait(0.05)
    conn.close()


def at_least(counter: list[int], n: int) -> bool:
    return counter[0] >= n


def test_many_snapshots_under_concurrent_writers_equal_the_source(window_pipeline: Pipeline, mysql_path: None) -> None:
    """Each round: three writers, and commits held in the window again and again, while a snapshot
    runs; then the writers stop, streaming catches up, and every table must equal the source."""
    pipeline = window_pipeline
    pipeline.tables("tables:\n" + "".join(f'  - name: "{{db}}.{t}"\n' for t in TABLES))
    pipeline.sql(*TABLES.values())
    pipeline.sql_unlogged(
        "INSERT INTO a VALUES " + ",".join(f"({i}, {i}, 'seed')" for i in range(1, 501)),
        "INSERT INTO b VALUES " + ",".join(f"({i}, {i % 50}, {i})" for i in range(1, 501)),
        "INSERT INTO c VALUES " + ",".join(f"({i // 10}, 'k{i % 10}', 'seed')" for i in range(600)),
    )
    pipeline.configure(snapshot_chunk_rows=50)
    server, db = pipeline.server, pipeline.source_db
    total = 0
    for round_ in range(ROUNDS):
        stop, gate, done = threading.Event(), Gate(), [0]
        threads = [
            threading.Thread(target=writer, args=(server, db, 10 * round_ + n + 1, gate, stop, done)) for n in range(3)
        ]
        threads.append(threading.Thread(target=held_commits, args=(server, db, 10 * round_ + 9, gate, stop)))
        for thread in threads:
            thread.start()
        try:
            wait_until(partial(at_least, done, 20), 30, "the writers' first transactions")
            result = pipeline.snapshot(restart=True)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            commit_window.disarm(server)
        assert result.method == "tables"
        pipeline.run()
        for table in TABLES:
            assert pipeline.target_rows(table) == pipeline.source_rows(table), f"round {round_}, table {table}"
        total += done[0]
    assert total >= ROUNDS * 20
