"""Schema history: binlog written under older table definitions than the server has now is decoded
by each row's own table map, and the ALTERs are replayed in order, into DuckDB and the Redshift
emulator, whether capture starts at the oldest binlog, at a checkpoint older than every ALTER, or
at a snapshot taken between them."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from s3rb_stream import metrics
from s3rb_stream.cli import EXIT_QUARANTINED, main
from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.core.object_keys import checkpoint_key
from s3rb_stream.core.quarantine import Quarantine
from s3rb_stream.pipeline.runner import prepare, run
from s3rb_stream.settings import Settings
from s3rb_stream.sources.mysql_meta import current_position
from s3rb_stream.state.quarantines import save_quarantine
from s3rb_stream.store import open_store
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import Pipeline, source_columns, source_rows
from tests.integration.test_redshift_end_to_end import admin_connection, query_target, settings_for_target

_n = itertools.count()

BEFORE = [
    "CREATE TABLE customer (id INT PRIMARY KEY, name VARCHAR(20), note VARCHAR(10), legacy INT)",
    "CREATE TABLE other (id INT PRIMARY KEY, v VARCHAR(10))",
    "INSERT INTO customer VALUES (1, 'ann', 'a', 10), (2, 'bob', 'b', 20), (3, 'cy', NULL, 30)",
    "INSERT INTO other VALUES (1, 'x')",
]
ALTERS = [
    ("ALTER TABLE customer ADD COLUMN loyalty_tier VARCHAR(10) DEFAULT 'bronze'",
     "INSERT INTO customer (id, name, loyalty_tier) VALUES (4, 'dee', 'gold'), (5, 'eve', NULL)",
     "UPDATE customer SET name = 'ann b' WHERE id = 1"),
    ("ALTER TABLE customer ADD COLUMN mid INT DEFAULT 7 AFTER id",
     "INSERT INTO customer (id, mid, name) VALUES (6, NULL, 'fay')",
     "UPDATE customer SET note = 'bb' WHERE id = 2"),
    ("ALTER TABLE customer RENAME COLUMN name TO full_name",
     "INSERT INTO customer (id, full_name) VALUES (7, 'gus')",
     "UPDATE customer SET full_name = 'cy c' WHERE id = 3"),
    ("ALTER TABLE customer MODIFY note VARCHAR(40)",
     "INSERT INTO customer (id, full_name, note) VALUES (8, 'hal', 'a note longer than ten')",
     "INSERT INTO other VALUES (2, 'y')"),
    ("ALTER TABLE customer DROP COLUMN legacy",
     "INSERT INTO customer (id, full_name) VALUES (9, 'ida')",
     "DELETE FROM customer WHERE id = 4"),
]  # fmt: skip


class History:
    """A source database, and a target (DuckDB or the Redshift emulator) it is captured into."""

    def __init__(self, mariadb: MariaDBServer, settings: Settings, port: int | None) -> None:
        self.mariadb, self.settings, self.port = mariadb, settings, port
        n = next(_n)
        self.db, self.schema = f"hist{n}_{'rs' if port else 'duck'}", f"history{n}"
        mariadb.execute(f"CREATE DATABASE {self.db}")
        self.capture("customer", "other")

    def capture(self, *tables: str) -> None:
        """Write the tables file: these tables of the source database."""
        self.tables = tables
        entries = "".join(f'  - name: "{self.db}.{t}"\n' for t in tables)
        Path(self.settings.tables_file).write_text(f"tables:\n{entries}")

    def sql(self, *statements: str) -> None:
        self.mariadb.execute(*statements, database=self.db)

    def run(self) -> Any:
        return run(self.settings, self.db, self.schema, until_caught_up=True)

    def assert_mirrored(self) -> None:
        for table in self.tables:
            columns = ", ".join(f'"{name}"' for name, _ in source_columns(self.mariadb, self.db, table))
            target = query_target(self.settings, self.port, self.schema, table, columns, "id")
            assert target == source_rows(self.mariadb, self.db, table), table


@pytest.fixture(params=["duckdb", "redshift"])
def history(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> History:
    settings, port = settings_for_target(request, mariadb, tmp_path, tmp_path / "tables.yml", f"hist-{next(_n)}")
    return History(mariadb, settings, port)


def alter_all(history: History, alters: Sequence[tuple[str, ...]] = ALTERS) -> None:
    for statements in alters:
        history.sql(*statements)


def test_from_the_oldest_binlog(history: History) -> None:
    history.sql(*BEFORE)
    alter_all(history)
    result = history.run()  # no checkpoint: from the oldest binlog, through every ALTER
    assert result.changes > 0
    history.assert_mirrored()
    # Rows from before the ADD got its default; rows after keep theirs, an explicit NULL too.
    tiers = query_target(history.settings, history.port, history.schema, "customer", "id, loyalty_tier, mid", "id")
    assert tiers[:4] == [(1, "bronze", 7), (2, "bronze", 7), (3, "bronze", 7), (5, None, 7)]
    assert tiers[4] == (6, "bronze", None)
    assert prepare(history.settings, history.db, history.schema, "earliest").warnings == []


def test_from_a_checkpoint_older_than_every_alter(history: History) -> None:
    history.sql(*BEFORE)
    history.run()
    history.assert_mirrored()
    alter_all(history)
    history.run()
    history.assert_mirrored()
    history.sql("INSERT INTO customer (id, full_name) VALUES (10, 'jo')")  # and on, as defined now
    history.run()
    history.assert_mirrored()


def test_from_a_snapshot_taken_between_the_alters(history: History) -> None:
    history.sql(*BEFORE)
    alter_all(history, ALTERS[:2])
    snapshot(history.settings, history.db, history.schema, ("customer", "other"))
    alter_all(history, ALTERS[2:])
    history.run()
    history.assert_mirrored()


# A column the server no longer has by its old name is described from the table map ("int"),
# the renamed one from information_schema ("int(11)" on MariaDB): the same type.
PEOPLE = [
    "CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(20), age INT, note TEXT)",
    "INSERT INTO people VALUES (1, 'al', 30, 'n1'), (2, 'bo', 41, NULL)",
]
PEOPLE_ALTERS = [
    ("ALTER TABLE people ADD COLUMN tier VARCHAR(10) DEFAULT 'bronze'",
     "INSERT INTO people (id, name, age, note, tier) VALUES (3, 'cy', 52, 'n3', 'gold')",
     "UPDATE people SET age = 31 WHERE id = 1"),
    ("ALTER TABLE people ADD COLUMN city VARCHAR(30) AFTER name",
     "INSERT INTO people (id, name, city, age) VALUES (4, 'di', 'Oslo', 23)",
     "UPDATE people SET note = 'n2' WHERE id = 2"),
    ("ALTER TABLE people RENAME COLUMN age TO years",
     "INSERT INTO people (id, name, years) VALUES (5, 'ed', 60)",
     "UPDATE people SET years = years + 1 WHERE id = 3"),
    ("ALTER TABLE people MODIFY name VARCHAR(200)",
     "INSERT INTO people (id, name, years) VALUES (6, 'a name longer than twenty characters', 7)"),
    ("ALTER TABLE people DROP COLUMN note",
     "INSERT INTO people (id, name, years, city) VALUES (7, 'fay', 19, 'Rome')",
     "DELETE FROM people WHERE id = 2"),
]  # fmt: skip


def test_a_rename_replayed_from_the_oldest_binlog_is_not_a_type_change(history: History) -> None:
    history.capture("people")
    history.sql(*PEOPLE)
    alter_all(history, PEOPLE_ALTERS)
    history.run()
    assert prepare(history.settings, history.db, history.schema, "earliest").warnings == []  # nothing quarantined
    history.assert_mirrored()
    years = query_target(history.settings, history.port, history.schema, "people", "id, years, tier", "id")
    assert years == [(1, 31, "bronze"), (3, 53, "gold"), (4, 23, "bronze"), (5, 60, "bronze"), (6, 7, "bronze"),
                     (7, 19, "bronze")]  # fmt: skip


def test_a_rename_replayed_from_a_snapshot_taken_between_the_alters(history: History) -> None:
    history.capture("people")
    history.sql(*PEOPLE)
    alter_all(history, PEOPLE_ALTERS[:2])
    snapshot(history.settings, history.db, history.schema, ("people",))
    alter_all(history, PEOPLE_ALTERS[2:])
    history.run()
    assert prepare(history.settings, history.db, history.schema, "earliest").warnings == []
    history.assert_mirrored()


def test_an_alter_that_cannot_be_followed_quarantines_only_its_table(history: History) -> None:
    history.sql(*BEFORE)
    alter_all(history, ALTERS[:2])
    history.sql(
        "ALTER TABLE customer MODIFY legacy SMALLINT",  # narrower: the source may have cut values
        "INSERT INTO customer (id, name, legacy) VALUES (20, 'small', 5000)",
        "INSERT INTO other VALUES (3, 'z')",
    )
    history.run()
    columns = ", ".join(f'"{name}"' for name, _ in source_columns(history.mariadb, history.db, "other"))
    assert query_target(history.settings, history.port, history.schema, "other", columns, "id") == source_rows(
        history.mariadb, history.db, "other"
    )
    (warning,) = prepare(history.settings, history.db, history.schema, "earliest").warnings
    assert "table customer is quarantined" in warning
    assert re.search(r"column legacy changed type from int(\(11\))? to smallint\(6\)", warning), warning
    assert f"drop the target table {history.schema}.customer in the warehouse" in warning
    assert f"snapshot --source-db {history.db} --target-schema {history.schema} -t customer --restart" in warning


WIDE = [
    "CREATE TABLE wide (id INT PRIMARY KEY, i INT, u INT UNSIGNED, d DECIMAL(10,2), w DECIMAL(36,2), f FLOAT,"
    " t DATETIME, c CHAR(5))",
    "INSERT INTO wide VALUES (1, -2147483648, 4294967295, -12345678.91, 12.50, 1.5, '2026-01-02 03:04:05', 'abc'),"
    " (2, 7, 0, 0.5, -3, -2.25, NULL, NULL)",
]
WIDENED = (
    "ALTER TABLE wide MODIFY id BIGINT, MODIFY i BIGINT, MODIFY u BIGINT, MODIFY d DECIMAL(14,4),"
    " MODIFY w DECIMAL(40,2), MODIFY f DOUBLE, MODIFY t DATETIME(6), MODIFY c VARCHAR(20)",
    "INSERT INTO wide VALUES (5000000000, 9000000000, -1, 1234567890.1234, 12345678901234567890123456789012345678.99,"
    " 0.1, '2026-01-02 03:04:05.123456', 'a longer text')",
    "UPDATE wide SET i = 3000000000, d = 0.0001, w = w + 1 WHERE id = 2",
)


def test_lossless_widenings_are_followed_from_the_oldest_binlog(history: History) -> None:
    """An INT key made BIGINT when its ids run out, and every other lossless widening: followed,
    the target's columns widened when the first batch of the wider definition loads."""
    history.capture("wide")
    history.sql(*WIDE, *WIDENED)
    history.run()
    assert prepare(history.settings, history.db, history.schema, "earliest").warnings == []
    history.assert_mirrored()


