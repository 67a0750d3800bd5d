"""What the batch commands say on stdout when they end: ``run --until-caught-up`` prints, per table,
the changes it captured and the rows it loaded, and the position it stopped at."""

from __future__ import annotations

import re

from click.testing import CliRunner

from s3rb_stream.cli import main
from tests.integration.conftest import Pipeline


def test_run_until_caught_up_says_per_table_what_it_captured_and_loaded(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.sql(
        "CREATE TABLE orders (id INT PRIMARY KEY, note TEXT)",
        "CREATE TABLE quiet (id INT PRIMARY KEY)",
        "INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "UPDATE orders SET note = 'B' WHERE id = 2",
        "DELETE FROM orders WHERE id = 3",
    )
    pipeline.tables('tables:\n  - name: "{db}.orders"\n  - name: "{db}.quiet"\n')
    args = ["run", "--source-db", pipeline.source_db, "--target-schema", pipeline.target_schema, "--until-caught-up"]
    result = CliRunner().invoke(main, args, env=pipeline.cli_env())
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        rf"{pipeline.source_db} → {pipeline.target_schema}: caught up at binlog position \S+:\d+", lines[0]
    ), result.stdout
    assert re.fullmatch(r"  table +captured +loaded", lines[1])
    assert re.fullmatch(r"  orders +5 +5", lines[2]), result.stdout  # 3 inserts, an update, a delete
    assert re.fullmatch(r"  quiet +0 +0", lines[3]), result.stdout  # every table is named, even an idle one
    assert lines[4] == f"loaded 5 rows from 1 batch into {pipeline.target_schema}", result.stdout
    again = CliRunner().invoke(main, args, env=pipeline.cli_env())  # nothing new: said as plainly
    assert again.exit_code == 0 and re.search(r"^  orders +0 +0$", again.stdout, re.M), again.stdout
    assert pipeline.target_rows("orders") == [(1, "a"), (2, "B")]
