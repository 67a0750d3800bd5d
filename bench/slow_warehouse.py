"""A slow warehouse and a warehouse that is down, under a steady write load: capture must keep up.

    .venv/bin/python -m bench.slow_warehouse                          # both: 20 s applies, then 5 min down
    .venv/bin/python -m bench.slow_warehouse --only slow --write-seconds 120 --apply-seconds 20 --rate 2000
    .venv/bin/python -m bench.slow_warehouse --only down --down-seconds 300 --rate 2000

Starts its own MariaDB, moto S3 server and Redshift emulator, and the daemon (``s3rb-stream run``)
as a subprocess with ``S3RB_BATCH_MAX_AGE_SECONDS=1``. Writers commit single-row inserts and
updates at ``--rate`` changes per second. Every second it samples ``/healthz``, the daemon's lag
metric, the target's freshness and the daemon's RSS.

- ``slow``: every COPY waits ``--apply-seconds`` in the emulator (its statement delay). Prints the
  capture lag (the lag metric while writing, and per batch object: written time minus the commit
  time of its oldest change), the ``/healthz`` answers over time, and the end-to-end freshness.
- ``down``: the emulator is unreachable (a cutting proxy) for ``--down-seconds`` while the load goes
  on. Prints the daemon's peak RSS during and after, the batches waiting, and the time to catch up.

Each phase ends by comparing source and target row for row.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import redshift_connector

from s3rb_stream.testing.emulator_server import RedshiftEmulatorServer
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.ports import free_port, http_get, port_open, wait_until
from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server
from s3rb_stream.testing.tcp_proxy import CuttingProxy

ROLE = "arn:aws:iam::123456789012:role/bench"
WRITERS = 2


@dataclass
class Rig:
    server: MariaDBServer
    s3: MotoS3Server
    emulator: RedshiftEmulatorServer
    proxy: CuttingProxy
    home: Path

    def warehouse(self) -> Any:
        conn = redshift_connector.connect(
            host="127.0.0.1", port=self.emulator.port, user="postgres", password="", database="postgres", ssl=False
        )
        conn.autocommit = True
        return conn

    def env(self, db: str, metrics_port: int) -> dict[str, str]:
        (self.home / f"{db}.yml").write_text(f'tables:\n  - name: "{db}.items"\n')
        boto3.client("s3", endpoint_url=self.s3.endpoint_url).create_bucket(Bucket=db.replace("_", "-"))
        return {
            **os.environ,
            **TEST_CREDENTIALS,
            "S3RB_MYSQL_URL": self.server.url,
            "S3RB_STORE_URL": f"s3://{db.replace('_', '-')}/cdc",
            "S3RB_S3_ENDPOINT_URL": self.s3.endpoint_url,
            "S3RB_WAREHOUSE_URL": f"redshift://postgres:x@127.0.0.1:{self.proxy.port}/postgres?ssl=false",
            "S3RB_REDSHIFT_IAM_ROLE": ROLE,
            "S3RB_TABLES_FILE": str(self.home / f"{db}.yml"),
            "S3RB_BATCH_MAX_AGE_SECONDS": "1",
            "S3RB_LOAD_INTERVAL_SECONDS": "5",
            "S3RB_HEARTBEAT_SECONDS": "1",
            "S3RB_METRICS_PORT": str(metrics_port),
            "S3RB_LOG_FORMAT": "json",
            "S3RB_LOG_LEVEL": "warning",
        }


@contextlib.contextmanager
def rig() -> Iterator[Rig]:
    for key, value in TEST_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    with contextlib.ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="s3rb-bench-slow-")))
        server = stack.enter_context(MariaDBServer())
        s3 = stack.enter_context(MotoS3Server())
        emulator = stack.enter_context(RedshiftEmulatorServer(s3.endpoint_url))
        proxy = stack.enter_context(CuttingProxy(emulator.port))
        yield Rig(server, s3, emulator, proxy, home)


class Writers:
    """Single-row transactions at ``rate`` changes per second: new rows, then updates of them."""

    def __init__(self, server: MariaDBServer, db: str, rate: float) -> None:
        self.server, self.db, self.rate = server, db, rate
        self.changes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(n,)) for n in range(WRITERS)]

    def start(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _write(self, n: int) -> None:
        conn = self.server.connect(self.db, autocommit=True)
        per_writer = self.rate / WRITERS
        started, done, key = time.monotonic(), 0, n
        with conn.cursor() as cur:
            while not self._stop.is_set():
                if done % 3 == 2:
                    cur.execute("UPDATE items SET n = n + 1 WHERE id = %s", (key - WRITERS,))
                else:
                    cur.execute("INSERT INTO items VALUES (%s, 0, %s)", (key, f"row {key}"))
                    key += WRITERS
                done += 1
                ahead = done / per_writer - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        conn.close()
        with self._lock:
            self.changes += done


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as status:
        match = re.search(rf"^{field_name}:\s+(\d+) kB", status.read(), re.M)
    return int(match.group(1)) / 1024 if match else 0.0


@dataclass
class Samples:
    health: Counter[int] = field(default_factory=Counter)
    lag: list[float] = field(default_factory=list)
    freshness: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    backlog: list[float] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)


def sample(rig: Rig, db: str, port: int, pid: int, out: Samples, stop: threading.Event) -> None:
    conn = rig.warehouse()
    started = time.monotonic()
    while not stop.is_set():
        status, _ = http_get(f"http://127.0.0.1:{port}/healthz")
        _, body = http_get(f"http://127.0.0.1:{port}/metrics")
        lag = re.search(rf'^s3rb_source_lag_seconds{{source_db="{db}",target_schema="[^"]+"}} (\S+)$', body, re.M)
        backlog = re.search(rf'^s3rb_batches_backlog{{source_db="{db}",target_schema="[^"]+"}} (\S+)$', body, re.M)
        out.health[status] += 1
        if lag:
            out.lag.append(float(lag.group(1)))
        if backlog:
            out.backlog.append(float(backlog.group(1)))
        with contextlib.suppress(Exception):
            cur = conn.cursor()
            cur.execute(f'SELECT MAX("_s3rb_source_ts") FROM {db}_target.items')
            newest = cur.fetchall()[0][0]
            if newest is not None:
                out.freshness.append((datetime.now(UTC) - newest.astimezone(UTC)).total_seconds())
        with contextlib.suppress(OSError):
            out.rss.append(rss_mb(pid))
        out.timeline.append(f"{time.monotonic() - started:5.0f}s {status}")
        stop.wait(1.0)
    conn.close()


def object_lags(rig: Rig, db: str) -> list[float]:
    """Per batch object: when it was written, minus the commit time of its oldest change."""
    s3 = boto3.client("s3", endpoint_url=rig.s3.endpoint_url)
    bucket, lags = db.replace("_", "-"), []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="cdc/"):
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".parquet") or "/_" in item["Key"]:
                continue
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            oldest = pq.read_table(io.BytesIO(body), columns=["_s3rb_source_ts"]).column(0).to_pylist()
            lags.append((item["LastModified"] - min(oldest)).total_seconds())
    return lags


def equal(rig: Rig, db: str) -> bool:
    conn = rig.server.connect(db)
    with conn.cursor() as cur:
        cur.execute("SELECT id, n, name FROM items ORDER BY id")
        source = [tuple(r) for r in cur.fetchall()]
    conn.close()
    warehouse = rig.warehouse()
    cur = warehouse.cursor()
    cur.execute(f"SELECT id, n, name FROM {db}_target.items ORDER BY id")
    target = [tuple(r) for r in cur.fetchall()]
    warehouse.close()
    return source == target


def start_daemon(rig: Rig, db: str) -> tuple[subprocess.Popen[str], int]:
    rig.server.execute(
        f"CREATE DATABASE {db}", f"CREATE TABLE {db}.items (id BIGINT PRIMARY KEY, n INT, name VARCHAR(40))"
    )
    port = free_port()
    log = open(rig.home / f"{db}.log", "w")  # noqa: SIM115 - the daemon's stderr, closed with the rig
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3rb_stream", "run", "--source-db", db, "--target-schema", f"{db}_target",
         "--start-position", "current"],
        env=rig.env(db, port), cwd=rig.home, stdout=subprocess.DEVNULL, stderr=log, text=True,
    )  # fmt: skip
    wait_until(lambda: port_open(port), 60, "the daemon's metrics")
    time.sleep(2)
    return proc, port


def stop_daemon(proc: subprocess.Popen[str]) -> float:
    peak = rss_mb(proc.pid, "VmHWM")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=600)
    return peak


def wait_equal(rig: Rig, db: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while not equal(rig, db):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{db}: the target did not catch up within {timeout:.0f} s")
        time.sleep(1)
    return time.monotonic() - started


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def slow(rig: Rig, apply_seconds: float, write_seconds: float, rate: float) -> None:
    db = "bench_slow"
    admin = rig.warehouse()
    admin.cursor().execute(f"SET s3rb_emulator.statement_delay TO '{apply_seconds} ^COPY'")
    proc, port = start_daemon(rig, db)
    samples, stop = Samples(), threading.Event()
    sampler = threading.Thread(target=sample, args=(rig, db, port, proc.pid, samples, stop))
    sampler.start()
    writers = Writers(rig.server, db, rate).start()
    time.sleep(write_seconds)
    writers.stop()
    writing = len(samples.lag)
    catch_up = wait_equal(rig, db)
    stop.set()
    sampler.join()
    admin.cursor().execute("SET s3rb_emulator.statement_delay TO '0'")
    admin.close()
    peak = stop_daemon(proc)
    lags = object_lags(rig, db)
    print(f"\nslow warehouse: every COPY takes {apply_seconds:.0f} s; {writers.changes:,} changes in"
          f" {write_seconds:.0f} s ({writers.changes / write_seconds:,.0f}/s), batch max age 1 s")  # fmt: skip
    print(
        f"  capture lag, metric while writing: max {max(samples.lag[:writing]):.1f} s,"
        f" median {statistics.median(samples.lag[:writing]):.1f} s"
    )
    print(
        f"  capture lag per batch object (commit of its oldest change → object written), {len(lags)} objects:"
        f" max {max(lags):.1f} s, p95 {pct(lags, 0.95):.1f} s, median {statistics.median(lags):.1f} s"
    )
    print(f"  /healthz over {sum(samples.health.values())} samples: {dict(samples.health)}")
    print(
        f"  end-to-end freshness while loading: max {max(samples.freshness):.0f} s,"
        f" median {statistics.median(samples.freshness):.0f} s; caught up {catch_up:.0f} s after the writes ended"
    )
    print(f"  daemon RSS: peak {peak:.0f} MB; source and target equal: {equal(rig, db)}")


def down(rig: Rig, down_seconds: float, rate: float) -> None:
    db = "bench_down"
    proc, port = start_daemon(rig, db)
    samples, stop = Samples(), threading.Event()
    sampler = threading.Thread(target=sample, args=(rig, db, port, proc.pid, samples, stop))
    sampler.start()
    writers = Writers(rig.server, db, rate).start()
    time.sleep(5)
    before = rss_mb(proc.pid, "VmHWM")
    rig.proxy.set_down(True)
    time.sleep(down_seconds)
    during = rss_mb(proc.pid, "VmHWM")
    rig.proxy.set_down(False)
    writers.stop()
    catch_up = wait_equal(rig, db)
    stop.set()
    sampler.join()
    peak = stop_daemon(proc)
    print(f"\nwarehouse down for {down_seconds:.0f} s under {writers.changes / (down_seconds + 5):,.0f} changes/s"
          f" ({writers.changes:,} changes)")  # fmt: skip
    print(f"  daemon peak RSS: {before:.0f} MB before the outage, {during:.0f} MB at its end, {peak:.0f} MB at exit")
    print(
        f"  batches waiting in the store at most: {max(samples.backlog, default=0):.0f};"
        f" capture lag during the outage: max {max(samples.lag):.1f} s"
    )
    print(
        f"  /healthz: {dict(samples.health)}; caught up {catch_up:.0f} s after the warehouse came back;"
        f" source and target equal: {equal(rig, db)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["slow", "down"])
    parser.add_argument("--apply-seconds", type=float, default=20.0)
    parser.add_argument("--write-seconds", type=float, default=120.0)
    parser.add_argument("--down-seconds", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="changes per second")
    args = parser.parse_args()
    with rig() as r:
        if args.only in (None, "slow"):
            slow(r, args.apply_seconds, args.write_seconds, args.rate)
        if args.only in (None, "down"):
            down(r, args.down_seconds, args.rate)


if __name__ == "__main__":
    main()
