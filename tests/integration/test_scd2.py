"""SCD Type 2 end to end, on DuckDB and on the Redshift emulator: from the binlog and from full_sync."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from s3rb_stream.commands.sync import sync
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.test_redshift_end_to_end import query_target, settings_for_target

_n = itertools.count(1)
CUSTOMERS = "CREATE TABLE customers (id INT PRIMARY KEY, tier VARCHAR(10), name VARCHAR(20), visits INT)"
T = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T + seconds, UTC)


@dataclass
class Scd2Env:
    server: MariaDBServer
    db: str
    schema: str
    settings: Settings
    redshift_port: int | None

    def tables(self, extra: str = "", strategy: str = "binlog") -> None:
        Path(self.settings.tables_file).write_text(
            f'tables:\n  - name: "{self.db}.customers"\n    mode: scd2\n    cdc_strategy: {strategy}\n'
            f"    scd2_tracked_columns: [tier, name]\n{extra}"
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

    def run(self) -> None:
        run(self.settings, self.db, self.schema, until_caught_up=True, start_position="current")

    def sync(self) -> None:
        sync(self.settings, self.db, self.schema)

    def history(self) -> list[tuple[Any, ...]]:
        cols = "id, tier, name, visits, valid_from, valid_to, is_current"
        rows = query_target(self.settings, self.redshift_port, self.schema, "customers", cols, "id, _s3rb_seq")
        return [(*r[:4], _utc(r[4]), _utc(r[5]), r[6]) for r in rows]


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


@pytest.fixture(params=["duckdb", "redshift"])
def env(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Iterator[Scd2Env]:
    n = next(_n)
    db, schema = f"scd{n}", f"dim{n}"
    mariadb.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.{CUSTOMERS.removeprefix('CREATE TABLE ')}")
    tables = tmp_path / "tables.yml"
    settings, port = settings_for_target(request, mariadb, tmp_path, tables, f"scd-{n}")
    yield Scd2Env(mariadb, db, schema, settings, port)


def test_binlog_changes_become_versions_at_their_commit_time(env: Scd2Env) -> None:
    env.tables()
    env.run()  # starts the checkpoint at the current position
    env.at(0, "INSERT INTO customers VALUES (1, 'silver', 'Ann', 0), (2, 'gold', 'Bob', 0)")
    # Three transactions for key 1 in one batch: each its own version; the states inside the
    # second transaction ('temp') are not versions.
    env.at(60, "UPDATE customers SET tier = 'gold' WHERE id = 1")
    env.at(
        60,
        "UPDATE customers SET tier = 'temp' WHERE id = 1",
        "UPDATE customers SET tier = 'platinum', name = 'Ann B' WHERE id = 1",
    )
    env.at(120, "UPDATE customers SET visits = 5 WHERE id = 1")  # untracked only: in place
    env.at(180, "DELETE FROM customers WHERE id = 2")
    env.run()
    env.at(240, "INSERT INTO customers VALUES (2, 'gold', 'Bob', 1)")  # re-inserted: a new version
    env.run()
    env.run()  # nothing new: nothing changes
    assert env.history() == [
        (1, "silver", "Ann", 0, at(0), at(60), False),
        (1, "gold", "Ann", 0, at(60), at(60), False),
        (1, "platinum", "Ann B", 5, at(60), None, True),
        (2, "gold", "Bob", 0, at(0), at(180), False),
        (2, "gold", "Bob", 1, at(240), None, True),
    ]


def test_untracked_changes_can_be_ignored(env: Scd2Env) -> None:
    env.tables("    scd2_untracked: ignore\n")
    env.run()
    env.at(0, "INSERT INTO customers VALUES (1, 'silver', 'Ann', 0)")
    env.at(30, "UPDATE customers SET visits = 9 WHERE id = 1")
    env.at(60, "UPDATE customers SET tier = NULL WHERE id = 1")  # a change to NULL is a change
    env.run()
    assert env.history() == [
        (1, "silver", "Ann", 0, at(0), at(60), False),
        (1, None, "Ann", 9, at(60), None, True),
    ]


def test_full_sync_compares_null_safely_expires_missing_keys_and_reopens_returning_ones(env: Scd2Env) -> None:
    env.tables(strategy="full_sync")
    env.at(0, "INSERT INTO customers VALUES (1, NULL, 'Ann', 0), (2, 'gold', 'Bob', 0), (3, 'gold', 'Cy', 0)")
    env.sync()
    env.at(10, "UPDATE customers SET tier = 'silver' WHERE id = 1", "DELETE FROM customers WHERE id = 2")
    env.at(10, "UPDATE customers SET visits = 3 WHERE id = 3")  # untracked only
    env.sync()
    env.sync()  # nothing changed at the source: nothing changes in the history
    env.at(20, "INSERT INTO customers VALUES (2, 'gold', 'Bob', 7)")
    env.sync()
    history = env.history()
    shape = [(r[0], r[1], r[3], r[5] is None, r[6]) for r in history]
    assert shape == [
        (1, None, 0, False, False),
        (1, "silver", 0, True, True),
        (2, "gold", 0, False, False),  # expired: missing from the second extract
        (2, "gold", 7, True, True),  # came back: a new version
        (3, "gold", 3, True, True),  # untracked change updated in place
    ]
    for older, newer in itertools.pairwise(r for r in history if r[0] == 1):
        assert older[5] == newer[4]  # no gap, no overlap
