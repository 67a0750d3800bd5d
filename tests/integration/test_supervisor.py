"""Several source schemas in one process: one broken source never stops the others."""

from __future__ import annotations

from pathlib import Path

from s3rb_stream.pipeline.supervisor import supervise
from s3rb_stream.pipeline.types import StopFlag
from tests.integration.conftest import Pipeline


def two_pipelines(pipeline: Pipeline, second: str, second_table: str, second_schema: str) -> None:
    """List the test's source (table t, into analytics) and ``second`` as two pipelines."""
    Path(pipeline.settings.tables_file).write_text(
        f'tables:\n  - name: "{pipeline.source_db}.t"\n  - name: "{second}.{second_table}"\n'
        f"pipelines:\n  - {{source_db: {pipeline.source_db}, target_schema: analytics}}\n"
        f"  - {{source_db: {second}, target_schema: {second_schema}}}\n"
    )


def test_two_sources_in_one_process_one_broken_the_other_flows(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    good, broken = pipeline.source_db, pipeline.source_db + "_broken"
    pipeline.server.execute(f"CREATE DATABASE {broken}", f"CREATE TABLE {broken}.t (id INT PRIMARY KEY)")
    two_pipelines(pipeline, broken, "gone", "other")
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")

    states = supervise(pipeline.settings, StopFlag(), until_caught_up=True, first_backoff=0.1)

    by_source = {s.config.source_db: s for s in states}
    assert by_source[good].last_error is None and by_source[good].results[0].loaded.rows == 2
    assert pipeline.target_rows("t") == [(1,), (2,)]
    assert by_source[broken].failures == 3  # retried with backoff, then reported
    assert "table " + broken + ".gone from the tables file does not exist" in (by_source[broken].last_error or "")


def test_the_cli_runs_every_listed_pipeline_and_names_the_broken_one(file_pipeline: Pipeline, tmp_path: Path) -> None:
    import subprocess
    import sys

    pipeline = file_pipeline
    broken = pipeline.source_db + "_cli_broken"
    pipeline.server.execute(f"CREATE DATABASE {broken}", f"CREATE TABLE {broken}.t (id INT PRIMARY KEY)")
    two_pipelines(pipeline, broken, "gone", "other")
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (7)")
    env = pipeline.cli_env()
    result = subprocess.run(
        [sys.executable, "-m", "s3rb_stream", "run", "--until-caught-up"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"error: {broken} → other: table {broken}.gone from the tables file does not exist" in result.stderr
    assert pipeline.target_rows("t") == [(7,)]


def test_two_working_sources_share_one_duckdb_file_from_one_process(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    second = pipeline.source_db + "_second"
    pipeline.server.execute(
        f"CREATE DATABASE {second}",
        f"CREATE TABLE {second}.t (id INT PRIMARY KEY)",
        f"INSERT INTO {second}.t VALUES (20), (21)",
    )
    two_pipelines(pipeline, second, "t", "second")
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (10)")
    states = supervise(pipeline.settings, StopFlag(), until_caught_up=True, first_backoff=0.1)
    assert [s.last_error for s in states] == [None, None]
    assert pipeline.target_query('SELECT id FROM "analytics".t ORDER BY id') == [(10,)]
    assert pipeline.target_query('SELECT id FROM "second".t ORDER BY id') == [(20,), (21,)]
