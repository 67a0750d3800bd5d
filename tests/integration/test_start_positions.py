"""Where each table's capture starts: its checkpoint, its snapshot, or ``--start-position``.

A snapshot of some tables must not move the start of the others: their rows before the snapshot
are in the binlog and must be captured (docs/ARCHITECTURE.md, "Where capture starts").
"""

from __future__ import annotations

from typing import Any

from s3rb_stream.core.object_keys import checkpoint_key
from s3rb_stream.state.checkpoint import load_checkpoint
from s3rb_stream.store import open_store
from tests.integration.conftest import Pipeline

TABLES = """tables:
  - name: "{db}.orders"
  - name: "{db}.notes"
  - name: "{db}.events_log"
    mode: append
  - name: "{db}.dims"
    mode: scd2
"""


def create(pipeline: Pipeline) -> None:
    pipeline.sql(
        "CREATE TABLE orders (id INT PRIMARY KEY, amount INT)",
        "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20))",
        "CREATE TABLE events_log (msg VARCHAR(20))",
        "CREATE TABLE dims (id INT PRIMARY KEY, tier VARCHAR(10))",
    )


def write(pipeline: Pipeline, first: int, last: int) -> None:
    for i in range(first, last + 1):
        pipeline.sql(
            f"INSERT INTO orders VALUES ({i}, {i * 10})",
            f"INSERT INTO notes VALUES ({i}, 'note {i}')",
            f"INSERT INTO events_log VALUES ('event {i}')",
            f"INSERT INTO dims VALUES ({i}, 'tier {i}')",
        )


def current_dims(pipeline: Pipeline) -> list[tuple[Any, ...]]:
    return pipeline.target_query(f'SELECT id, tier FROM "{pipeline.target_schema}".dims WHERE is_current ORDER BY id')


def assert_complete(pipeline: Pipeline, rows: int) -> None:
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")
    assert pipeline.target_rows("notes") == pipeline.source_rows("notes")
    events = pipeline.target_query(f'SELECT msg FROM "{pipeline.target_schema}".events_log ORDER BY "_s3rb_seq"')
    assert events == [(f"event {i}",) for i in range(1, rows + 1)]
    assert current_dims(pipeline) == pipeline.source_rows("dims")
    assert len(pipeline.source_rows("orders")) == rows


def test_a_partial_snapshot_leaves_the_other_tables_starting_at_the_binlog(file_pipeline: Pipeline) -> None:
    """The issue's case: rows 1-3 of the tables not snapshotted were lost, without a word."""
    pipeline = file_pipeline
    pipeline.tables(TABLES)
    create(pipeline)
    write(pipeline, 1, 3)
    snap = pipeline.snapshot("orders")
    assert snap.rows == {"orders": 3}
    write(pipeline, 4, 6)

    result = pipeline.run()  # no checkpoint: the default start is the oldest binlog

    assert_complete(pipeline, 6)
    # orders still starts at its snapshot: its rows 1-3 come once, from the snapshot.
    assert pipeline.target_query(
        f'SELECT COUNT(*) FROM "{pipeline.target_schema}".orders WHERE "_s3rb_seq" = {snap.position.seq}'
    ) == [(3,)]
    assert any("notes" in w and "oldest binlog" in w for w in result.warnings)


def test_snapshot_then_a_restart_midway_then_more_rows(file_pipeline: Pipeline) -> None:
    """A checkpoint saved while a snapshotted table still skips keeps skipping after a restart."""
    pipeline = file_pipeline
    pipeline.tables(TABLES)
    create(pipeline)
    write(pipeline, 1, 3)
    pipeline.snapshot("orders", "dims")
    write(pipeline, 4, 5)
    pipeline.run()
    pipeline.run()  # a second run from the checkpoint changes nothing
    assert_complete(pipeline, 5)
    write(pipeline, 6, 7)
    pipeline.run()
    assert_complete(pipeline, 7)


def test_a_table_added_to_the_tables_file_later_is_captured_from_the_start(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.orders"\n')
    create(pipeline)
    write(pipeline, 1, 3)
    pipeline.run()
    checkpoint = load_checkpoint(open_store(pipeline.settings), pipeline.source_db, pipeline.target_schema)
    assert checkpoint is not None and checkpoint.tables == ("orders",)
    write(pipeline, 4, 5)

    pipeline.tables(TABLES)  # notes, events_log and dims join a pipeline that has a checkpoint
    result = pipeline.run()

    assert_complete(pipeline, 5)
    assert any("oldest binlog" in w for w in result.warnings)
    # The checkpoint now covers every table: the next run starts there, not at the oldest binlog.
    write(pipeline, 6, 6)
    again = pipeline.run()
    assert not any("oldest binlog" in w for w in again.warnings)
    assert again.changes == 4
    assert_complete(pipeline, 6)


def test_with_start_position_current_an_unsnapshotted_table_starts_now(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables(TABLES)
    create(pipeline)
    write(pipeline, 1, 2)
    pipeline.snapshot("orders", "notes", "dims")
    write(pipeline, 3, 3)

    result = pipeline.run(start_position="current")

    # orders, notes and dims start at their snapshot; events_log (no snapshot possible) starts now.
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")
    assert pipeline.target_rows("notes") == pipeline.source_rows("notes")
    assert current_dims(pipeline) == pipeline.source_rows("dims")
    assert pipeline.target_query(f'SELECT COUNT(*) FROM "{pipeline.target_schema}".events_log') == [(0,)]
    assert any("events_log" in w and "current binlog position" in w for w in result.warnings)
    store = open_store(pipeline.settings)
    assert store.get(checkpoint_key(store.prefix, pipeline.source_db, pipeline.target_schema)) is not None
