"""`snapshot` and `sync` stop on SIGTERM (as PID 1 in a container, on `docker stop`) after the page
being written, with their progress saved, and the next run goes on from there."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from s3rb_stream.cli import EXIT_STOPPED
from tests.integration.conftest import Pipeline
from tests.integration.test_fenced_writer import wait_stopped

ROWS = 400


def cli(pipeline: Pipeline, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "s3rb_stream", *args, "--source-db", pipeline.source_db, "--target-schema", "analytics"],
        env=pipeline.cli_env(S3RB_SNAPSHOT_CHUNK_ROWS="50", **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sigterm_at_the_second_page(pipeline: Pipeline, *args: str) -> str:
    """Run the command paused after its second page, SIGTERM it there, let it go on; its stderr."""
    proc = cli(pipeline, *args, S3RB_FAULT_PAUSE_AT="extract.page:2")
    try:
        wait_stopped(proc)
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGCONT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_STOPPED, stderr
    return stderr


@pytest.mark.parametrize("strategy", ["snapshot", "hybrid", "full_sync"])
def test_sigterm_stops_after_the_page_and_the_next_run_goes_on(file_pipeline: Pipeline, strategy: str) -> None:
    pipeline = file_pipeline
    options = {
        "snapshot": "",
        "hybrid": "\n    cdc_strategy: hybrid\n    cdc_timestamp_column: ts\n    cdc_id_column: id",
        "full_sync": "\n    cdc_strategy: full_sync",
    }[strategy]
    pipeline.tables('tables:\n  - name: "{db}.orders"' + options + "\n")
    pipeline.sql(
        "CREATE TABLE orders (id INT PRIMARY KEY, ts DATETIME NOT NULL, note VARCHAR(20))",
        f"INSERT INTO orders SELECT seq, '2026-01-01' + INTERVAL seq SECOND, CONCAT('n', seq) FROM seq_1_to_{ROWS}",
    )
    command = "snapshot" if strategy == "snapshot" else "sync"
    stderr = sigterm_at_the_second_page(pipeline, command)
    assert "stopped: stopped by a signal" in stderr and "after 100 rows, its progress saved" in stderr, stderr
    assert "Traceback" not in stderr

    again = cli(pipeline, command)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    if strategy == "snapshot":
        assert "(resumed)" in out
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")
    assert len(pipeline.source_rows("orders")) == ROWS
