"""``snapshot``: consistent with the binlog, resumable, and streaming carries on from it."""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from s3rb_stream.cli import main
from s3rb_stream.commands.status import collect, render
from s3rb_stream.core.object_keys import parse_batch_key
from s3rb_stream.errors import ConfigError, SchemaError
from s3rb_stream.pipeline.pages import TableStore
from tests.integration.conftest import Pipeline
from tests.integration.test_end_to_end import EVERYTHING, ROW_1, ROW_2

ITEMS = "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), qty INT, note TEXT)"


def fill_unlogged(pipeline: Pipeline, rows: int) -> None:
    values = ",".join(f"({i}, 'item {i}', {i % 7}, NULL)" for i in range(1, rows + 1))
    pipeline.sql_unlogged(f"INSERT INTO items VALUES {values}")


def part_numbers(pipeline: Pipeline, table: str) -> list[int]:
    store = pipeline.settings
    root = Path(store.store().root)
    refs = [parse_batch_key(str(p)) for p in root.rglob(f"{table}_*.parquet")]
    return sorted(r.part for r in refs if r is not None and r.part is not None)


def test_snapshot_delivers_every_type_exactly_as_streaming_does(pipeline: Pipeline) -> None:
    pipeline.tables('tables:\n  - name: "{db}.everything"\n')
    pipeline.sql(EVERYTHING)
    pipeline.sql_unlogged(f"INSERT INTO everything VALUES {ROW_1}, {ROW_2}")

    result = pipeline.snapshot()

    assert result.rows == {"everything": 2} and result.exact
    assert pipeline.target_rows("everything") == pipeline.source_rows("everything")
    ops = pipeline.target_query(f'SELECT DISTINCT "_s3rb_op", "_s3rb_seq" FROM "{pipeline.target_schema}".everything')
    assert ops == [("r", result.position.seq)]
    # Streaming afterwards starts at the snapshot: a later change lands, nothing older is replayed.
    pipeline.sql("UPDATE everything SET vc = 'after the snapshot' WHERE id = 2")
    assert pipeline.run().changes == 1
    assert pipeline.target_rows("everything") == pipeline.source_rows("everything")


def test_snapshot_with_concurrent_writes_then_streaming_equals_the_source(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS)
    fill_unlogged(pipeline, 4000)  # pages enough however many rows the writer deletes before it opens
    pipeline.configure(snapshot_chunk_rows=100)
    done = threading.Event()
    writes = 0

    def writer() -> None:
        nonlocal writes
        rng = random.Random(7)
        conn = pipeline.server.connect(pipeline.source_db)
        with conn.cursor() as cur:
            while not done.is_set() or writes < 200:
                i = rng.randint(1, 4200)
                action = rng.choice(["insert", "update", "delete", "move"])
                if action == "insert":
                    cur.execute("INSERT IGNORE INTO items VALUES (%s, 'new', 1, 'during')", (i,))
                elif action == "update":
                    cur.execute("UPDATE items SET qty = qty + 1, note = 'changed' WHERE id = %s", (i,))
                elif action == "delete":
                    cur.execute("DELETE FROM items WHERE id = %s", (i,))
                else:  # a key moving across the range the snapshot has read
                    cur.execute("UPDATE IGNORE items SET id = %s WHERE id = %s", (4201 + writes, i))
                writes += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = pipeline.snapshot()
    finally:
        done.set()
        thread.join()

    assert writes >= 200
    assert len(part_numbers(pipeline, "items")) >= 30  # the writes overlapped many pages
    pipeline.run()
    assert pipeline.target_rows("items") == pipeline.source_rows("items")
    assert result.rows["items"] > 0


