"""Capture never waits for the warehouse: with every COPY into the Redshift emulator slowed to a few
seconds, the daemon goes on reading and writing batches while a load runs, its lag stays low,
``/healthz`` stays 200 and ``/readyz`` says it writes; after SIGTERM every change is in the target."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.ports import free_port, http_get, port_open, wait_until
from s3rb_stream.testing.s3server import MotoS3Server
from tests.integration.conftest import source_rows
from tests.integration.test_redshift_end_to_end import (
    admin_connection,
    redshift_cli_env,
    redshift_source,
    target_rows,
)

COPY_SECONDS = 4


def caught_up(body: str, db: str) -> bool:
    """Whether the newest transaction capture read is a few seconds old at most."""
    read = re.search(
        rf'^s3rb_source_read_timestamp_seconds{{source_db="{db}",target_schema="[^"]+"}} (\S+)$', body, re.M
    )
    return read is not None and time.time() - float(read.group(1)) < 3


def metric(body: str, name: str, db: str) -> float:
    match = re.search(rf'^{name}{{source_db="{db}",target_schema="[^"]+"}} (\S+)$', body, re.M)
    return float(match.group(1)) if match else 0.0


def test_capture_goes_on_while_a_slow_load_runs(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    db, schema = "slow_wh", "slow_wh_target"
    settings = redshift_source(
        mariadb, s3_server, emulator_port, tmp_path, db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20))",
    )  # fmt: skip
    port = free_port()
    env = redshift_cli_env(
        settings, mariadb, s3_server, tmp_path,
        S3RB_BATCH_MAX_AGE_SECONDS="0.5", S3RB_LOAD_INTERVAL_SECONDS="1", S3RB_METRICS_PORT=str(port),
    )  # fmt: skip
    admin = admin_connection(emulator_port)
    admin.cursor().execute(f"SET s3rb_emulator.statement_delay TO '{COPY_SECONDS} ^COPY'")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "s3rb_stream", "run", "--source-db", db, "--target-schema", schema],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    writing = threading.Event()
    writing.set()

    def writer() -> None:
        i = 0
        while writing.is_set():
            i += 1
            mariadb.execute(f"INSERT INTO {db}.items VALUES ({i}, 'row {i}')")
            time.sleep(0.05)

    samples: list[tuple[int, str, float, float]] = []  # healthz status, body, batches written, lag
    try:
        wait_until(lambda: port_open(port), 30, "metrics endpoint")
        # From the oldest binlog of the shared server, capture first reads other tests' history, and
        # the lag says how old that is; the slow loads are measured from the present on.
        wait_until(lambda: caught_up(http_get(f"http://127.0.0.1:{port}/metrics")[1], db), 60, "capture at the present")
        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.monotonic() + 3 * COPY_SECONDS + 2
        while time.monotonic() < deadline:
            status, body = http_get(f"http://127.0.0.1:{port}/healthz")
            metrics_body = http_get(f"http://127.0.0.1:{port}/metrics")[1]
            written = sum(
                float(v)
                for v in re.findall(rf'^s3rb_batches_written_total{{source_db="{db}".*}} (\S+)$', metrics_body, re.M)
            )
            samples.append((status, body, written, metric(metrics_body, "s3rb_source_lag_seconds", db)))
            time.sleep(0.25)
        ready = http_get(f"http://127.0.0.1:{port}/readyz")
        writing.clear()
        thread.join()
    finally:
        writing.clear()
        admin.cursor().execute("SET s3rb_emulator.statement_delay TO '0'")
        admin.close()
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, stderr
    assert all(status == 200 for status, *_ in samples), [s[1] for s in samples if s[0] != 200]
    busy = [written for _, body, written, _ in samples if "items" not in body and " load: busy" in body]
    assert len(set(busy)) > 1, "no batch was written while a load ran"  # capture went on during slow loads
    assert max(lag for *_, lag in samples) < COPY_SECONDS, [lag for *_, lag in samples]
    assert ready[0] == 200 and "writing" in ready[1]
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == source_rows(mariadb, db, "items")
