"""Schema isolation: one source table into two target schemas, and two source databases with the
same table names, keep separate objects, state and target tables."""

from __future__ import annotations

from pathlib import Path

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.commands.sync import sync
from s3rb_stream.pipeline.runner import run
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from tests.integration.conftest import Pipeline


def test_sources_and_target_schemas_never_share_objects_state_or_tables(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    other_db = pipeline.source_db + "_twin"
    pipeline.server.execute(f"CREATE DATABASE {other_db}")
    text = (
        "tables:\n"
        '  - name: "{a}.orders"\n  - name: "{a}.prices"\n    cdc_strategy: full_sync\n'
        '  - name: "{b}.orders"\n  - name: "{b}.prices"\n    cdc_strategy: full_sync\n'
    )
    Path(pipeline.settings.tables_file).write_text(text.format(a=pipeline.source_db, b=other_db))
    for db, n in ((pipeline.source_db, 1), (other_db, 2)):
        pipeline.server.execute(
            "CREATE TABLE orders (id INT PRIMARY KEY, who VARCHAR(10))",
            "CREATE TABLE prices (id INT PRIMARY KEY, amount INT)",
            f"INSERT INTO orders VALUES ({n}, '{db}')",
            f"INSERT INTO prices VALUES ({n}, {n * 100})",
            database=db,
        )
    s = pipeline.settings
    for schema in ("copy_a", "copy_b"):
        snapshot(s, pipeline.source_db, schema)
        sync(s, pipeline.source_db, schema)
    snapshot(s, other_db, "twin")
    sync(s, other_db, "twin")
    pipeline.server.execute("INSERT INTO orders VALUES (10, 'later')", database=pipeline.source_db)
    run(s, pipeline.source_db, "copy_a", until_caught_up=True)  # copy_b is not run again

    root = Path(s.store().root)
    files = [p.relative_to(root) for p in root.rglob("*") if p.is_file()]
    prefixes = {f.parts[:2] for f in files if f.parts[0] != "_s3rb_state"}  # the store's own write check
    assert prefixes == {(pipeline.source_db, "copy_a"), (pipeline.source_db, "copy_b"), (other_db, "twin")}
    for prefix in prefixes:
        state = root.joinpath(*prefix, "_s3rb_state")
        assert (state / "extracts" / "orders.json").is_file() and (state / "extracts" / "prices.json").is_file()
    assert (root / pipeline.source_db / "copy_a" / "_s3rb_state" / "checkpoint.json").is_file()
    assert not (root / pipeline.source_db / "copy_b" / "_s3rb_state" / "checkpoint.json").exists()

    wh = DuckDBWarehouse(s.warehouse().path)
    try:
        rows = {
            schema: wh.query(f'SELECT id, who FROM "{schema}".orders ORDER BY id')
            for schema in ("copy_a", "copy_b", "twin")
        }
        prices = {schema: wh.query(f'SELECT id, amount FROM "{schema}".prices') for schema in ("copy_a", "twin")}
    finally:
        wh.close()
    assert rows["copy_a"] == [(1, pipeline.source_db), (10, "later")]
    assert rows["copy_b"] == [(1, pipeline.source_db)]
    assert rows["twin"] == [(2, other_db)]
    assert prices == {"copy_a": [(1, 100)], "twin": [(2, 200)]}
