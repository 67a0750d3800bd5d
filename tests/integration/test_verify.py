"""``verify`` on a real MariaDB and both targets: equal when equal, every kind of divergence found
with its key and repaired, and nothing reported while writers write at full speed."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from s3rb_stream.cli import main
from s3rb_stream.commands.verify import verify
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.verify import TableReport
from s3rb_stream.errors import ConfigError
from s3rb_stream.metrics import REGISTRY
from s3rb_stream.pipeline.runner import run
from s3rb_stream.pipeline.types import StopFlag
from s3rb_stream.pipeline.verify import TargetBehind, VerifyResult
from s3rb_stream.settings import Settings
from s3rb_stream.state.repairs import hold_repair, release_repair
from s3rb_stream.store import open_store
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import source_rows
from tests.integration.test_redshift_end_to_end import query_target, settings_for_target
from tests.integration.test_repair_snapshot import target_sql

_n = itertools.count(1)

ORDERS = (
    "CREATE TABLE orders (id INT PRIMARY KEY, amount DECIMAL(10,2), note VARCHAR(40),"
    " created DATETIME(6), paid TIMESTAMP NULL, data VARBINARY(16))"
)
# A key that is not one integer: ranges by the key's hash; FLOAT digested here, not in the databases.
TAGS = "CREATE TABLE tags (name VARCHAR(20), n INT, score FLOAT, weight DOUBLE, PRIMARY KEY (name, n))"


@dataclass
class Env:
    settings: Settings
    port: int | None
    db: str
    schema: str
    server: MariaDBServer

    def verify(self, *tables: str, repair: bool = False) -> VerifyResult:
        return verify(self.settings, self.db, self.schema, tables, repair=repair, wait_seconds=30)

    def run(self) -> Any:
        return run(self.settings, self.db, self.schema, until_caught_up=True)

    def target(self, statement: str) -> None:
        target_sql(self.settings, self.port, statement.format(t=f'"{self.schema}"'))

    def target_rows(self, table: str, columns: str, order: str) -> list[tuple[Any, ...]]:
        return query_target(self.settings, self.port, self.schema, table, columns, order)


def order_row(i: int) -> str:
    return (
        f"({i}, {i * 1.25:.2f}, 'note {i} ünïcödé', '2026-01-02 03:04:05.{i:06d}', FROM_UNIXTIME({1_700_000_000 + i}),"
        f" UNHEX('{i:04x}cafe'))"
    )


@pytest.fixture(params=["duckdb", "redshift"])
def env(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Env:
    return make_env(request, mariadb, tmp_path)


@pytest.fixture
def duckdb_env(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Env:
    """For what does not depend on the target (the command line)."""
    return make_env(SimpleNamespace(param="duckdb"), mariadb, tmp_path)


def make_env(request: Any, mariadb: MariaDBServer, tmp_path: Path) -> Env:
    n = next(_n)
    db, schema = f"verify{n}", f"verify_target{n}"
    tables = tmp_path / "tables.yml"
    tables.write_text(f'tables:\n  - name: "{db}.orders"\n  - name: "{db}.tags"\n')
    settings, port = settings_for_target(request, mariadb, tmp_path, tables, f"verify-{n}")
    mariadb.execute(f"CREATE DATABASE {db}")
    mariadb.execute(
        ORDERS,
        TAGS,
        "INSERT INTO orders VALUES " + ", ".join(order_row(i) for i in range(1, 601)),
        "INSERT INTO tags VALUES " + ", ".join(f"('tag{i % 37}', {i}, {i / 7}, {i / 3!r})" for i in range(1, 301)),
        database=db,
    )
    environment = Env(settings, port, db, schema, mariadb)
    environment.run()
    return environment


def report(result: VerifyResult, table: str) -> TableReport:
    return next(t for t in result.tables if t.table == table)


def kinds(found: TableReport) -> dict[str, list[tuple[tuple[str | None, ...], tuple[str, ...]]]]:
    return {k: [(d.key, d.columns) for d in v] for k, v in found.by_kind().items() if v}


def test_equal_tables_verify_equal_by_ranges_not_rows(env: Env) -> None:
    result = env.verify()
    assert result.equal, [t.lines() for t in result.tables]
    orders = report(result, "orders")
    assert (orders.rows_source, orders.rows_target) == (600, 600)
    assert orders.rows_compared == 0  # equal ranges are never read row by row
    assert orders.ranges >= 1 and orders.bytes_source < 600 * 10  # a few bytes per range, not per row
    tags = report(result, "tags")
    assert (tags.rows_source, tags.rows_target) == (300, 300)


def test_every_kind_of_divergence_is_found_with_its_key_then_repaired(env: Env, mariadb: MariaDBServer) -> None:
    env.target("UPDATE {t}.orders SET amount = 99.99 WHERE id = 7")  # changed in the target
    env.target("DELETE FROM {t}.orders WHERE id = 8")  # deleted in the target
    env.target(  # an extra row, as a stray load would leave it
        "INSERT INTO {t}.orders (id, amount, note, _s3rb_seq, _s3rb_op, _s3rb_source_ts)"
        " VALUES (9001, 1.00, 'stray', 1, 'i', TIMESTAMP '2026-01-01 00:00:00')"
    )
    env.target("UPDATE {t}.orders SET note = 'note 9' WHERE id = 9")  # truncated in the target
    env.target("UPDATE {t}.tags SET score = 0.5 WHERE name = 'tag3' AND n = 3")  # a FLOAT, digested here
    conn = mariadb.connect(env.db)
    with conn.cursor() as cur:  # written where the binlog never sees it
        cur.execute("SET SESSION sql_log_bin = 0")
        cur.execute("UPDATE orders SET note = 'unlogged' WHERE id = 500")
        cur.execute("INSERT INTO orders VALUES " + order_row(700))
    conn.close()

    found = env.verify()
    assert not found.equal
    orders = kinds(report(found, "orders"))
    assert orders == {
        "missing": [(("8",), ()), (("700",), ())],
        "extra": [(("9001",), ())],
        "differs": [(("7",), ("amount",)), (("9",), ("note",)), (("500",), ("note",))],
    }
    assert kinds(report(found, "tags")) == {"differs": [(("tag3", "3"), ("score",))]}

    repaired = env.verify(repair=True)
    assert repaired.equal, [t.lines() for t in repaired.tables]
    assert report(repaired, "orders").repaired == 6
    assert env.verify().equal  # a second verify is clean
    assert env.run().loaded.rows == 0  # and a third run of the pipeline changes nothing
    assert env.verify().equal
    columns = "id, amount, note, created"
    assert env.target_rows("orders", columns, "id") == [r[:4] for r in source_rows(env.server, env.db, "orders")], (
        "the target equals the source"
    )


def test_a_newer_binlog_change_wins_over_a_repair(env: Env) -> None:
    env.target("UPDATE {t}.orders SET note = 'wrong' WHERE id = 3")
    assert kinds(report(env.verify("orders"), "orders")) == {"differs": [(("3",), ("note",))]}
    env.verify("orders", repair=True)
    env.server.execute("UPDATE orders SET note = 'later' WHERE id = 3", database=env.db)
    env.run()
    assert env.target_rows("orders", "note", "id")[2] == ("later",)
    assert env.verify("orders").equal


def test_the_cli_reports_json_and_exits_1_when_the_target_differs(duckdb_env: Env, tmp_path: Path) -> None:
    env = duckdb_env
    env.target("DELETE FROM {t}.orders WHERE id = 11")
    out = tmp_path / "report.json"
    args = ["verify", "--source-db", env.db, "--target-schema", env.schema, "-t", "orders", "--report", str(out)]
    cli_env = {
        "S3RB_MYSQL_URL": env.settings.mysql_url.get_secret_value() if env.settings.mysql_url else "",
        "S3RB_STORE_URL": env.settings.store_url,
        "S3RB_WAREHOUSE_URL": env.settings.warehouse_url.get_secret_value(),
        "S3RB_TABLES_FILE": str(env.settings.tables_file),
    }
    result = CliRunner().invoke(main, args, env=cli_env)
    assert result.exit_code == 1, result.output
    assert "missing in the target: 1" in result.output and "id=11" in result.output
    document = json.loads(out.read_text())
    assert document["equal"] is False
    assert document["tables"][0]["differences"]["missing"] == {
        "count": 1,
        "first": [{"key": {"id": "11"}, "columns": []}],
    }
    fixed = CliRunner().invoke(main, [*args, "--repair"], env=cli_env)
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(out.read_text())["equal"] is True


def test_nothing_is_reported_while_writers_write_at_full_speed(env: Env) -> None:
    """Inserts, updates, deletes and key changes during the verify, the daemon loading them: a
    difference that exists only because a change is in flight is never reported."""
    stop, writing = StopFlag(), threading.Event()
    writing.set()
    # Small batches and frequent loads: each round waits until the target holds its position.
    env.settings = env.settings.model_copy(update={"batch_max_age_seconds": 0.5, "load_interval_seconds": 0.5})
    daemon = threading.Thread(target=run, args=(env.settings, env.db, env.schema), kwargs={"stop": stop})
    daemon.start()

    def write() -> None:
        rng = random.Random(7)
        conn = env.server.connect(env.db)
        next_id = 10_000
        with conn.cursor() as cur:
            while writing.is_set():
                i = rng.randrange(1, 600)
                choice = rng.random()
                if choice < 0.3:
                    cur.execute("INSERT INTO orders VALUES " + order_row(next_id))
                    next_id += 1
                elif choice < 0.6:
                    cur.execute(f"UPDATE orders SET note = 'w{rng.random()}', amount = amount + 1 WHERE id = {i}")
                elif choice < 0.75:
                    cur.execute(f"DELETE FROM orders WHERE id = {i}")
                elif choice < 0.9:  # a key change
                    cur.execute(f"UPDATE orders SET id = {next_id} WHERE id = {i}")
                    next_id += 1
                else:
                    cur.execute(f"UPDATE tags SET score = {rng.random()} WHERE n = {rng.randrange(1, 300)}")
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        exercised = 0
        for attempt in range(3):
            result = env.verify()
            assert result.equal, (attempt, [t.lines() for t in result.tables])
            orders = report(result, "orders")
            print(attempt, orders.rows_source, orders.in_flight, orders.rounds, orders.rows_compared)
            exercised += orders.in_flight + orders.rounds
        assert exercised > 0, "the writers put changes in flight during the verifies"
    finally:
        writing.clear()
        writer.join()
        stop.stopping = True
        daemon.join(60)
    env.run()
    assert env.verify().equal


@pytest.fixture(params=["duckdb", "redshift"])
def kept_env(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Env:
    """An SCD2 table and an append table, each with a history of updates and deletes."""
    n = next(_n)
    db, schema = f"kept{n}", f"kept_target{n}"
    tables = tmp_path / "tables.yml"
    tables.write_text(f'tables:\n  - name: "{db}.people"\n    mode: scd2\n  - name: "{db}.events"\n    mode: append\n')
    settings, port = settings_for_target(request, mariadb, tmp_path, tables, f"kept-{n}")
    mariadb.execute(f"CREATE DATABASE {db}")
    mariadb.execute(
        "CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(20), city VARCHAR(20))",
        "CREATE TABLE events (id INT PRIMARY KEY, kind VARCHAR(10), n INT)",
        "INSERT INTO people VALUES " + ", ".join(f"({i}, 'p{i}', 'c{i}')" for i in range(1, 101)),
        "INSERT INTO events VALUES " + ", ".join(f"({i}, 'k{i % 3}', {i})" for i in range(1, 101)),
        database=db,
    )
    environment = Env(settings, port, db, schema, mariadb)
    environment.run()
    mariadb.execute(
        "UPDATE people SET city = 'moved' WHERE id <= 10",  # new versions
        "DELETE FROM people WHERE id = 20",  # its current version closed
        "UPDATE events SET n = n + 1000 WHERE id <= 10",  # more changes kept
        "DELETE FROM events WHERE id = 20",
        database=db,
    )
    environment.run()
    return environment


def test_scd2_tables_verify_on_current_versions_and_append_tables_on_their_newest_changes(kept_env: Env) -> None:
    env = kept_env
    result = env.verify()
    assert result.equal, [t.lines() for t in result.tables]
    assert (report(result, "people").rows_target, report(result, "events").rows_target) == (99, 99)

    env.target("UPDATE {t}.people SET city = 'wrong' WHERE id = 5 AND is_current")
    env.target("DELETE FROM {t}.events WHERE id = 7 AND n = 1007")  # the newest change lost: the older shows
    found = env.verify()
    assert kinds(report(found, "people")) == {"differs": [(("5",), ("city",))]}
    assert kinds(report(found, "events")) == {"differs": [(("7",), ("n",))]}

    repaired = env.verify(repair=True)
    assert report(repaired, "people").differences == []  # a new current version, from the source
    events = report(repaired, "events")
    assert kinds(events) == {"differs": [(("7",), ("n",))]} and "mode append" in events.not_repaired
    assert not repaired.equal


def test_hybrid_tables_leave_out_rows_not_yet_synced_and_full_sync_tables_say_why(file_pipeline: Any) -> None:
    pipeline = file_pipeline
    pipeline.tables(
        'tables:\n  - name: "{db}.leads"\n    cdc_strategy: hybrid\n'
        "    cdc_timestamp_column: modified_time\n    cdc_id_column: lead_id\n    cdc_lookback: 60\n"
        '  - name: "{db}.products"\n    cdc_strategy: full_sync\n'
    )
    pipeline.sql(
        "CREATE TABLE leads (lead_id INT PRIMARY KEY, name VARCHAR(40), modified_time DATETIME(6) NOT NULL)",
        "CREATE TABLE products (sku VARCHAR(20) PRIMARY KEY, price DECIMAL(10,2))",
        # The last two a day later: the others are out of the look-back window of the last sync.
        "INSERT INTO leads VALUES "
        + ", ".join(f"({i}, 'lead {i}', '2026-01-0{1 + i // 49} 00:00:00')" for i in range(1, 51)),
        "INSERT INTO products VALUES ('a', 1.00)",
    )
    pipeline.sync()

    def check() -> TableReport:
        result = verify(pipeline.settings, pipeline.source_db, pipeline.target_schema, wait_seconds=30)
        products = report(result, "products")
        assert "full_sync" in products.skipped and products.differences == []
        return report(result, "leads")

    assert check().differences == [] and check().rows_source == 50
    pipeline.sql(
        "UPDATE leads SET name = 'moved on', modified_time = NOW(6) WHERE lead_id = 3",  # the next sync reads it
        "DELETE FROM leads WHERE lead_id = 4",  # hybrid cannot see a delete: the row stays, by design
    )
    leads = check()
    assert (leads.differences, leads.in_flight, leads.kept_deleted) == ([], 1, 1)
    pipeline.sql("UPDATE leads SET name = 'unseen' WHERE lead_id = 5")  # the timestamp not moved: never synced
    pipeline.target_query(f'DELETE FROM "{pipeline.target_schema}"."leads" WHERE lead_id = 6')
    assert kinds(check()) == {"missing": [(("6",), ())], "differs": [(("5",), ("name",))]}
    repaired = verify(pipeline.settings, pipeline.source_db, pipeline.target_schema, ["leads"], repair=True)
    assert "cdc_strategy hybrid" in report(repaired, "leads").not_repaired and not repaired.equal


def test_the_daemon_verifies_a_sample_of_each_table_on_its_interval(duckdb_env: Env) -> None:
    """S3RB_VERIFY_INTERVAL_HOURS: drift is found without anyone asking, in the metrics and the log."""
    env = duckdb_env
    env.target("UPDATE {t}.orders SET note = 'drift' WHERE id = 42")
    env.settings = env.settings.model_copy(update={"verify_interval_hours": 1 / 3600})  # every second
    stop = StopFlag()
    daemon = threading.Thread(target=run, args=(env.settings, env.db, env.schema), kwargs={"stop": stop})
    daemon.start()
    labels = {"source_db": env.db, "target_schema": env.schema, "table": "orders"}
    try:
        deadline, found = time.monotonic() + 60, None
        while time.monotonic() < deadline and not found:
            time.sleep(0.5)
            found = REGISTRY.get_sample_value("s3rb_verify_differences", {**labels, "kind": "differs"})
        assert found == 1
        assert REGISTRY.get_sample_value("s3rb_verify_differences", {**labels, "kind": "missing"}) == 0
        assert (REGISTRY.get_sample_value("s3rb_verify_rows_checked_total", labels) or 0) >= 600
    finally:
        stop.stopping = True
        daemon.join(60)
    assert not daemon.is_alive()


def test_a_repair_hold_holds_the_tables_loads_until_it_goes_or_grows_old(file_pipeline: Any) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql("CREATE TABLE items (id INT PRIMARY KEY)", "INSERT INTO items VALUES (1), (2)")
    store = open_store(pipeline.settings)
    hold_repair(store, pipeline.source_db, pipeline.target_schema, "items", now_utc())
    held = pipeline.run()
    assert "items" in held.loaded.held_back and held.loaded.rows == 0
    # A repair that died while it held the loads: ten minutes on, they go on.
    hold_repair(store, pipeline.source_db, pipeline.target_schema, "items", now_utc() - timedelta(minutes=11))
    assert pipeline.run().loaded.rows == 2
    release_repair(store, pipeline.source_db, pipeline.target_schema, "items")
    assert pipeline.target_rows("items") == [(1,), (2,)]


def test_verify_says_what_is_wrong_before_any_run_and_for_an_unknown_table(file_pipeline: Any) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql("CREATE TABLE items (id INT PRIMARY KEY)", "INSERT INTO items VALUES (1)")
    with pytest.raises(TargetBehind, match=r"nothing of \w+ has been captured") as behind:  # at once, no wait
        verify(pipeline.settings, pipeline.source_db, pipeline.target_schema, wait_seconds=60)
    assert "run the pipeline first" in (behind.value.hint or "")
    with pytest.raises(ConfigError, match=r"table\(s\) nope are not in the tables file"):
        verify(pipeline.settings, pipeline.source_db, pipeline.target_schema, ["nope"])
    pipeline.run()
    assert verify(pipeline.settings, pipeline.source_db, pipeline.target_schema).equal
