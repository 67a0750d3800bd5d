"""A snapshot taken again repairs the target, even when the binlog position has not moved since.

Each snapshot run has its own identity in its object keys and ledger entries, and its rows replace
target rows of the same sequence, so it always re-applies; binlog changes after it still win.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.core.object_keys import parse_batch_key
from s3rb_stream.errors import Stopped
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import source_rows
from tests.integration.test_redshift_end_to_end import admin_connection, query_target, settings_for_target

_n = itertools.count(1)


def target_sql(settings: Settings, port: int | None, statement: str) -> None:
    """A statement run on the target by hand, as an operator (or an accident) would."""
    if port is not None:
        conn = admin_connection(port)
        try:
            conn.cursor().execute(statement)
        finally:
            conn.close()
        return
    wh = DuckDBWarehouse(settings.warehouse().path)
    try:
        wh.query(statement)
    finally:
        wh.close()


@pytest.fixture(params=["duckdb", "redshift"])
def repair_env(
    request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path
) -> tuple[Settings, int | None, str, str]:
    n = next(_n)
    db, schema = f"repair{n}", f"repair_target{n}"
    tables = tmp_path / "tables.yml"
    tables.write_text(f'tables:\n  - name: "{db}.orders"\n')
    settings, port = settings_for_target(request, mariadb, tmp_path, tables, f"repair-{n}")
    mariadb.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, amount INT, note VARCHAR(20))",
        f"INSERT INTO {db}.orders VALUES " + ", ".join(f"({i}, {i * 10}, 'n{i}')" for i in range(1, 11)),
    )
    return settings, port, db, schema


def test_a_snapshot_again_at_an_unchanged_position_repairs_the_target(
    repair_env: tuple[Settings, int | None, str, str], mariadb: MariaDBServer
) -> None:
    settings, port, db, schema = repair_env

    def target() -> list[tuple[Any, ...]]:
        return query_target(settings, port, schema, "orders", "id, amount, note", "id")

    first = snapshot(settings, db, schema)
    assert target() == source_rows(mariadb, db, "orders")

    for attempt in range(2):  # twice: the second repair happens at the very same position
        target_sql(settings, port, f'DELETE FROM "{schema}"."orders" WHERE id <= 5')
        target_sql(settings, port, f'UPDATE "{schema}"."orders" SET note = \'tampered\' WHERE id = 9')
        again = snapshot(settings, db, schema, restart=True)
        assert again.position == first.position  # nothing was written to the binlog in between
        assert again.loaded.rows == 10, attempt
        assert target() == source_rows(mariadb, db, "orders"), attempt

    # A binlog change after the snapshot still wins over the snapshot's rows.
    mariadb.execute(f"UPDATE {db}.orders SET note = 'later' WHERE id = 3", f"DELETE FROM {db}.orders WHERE id = 4")
    run(settings, db, schema, until_caught_up=True)
    assert target() == source_rows(mariadb, db, "orders")
    snapshot(settings, db, schema, restart=True)  # and a repair after it changes nothing that is right
    run(settings, db, schema, until_caught_up=True)
    assert target() == source_rows(mariadb, db, "orders")


def test_each_snapshot_run_writes_objects_of_its_own(file_pipeline: Any) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql("CREATE TABLE items (id INT PRIMARY KEY)", "INSERT INTO items VALUES (1), (2), (3)")
    pipeline.configure(snapshot_chunk_rows=2)
    pipeline.snapshot()
    pipeline.snapshot(restart=True)
    refs = [parse_batch_key(str(p)) for p in Path(pipeline.settings.store().root).rglob("items_*.parquet")]
    runs = sorted({(r.first_seq, r.run) for r in refs if r is not None})
    assert len(runs) == 2 and runs[0][0] == runs[1][0] and runs[0][1] < runs[1][1]
    assert sorted((r.run, r.part) for r in refs if r is not None) == [
        (runs[0][1], 0),
        (runs[0][1], 1),
        (runs[1][1], 0),
        (runs[1][1], 1),
    ]


def test_a_stopped_snapshot_restart_says_to_go_on_without_restart(file_pipeline: Any) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql("CREATE TABLE items (id INT PRIMARY KEY)", "INSERT INTO items VALUES (1), (2), (3), (4), (5)")
    pipeline.configure(snapshot_chunk_rows=2)
    with pytest.raises(Stopped) as stopped:
        pipeline.snapshot(restart=True, stopping=lambda: True)
    assert stopped.value.hint == "run the same command without --restart to go on from there"
    with pytest.raises(Stopped) as plain:
        pipeline.snapshot(stopping=lambda: True)
    assert plain.value.hint == "run the same command again to go on from there"
    result = pipeline.snapshot()  # resumed without --restart, to the end
    assert result.resumed == ["items"]
    assert pipeline.target_rows("items") == pipeline.source_rows("items")
