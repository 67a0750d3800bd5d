"""``soft_delete: true`` end to end, on DuckDB and on the Redshift emulator: a deleted row stays,
marked with the source's delete time; a key inserted again lives again; TRUNCATE, full_sync and a
snapshot's sweep mark what they remove; replays change nothing; the column follows the setting."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.commands.sync import sync
from s3rb_stream.core.object_keys import checkpoint_key
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings
from s3rb_stream.store import open_store
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.test_redshift_end_to_end import query_target, settings_for_target

_n = itertools.count(1)
ITEMS = "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), qty INT)"
T = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T + seconds, UTC)


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


@dataclass
class SoftEnv:
    server: MariaDBServer
    db: str
    schema: str
    settings: Settings
    redshift_port: int | None

    def tables(self, strategy: str = "binlog", soft: bool = True) -> None:
        Path(self.settings.tables_file).write_text(
            f'tables:\n  - name: "{self.db}.items"\n    cdc_strategy: {strategy}\n'
            + ("    soft_delete: true\n" if soft else "")
        )

    def at(self, seconds: int, *statements: str) -> None:
        """Run statements as one transaction committed at T + seconds."""
        conn = self.server.connect(self.db)
        conn.autocommit(False)
        with conn.cursor() as cur:
            cur.execute(f"SET timestamp = {T + seconds}")
            for statement in statements:
                cur.execute(statement)
        conn.commit()
        conn.close()

    def unlogged(self, statement: str) -> None:
        """A change the binlog never sees (a purged binlog, say): only an extract can find it."""
        conn = self.server.connect(self.db)
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            cur.execute(statement)
        conn.close()

    def run(self) -> None:
        run(self.settings, self.db, self.schema, until_caught_up=True, start_position="current")

    def sync(self) -> None:
        sync(self.settings, self.db, self.schema)

    def snapshot(self) -> None:
        snapshot(self.settings, self.db, self.schema, restart=True)

    def rows(self, columns: str = "id, name, qty, _s3rb_op, _s3rb_deleted_at") -> list[tuple[Any, ...]]:
        found = query_target(self.settings, self.redshift_port, self.schema, "items", columns, "id")
        return [tuple(_utc(v) for v in r) for r in found]


@pytest.fixture(params=["duckdb", "redshift"])
def env(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Iterator[SoftEnv]:
    n = next(_n)
    db, schema = f"soft{n}", f"mirror{n}"
    mariadb.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.{ITEMS.removeprefix('CREATE TABLE ')}")
    settings, port = settings_for_target(request, mariadb, tmp_path, tmp_path / "tables.yml", f"soft-{n}")
    yield SoftEnv(mariadb, db, schema, settings, port)


def test_a_deleted_row_stays_marked_with_its_delete_time_and_a_key_inserted_again_lives(env: SoftEnv) -> None:
    env.tables()
    env.run()  # starts the checkpoint at the current position
    env.at(0, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    env.at(60, "UPDATE items SET name = 'a2', qty = 10 WHERE id = 1")
    env.at(120, "DELETE FROM items WHERE id = 1")
    env.at(130, "INSERT INTO items VALUES (4, 'd', 4)", "DELETE FROM items WHERE id = 4")  # never loaded live
    env.run()
    assert env.rows() == [
        (1, "a2", 10, "d", at(120)),  # the row as it was, marked
        (2, "b", 2, "c", None),
        (3, "c", 3, "c", None),
        (4, "d", 4, "d", at(130)),
    ]
    env.at(180, "INSERT INTO items VALUES (1, 'again', 7)")
    env.at(190, "DELETE FROM items WHERE id = 2")
    env.run()
    env.run()  # nothing new: nothing changes
    assert env.rows() == [
        (1, "again", 7, "c", None),
        (2, "b", 2, "d", at(190)),
        (3, "c", 3, "c", None),
        (4, "d", 4, "d", at(130)),
    ]


def test_truncate_marks_every_live_row_deleted_at_its_time(env: SoftEnv) -> None:
    env.tables()
    env.run()
    env.at(0, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    env.at(30, "DELETE FROM items WHERE id = 3")
    env.at(60, "TRUNCATE TABLE items")
    env.at(90, "INSERT INTO items VALUES (2, 'back', 5)")
    env.run()
    assert env.rows() == [
        (1, "a", 1, "d", at(60)),
        (2, "back", 5, "c", None),
        (3, "c", 3, "d", at(30)),  # deleted before: keeps its own time
    ]


def test_full_sync_marks_the_rows_gone_from_the_source_at_the_extracts_read_time(env: SoftEnv) -> None:
    env.tables("full_sync")
    env.at(0, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    env.sync()
    env.at(10, "DELETE FROM items WHERE id = 2", "UPDATE items SET qty = 9 WHERE id = 1")
    before = datetime.now(UTC)
    env.sync()
    after = datetime.now(UTC)
    rows = env.rows()
    assert [r[:4] for r in rows] == [(1, "a", 9, "r"), (2, "b", 2, "d")]
    assert rows[0][4] is None and before <= rows[1][4] <= after
    env.sync()  # still gone: the mark keeps its first time
    assert env.rows() == rows
    env.at(20, "INSERT INTO items VALUES (2, 'b', 3)")
    env.sync()
    assert env.rows() == [(1, "a", 9, "r", None), (2, "b", 3, "r", None)]


def test_a_snapshot_marks_the_rows_it_did_not_see_at_its_read_time(env: SoftEnv) -> None:
    env.tables()
    env.run()
    env.at(0, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    env.run()
    env.unlogged("DELETE FROM items WHERE id = 1")
    before = datetime.now(UTC)
    env.snapshot()
    after = datetime.now(UTC)
    rows = env.rows()
    assert [r[:4] for r in rows] == [(1, "a", 1, "d"), (2, "b", 2, "r")]
    assert before <= rows[0][4] <= after and rows[1][4] is None


def test_a_replay_from_an_old_checkpoint_changes_nothing(env: SoftEnv) -> None:
    env.tables()
    env.run()
    env.at(0, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    env.run()
    store = open_store(env.settings)
    key = checkpoint_key(store.prefix, env.db, env.schema)
    old = store.get(key)
    assert old is not None
    env.at(60, "DELETE FROM items WHERE id = 1")
    env.at(70, "DELETE FROM items WHERE id = 2")
    env.at(80, "INSERT INTO items VALUES (2, 'b2', 3)")
    env.run()
    expected = [(1, "a", 1, "d", at(60)), (2, "b2", 3, "c", None)]
    assert env.rows() == expected
    store.put(key, old)  # a crash after the objects were written, before the checkpoint: the range replays
    env.run()
    assert env.rows() == expected


def test_soft_deletes_turned_on_add_the_column_and_turned_off_keep_the_marks(env: SoftEnv) -> None:
    env.tables(soft=False)
    env.run()
    env.at(0, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    env.run()
    with pytest.raises(Exception, match="_s3rb_deleted_at"):
        env.rows()  # hard deletes: no such column
    env.tables()
    env.at(60, "DELETE FROM items WHERE id = 1")
    env.run()
    assert env.rows() == [(1, "a", 1, "d", at(60)), (2, "b", 2, "c", None), (3, "c", 3, "c", None)]
    env.tables(soft=False)
    env.at(120, "DELETE FROM items WHERE id = 2")
    env.at(130, "INSERT INTO items VALUES (1, 'again', 4)")
    env.run()
    assert env.rows() == [(1, "again", 4, "c", None), (3, "c", 3, "c", None)]