def test_an_interrupted_snapshot_resumes_where_it_stopped(
    file_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n  - name: "{db}.other"\n')
    pipeline.sql(ITEMS, "CREATE TABLE other (id INT PRIMARY KEY)")
    fill_unlogged(pipeline, 1000)
    pipeline.configure(snapshot_chunk_rows=100)
    original = TableStore.put_page
    calls = 0

    def failing_put(self: TableStore, *args: object, **kwargs: object) -> str:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError("disk full (injected)")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(TableStore, "put_page", failing_put)
    with pytest.raises(OSError, match="injected"):
        pipeline.snapshot("items")
    monkeypatch.setattr(TableStore, "put_page", original)
    assert part_numbers(pipeline, "items") == [0, 1, 2]
    lines = "\n".join(render(collect(pipeline.settings, pipeline.source_db)))
    assert "no binlog checkpoint yet" in lines
    assert re.search(r"items .* snapshot at mariadb-bin\.\d+:\d+ running: 300 rows in 3 parts", lines), lines
    first_parts = {
        p: p.stat().st_mtime_ns for p in Path(pipeline.settings.store().root).rglob("items_*_000000.parquet")
    }

    # While the snapshot is unfinished, runs hold the table's loads back; other tables go on.
    pipeline.sql("UPDATE items SET name = 'changed in read range' WHERE id = 5", "DELETE FROM items WHERE id = 900")
    pipeline.sql("INSERT INTO items VALUES (5000, 'new', 1, NULL)", "INSERT INTO other VALUES (1)")
    held = pipeline.run()
    assert "items" in held.loaded.held_back
    assert pipeline.target_rows("other") == [(1,)]
    assert pipeline.target_query(
        f"SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'items'"
        f" AND table_schema = '{pipeline.target_schema}'"
    ) == [(1,)]
    assert pipeline.target_query(f'SELECT COUNT(*) FROM "{pipeline.target_schema}".items') == [(0,)]

    result = pipeline.snapshot("items")
    assert result.resumed == ["items"]
    assert part_numbers(pipeline, "items") == list(range(10))  # 1,000 rows in pages of 100, continued at part 3
    assert {p: p.stat().st_mtime_ns for p in first_parts} == first_parts  # the first parts were not rewritten
    pipeline.run()
    assert pipeline.target_rows("items") == pipeline.source_rows("items")


def test_snapshot_removes_target_rows_gone_from_the_source(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql(ITEMS, "INSERT INTO items VALUES (1, 'a', 1, NULL), (2, 'b', 2, NULL)")
    pipeline.run()
    pipeline.sql_unlogged("DELETE FROM items WHERE id = 1")  # a delete the binlog lost (purged, say)
    pipeline.snapshot(restart=True)
    assert pipeline.target_rows("items") == pipeline.source_rows("items") == [(2, "b", 2, None)]


def test_snapshot_refuses_what_it_cannot_do(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.sql(ITEMS, "CREATE TABLE log (msg TEXT)", "CREATE TABLE u (k INT NULL, UNIQUE KEY (k))")
    pipeline.tables(
        'tables:\n  - name: "{db}.items"\n    cdc_strategy: full_sync\n'
        '  - name: "{db}.log"\n    mode: append\n'
        '  - name: "{db}.u"\n    key_columns: [k]\n'
    )
    with pytest.raises(ConfigError, match=r"snapshot applies to cdc_strategy binlog; not to items \(full_sync\)"):
        pipeline.snapshot("items")
    with pytest.raises(ConfigError, match="mode append keeps every change"):
        pipeline.snapshot("log")
    with pytest.raises(SchemaError, match=r"key column\(s\) k are nullable"):
        pipeline.snapshot("u")
    with pytest.raises(ConfigError, match=r"table\(s\) nope are not in the tables file"):
        pipeline.snapshot("nope")


def test_snapshot_of_every_table_skips_append_tables_with_a_note_and_run_streams_them(file_pipeline: Pipeline) -> None:
    """A schema with an append table: ``snapshot`` without ``-t`` snapshots the others, says in one
    line why the append table is skipped, exits 0; ``run`` then captures the append table's changes."""
    pipeline = file_pipeline
    pipeline.sql(ITEMS, "CREATE TABLE log (msg TEXT)", "INSERT INTO items VALUES (1, 'a', 1, NULL)")
    pipeline.tables('tables:\n  - name: "{db}.items"\n  - name: "{db}.log"\n    mode: append\n')
    args = ["snapshot", "--source-db", pipeline.source_db, "--target-schema", pipeline.target_schema]
    result = CliRunner().invoke(main, args, env=pipeline.cli_env())
    assert result.exit_code == 0, result.output
    assert re.search(r"^  items +1 rows$", result.output, re.M), result.output
    assert re.search(r"^  log +skipped: mode append keeps every change, and a snapshot is not a change", result.output,
                     re.M), result.output  # fmt: skip
    pipeline.sql("INSERT INTO log VALUES ('after the snapshot')", "INSERT INTO items VALUES (2, 'b', 2, NULL)")
    pipeline.run()
    assert pipeline.target_rows("items") == pipeline.source_rows("items")
    assert pipeline.target_query(f'SELECT msg FROM "{pipeline.target_schema}".log') == [("after the snapshot",)]