def test_lossless_widenings_are_followed_after_the_narrower_rows_were_loaded(history: History) -> None:
    history.capture("wide")
    history.sql(*WIDE)
    history.run()
    history.assert_mirrored()
    history.sql(*WIDENED)
    history.run()
    assert prepare(history.settings, history.db, history.schema, "earliest").warnings == []
    history.assert_mirrored()
    history.sql("INSERT INTO wide (id, i) VALUES (6000000000, -9000000000)")  # and on, as defined now
    history.run()
    history.assert_mirrored()


def test_a_batch_run_that_ends_with_a_quarantine_exits_3_names_it_and_status_and_metrics_show_it(
    file_pipeline: Pipeline,
) -> None:
    p = file_pipeline
    p.tables('tables:\n  - name: "{db}.customer"\n  - name: "{db}.other"\n')
    p.sql(*BEFORE)
    p.run()
    time.sleep(1.1)  # binlog times are whole seconds: the next changes are a second newer
    p.sql(
        "ALTER TABLE customer MODIFY note VARCHAR(5)",  # shorter: the source may have cut values
        "INSERT INTO customer (id, note) VALUES (20, 'short')",
        "INSERT INTO other VALUES (3, 'z')",
    )
    args = ["run", "--source-db", p.source_db, "--target-schema", p.target_schema, "--until-caught-up"]
    result = CliRunner().invoke(main, args, env=p.cli_env())
    assert result.exit_code == EXIT_QUARANTINED, result.output
    assert result.stderr.strip().splitlines()[-1] == f"quarantined, not captured: {p.source_db}.customer"
    assert "column note changed type from varchar(10) to varchar(5)" in result.stderr
    assert p.target_rows("other") == p.source_rows("other")  # the other table went on

    body = metrics.render().decode()
    labels = f'source_db="{p.source_db}",table="{{}}",target_schema="{p.target_schema}"'
    assert f"s3rb_quarantined_tables{{{labels.format('customer')}}} 1.0" in body

    def complete_until(table: str) -> float:
        found = re.search(
            rf"^s3rb_target_complete_timestamp_seconds\{{{re.escape(labels.format(table))}\}} (\S+)$", body, re.M
        )
        assert found is not None, body
        return float(found.group(1))

    assert complete_until("customer") < complete_until("other")  # a quarantined table is not complete
    status = CliRunner().invoke(main, ["status"], env=p.cli_env())
    assert re.search(r"customer .*QUARANTINED: .*changed type from varchar\(10\) to varchar\(5\)", status.output), (
        status.output
    )

    again = CliRunner().invoke(main, args, env=p.cli_env())  # still quarantined: still said
    assert again.exit_code == EXIT_QUARANTINED
    p.snapshot("customer", restart=True)
    fixed = CliRunner().invoke(main, args, env=p.cli_env())
    assert fixed.exit_code == 0, fixed.output
    assert p.target_rows("customer") == p.source_rows("customer")
    assert f"s3rb_quarantined_tables{{{labels.format('customer')}}} 0.0" in metrics.render().decode()


