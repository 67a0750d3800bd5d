"""DDL mid-stream, under concurrent writes. TRUNCATE and additive ALTERs are followed without
stopping. Any other change of a table's definition quarantines that table with the documented
error while the other tables go on, and a re-snapshot brings it back."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable

import pymysql
import pytest
from click.testing import CliRunner

from s3rb_stream.cli import main
from s3rb_stream.pipeline.runner import prepare, run
from s3rb_stream.pipeline.types import StopFlag
from s3rb_stream.state.lease import Lease
from s3rb_stream.store import open_store
from tests.integration.conftest import Pipeline

TABLES = 'tables:\n  - name: "{db}.orders"\n  - name: "{db}.other"\n'


def with_writes(pipeline: Pipeline, ddl: Callable[[], None]) -> int:
    """Insert into both tables from another connection while ``ddl`` runs; returns rows written."""
    done = threading.Event()
    written = 0

    def writer() -> None:
        nonlocal written
        conn = pipeline.server.connect(pipeline.source_db)
        with conn.cursor() as cur:
            while not done.is_set() or written < 100:
                written += 1
                cur.execute("INSERT INTO other VALUES (%s, 'w')", (written,))
                with contextlib.suppress(pymysql.err.MySQLError):  # the table may be gone (DROP) or changed
                    cur.execute("INSERT INTO orders (id, note) VALUES (%s, 'w')", (1000 + written,))
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written < 30:
            pass
        ddl()
    finally:
        done.set()
        thread.join()
    return written


def setup(pipeline: Pipeline) -> None:
    pipeline.tables(TABLES)
    pipeline.sql(
        "CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20))",
        "CREATE TABLE other (id INT PRIMARY KEY, note VARCHAR(20))",
        "INSERT INTO orders VALUES (1, 'first'), (2, 'second')",
    )
    pipeline.run()


def test_truncate_is_followed(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    setup(pipeline)
    with_writes(pipeline, lambda: pipeline.sql("TRUNCATE TABLE orders"))
    pipeline.sql("INSERT INTO orders VALUES (7, 'after')")
    pipeline.run()
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")
    assert (7, "after") in pipeline.target_rows("orders") and (1, "first") not in pipeline.target_rows("orders")
    assert pipeline.target_rows("other") == pipeline.source_rows("other")


@pytest.mark.parametrize(
    "ddl",
    [
        "ALTER TABLE orders ADD COLUMN qty INT NOT NULL DEFAULT 3",
        "ALTER TABLE orders ADD COLUMN tag VARCHAR(10) DEFAULT 'new', ADD COLUMN extra TEXT",
        "ALTER TABLE orders DROP COLUMN note",
        "ALTER TABLE orders MODIFY note VARCHAR(20) NOT NULL DEFAULT ''",
        "ALTER TABLE orders MODIFY note VARCHAR(200)",
        "ALTER TABLE orders RENAME COLUMN note TO remark",
        "ALTER TABLE orders CHANGE note remark VARCHAR(40)",
        "ALTER TABLE orders ADD INDEX by_note (note)",
    ],
)
def test_additive_alters_are_followed_without_stopping(file_pipeline: Pipeline, ddl: str) -> None:
    pipeline = file_pipeline
    setup(pipeline)
    with_writes(pipeline, lambda: pipeline.sql(ddl))
    pipeline.sql("UPDATE orders SET id = 6000 WHERE id = 1")
    result = pipeline.run()
    assert prepare(pipeline.settings, pipeline.source_db, pipeline.target_schema, "earliest").warnings == []
    assert result.changes > 0
    # Compared on the source's columns; a dropped column stays in the target besides.
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")
    assert pipeline.target_rows("other") == pipeline.source_rows("other")
    pipeline.sql("INSERT INTO orders (id) VALUES (7000)")  # and on, with the new definition
    pipeline.run()
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")


@pytest.mark.parametrize(
    "ddl",
    [
        "ALTER TABLE orders MODIFY note VARCHAR(10)",  # shorter: values could have been cut
        "ALTER TABLE orders ADD COLUMN at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP",
        "ALTER TABLE orders RENAME COLUMN note TO remark, ADD COLUMN note INT",
        "ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (id, note)",
    ],
)
def test_a_changed_definition_quarantines_the_table_and_a_resnapshot_brings_it_back(
    file_pipeline: Pipeline, ddl: str
) -> None:
    pipeline = file_pipeline
    setup(pipeline)
    with_writes(pipeline, lambda: pipeline.sql(ddl))
    pipeline.run()

    # The other table went on; the changed one stopped at the statement, and check says why and what to do.
    assert pipeline.target_rows("other") == pipeline.source_rows("other")
    prepared = prepare(pipeline.settings, pipeline.source_db, pipeline.target_schema, "earliest")
    assert [t.name for _, t in prepared.binlog_tables] == ["other"]
    (warning,) = prepared.warnings
    assert re.search(r"table orders is quarantined: (ALTER TABLE at|the table no longer exists)", warning), warning
    assert f"s3rb-stream snapshot --source-db {pipeline.source_db} --target-schema analytics -t orders --restart" in (
        warning
    )
    pipeline.sql("INSERT IGNORE INTO orders (id) VALUES (5000)", "INSERT INTO other VALUES (5000, 'later')")
    pipeline.run()
    assert pipeline.target_rows("other") == pipeline.source_rows("other")

    pipeline.snapshot("orders", restart=True)
    pipeline.sql("UPDATE orders SET id = 6000 WHERE id = 5000")
    pipeline.run()
    # Compared on the source's columns; the target keeps a dropped or renamed column besides.
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")
    assert prepare(pipeline.settings, pipeline.source_db, pipeline.target_schema, "earliest").warnings == []


@pytest.mark.parametrize(
    "ddl", ["DROP TABLE orders", "RENAME TABLE orders TO orders_old", "ALTER TABLE orders RENAME TO orders_old"]
)
def test_a_table_gone_is_quarantined_and_the_others_go_on(file_pipeline: Pipeline, ddl: str) -> None:
    pipeline = file_pipeline
    setup(pipeline)
    with_writes(pipeline, lambda: pipeline.sql(ddl))
    pipeline.run()
    assert pipeline.target_rows("other") == pipeline.source_rows("other")
    assert pipeline.target_query('SELECT COUNT(*) FROM "analytics".orders')[0][0] >= 2  # kept as it was
    (warning,) = prepare(pipeline.settings, pipeline.source_db, pipeline.target_schema, "earliest").warnings
    assert "table orders is quarantined" in warning


def quarantine_records(pipeline: Pipeline) -> list[str]:
    """The quarantine records in the store, by file name, read as bytes: what was written."""
    store = open_store(pipeline.settings)
    return [k.rsplit("/", 1)[1] for k in store.list(store.prefix) if "/_s3rb_state/quarantine/" in k]


def test_check_records_no_quarantine_for_a_table_gone_and_run_records_it(file_pipeline: Pipeline) -> None:
    """Preflight writes nothing: ``check`` says a captured table is gone, and only ``run``, once
    it holds the lease, quarantines it."""
    pipeline = file_pipeline
    setup(pipeline)
    pipeline.sql("DROP TABLE orders")
    args = ["check", "--source-db", pipeline.source_db, "--target-schema", pipeline.target_schema]
    checked = CliRunner().invoke(main, args, env=pipeline.cli_env())
    assert checked.exit_code == 0, checked.output
    assert "warn  table orders is quarantined: the table no longer exists at the source" in checked.output
    assert quarantine_records(pipeline) == []

    pipeline.sql("INSERT INTO other VALUES (1, 'after')")
    pipeline.run()
    assert quarantine_records(pipeline) == ["orders.json"]
    assert pipeline.target_rows("other") == pipeline.source_rows("other")


def test_a_standby_records_no_quarantine_while_another_instance_holds_the_lease(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    setup(pipeline)
    pipeline.sql("DROP TABLE orders")
    holder = Lease(open_store(pipeline.settings), pipeline.source_db, pipeline.target_schema, 60)
    assert holder.acquire(standby=False)
    stop = StopFlag()
    stop.stopping = True  # stopped while standing by
    result = run(pipeline.settings, pipeline.source_db, pipeline.target_schema, True, stop=stop, standby=True)
    assert (result.changes, result.batches_written) == (0, 0)
    assert quarantine_records(pipeline) == []  # the holder writes this pipeline, not the standby
    holder.release()
    pipeline.run()
    assert quarantine_records(pipeline) == ["orders.json"]


def test_status_does_not_show_a_quarantine_a_snapshot_lifted(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    setup(pipeline)
    pipeline.sql("ALTER TABLE orders MODIFY note VARCHAR(10)", "INSERT INTO orders VALUES (3, 'third')")
    pipeline.run()

    def orders_line() -> str:
        status = CliRunner().invoke(main, ["status"], env=pipeline.cli_env())
        assert status.exit_code == 0, status.output
        return next(line for line in status.output.splitlines() if line.split()[:1] == ["orders"])

    assert "QUARANTINED: " in orders_line()
    pipeline.snapshot("orders", restart=True)  # the fix the quarantine names: it lifts it
    assert prepare(pipeline.settings, pipeline.source_db, pipeline.target_schema, "earliest").warnings == []
    line = orders_line()
    assert "QUARANTINED" not in line and re.search(r"snapshot at \S+ complete: 3 rows in 1 part", line), line


def test_a_table_created_mid_stream_that_a_pattern_includes_is_captured(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.other"\n  - name: "{db}.log_*"\n')
    pipeline.sql("CREATE TABLE other (id INT PRIMARY KEY, note VARCHAR(20))")
    pipeline.run()
    pipeline.sql(
        "CREATE TABLE log_2026 (id INT PRIMARY KEY, msg TEXT)",
        "INSERT INTO log_2026 VALUES (1, 'first row, right after the CREATE')",
        "CREATE TABLE unrelated (id INT PRIMARY KEY)",
        "INSERT INTO unrelated VALUES (1)",
        "INSERT INTO other VALUES (1, 'x')",
        "UPDATE log_2026 SET msg = 'changed' WHERE id = 1",
    )
    pipeline.run()
    assert pipeline.target_rows("log_2026") == pipeline.source_rows("log_2026") == [(1, "changed")]
    assert pipeline.target_rows("other") == [(1, "x")]
    tables = {r[0] for r in pipeline.target_query("SELECT table_name FROM information_schema.tables")}
    assert "unrelated" not in tables