def test_a_tampered_checkpoint_definition_is_refused_before_anything_runs(file_pipeline: Pipeline) -> None:
    p = file_pipeline
    p.tables('tables:\n  - name: "{db}.customer"\n')
    p.sql(BEFORE[0], BEFORE[2])
    p.run()
    store = open_store(p.settings)
    key = checkpoint_key(store.prefix, p.source_db, p.target_schema)
    raw = json.loads(store.get(key) or b"{}")
    definition = json.loads(raw["definitions"]["customer"])
    definition["columns"][1]["char_length"] = "20, b''); open('/tmp/s3rb-owned', 'w'); (0"  # code, not a length
    raw["definitions"]["customer"] = json.dumps(definition)
    store.put(key, json.dumps(raw).encode())
    p.sql("INSERT INTO customer VALUES (9, 'x', 'y', 1)")

    args = ["run", "--source-db", p.source_db, "--target-schema", p.target_schema, "--until-caught-up"]
    result = CliRunner().invoke(main, args, env=p.cli_env())
    assert result.exit_code == 2
    assert "the checkpoint's definition of customer is not a valid table definition" in result.stderr
    assert "columns.1.char_length" in result.stderr
    assert not Path("/tmp/s3rb-owned").exists()


def drop_target_table(history: History, table: str) -> None:
    """What the advice says to do with the target table: drop it in the warehouse."""
    statement = f'DROP TABLE "{history.schema}"."{table}"'
    if history.port is not None:
        conn = admin_connection(history.port)
        try:
            conn.cursor().execute(statement)
        finally:
            conn.close()
        return
    from s3rb_stream.targets.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(history.settings.warehouse().path)
    try:
        wh.query(statement)
    finally:
        wh.close()


@pytest.mark.parametrize("change", ["MODIFY v SMALLINT", "MODIFY v VARCHAR(12)", "MODIFY v INT UNSIGNED"])
def test_a_type_change_not_followed_says_what_to_do_and_doing_it_mirrors_the_source(
    history: History, change: str
) -> None:
    history.capture("n")
    history.sql("CREATE TABLE n (id INT PRIMARY KEY, v INT)", "INSERT INTO n VALUES (1, 10), (2, 20)")
    history.run()
    history.sql(f"ALTER TABLE n {change}", "INSERT INTO n VALUES (3, 30)", "UPDATE n SET v = 21 WHERE id = 2")
    history.run()
    (warning,) = prepare(history.settings, history.db, history.schema, "earliest").warnings
    assert "which is not a lossless widening" in warning
    steps = (
        f"drop the target table {history.schema}.n in the warehouse (or alter its column v to the new type)",
        f"s3rb-stream snapshot --source-db {history.db} --target-schema {history.schema} -t n --restart",
    )
    assert all(step in warning for step in steps), warning

    drop_target_table(history, "n")
    snapshot(history.settings, history.db, history.schema, ("n",), restart=True)
    history.sql("INSERT INTO n VALUES (4, 40)")
    history.run()
    assert prepare(history.settings, history.db, history.schema, "earliest").warnings == []
    history.assert_mirrored()


def test_a_snapshot_restart_widens_the_target_table_it_finds(history: History) -> None:
    """A table quarantined for a widening (by a release that did not follow them): its
    snapshot --restart widens the target column instead of failing on the wider values."""
    history.capture("n")
    history.sql("CREATE TABLE n (id INT PRIMARY KEY, v INT)", "INSERT INTO n VALUES (1, 10)")
    history.run()
    conn = history.mariadb.connect()
    at = current_position(conn)
    conn.close()
    store = open_store(history.settings)
    quarantine = Quarantine("n", "column v changed type from int(11) to bigint(20)", at)
    save_quarantine(store, history.db, history.schema, quarantine)
    history.sql("ALTER TABLE n MODIFY v BIGINT", "INSERT INTO n VALUES (2, 5000000000)")
    snapshot(history.settings, history.db, history.schema, ("n",), restart=True)
    history.run()
    assert prepare(history.settings, history.db, history.schema, "earliest").warnings == []
    history.assert_mirrored()
