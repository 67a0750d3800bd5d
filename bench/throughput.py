"""Binlog throughput against bare python-mysql-replication, and snapshot throughput against the
``mariadb`` client, in one run.

    .venv/bin/python -m bench.throughput [--bulk 300000] [--oltp 30000] [--snapshot-rows 300000] [--repeat 3]
    .venv/bin/python -m bench.throughput --profile c --only oltp     # cProfile one measure

Starts a throwaway MariaDB and writes two workloads, one after the other:
  bulk  multi-row inserts, updates and deletes (1,000 rows a statement) on a 14-column table of
        mixed types;
  oltp  single-row transactions (inserts, updates, deletes) on a 10-column table.
For each, on the same binlog range, each measure runs in its own process (so that its peak RSS is
its own), three times by default, interleaved; the median run is reported:
  (a) bare pymysqlreplication iterating the row images (the baseline);
  (b) capture: binlog → Parquet objects in a local store, checkpoint included;
  (c) the whole ``run --until-caught-up`` into DuckDB.
Then the snapshot of a table of ``--snapshot-rows`` rows against ``mariadb --batch --quick``
(see bench/snapshot.py). Prints changes/s, the ratio of each to its baseline, and peak RSS.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from s3rb_stream.core.batching import FlushPolicy
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.log import configure as configure_logging
from s3rb_stream.pipeline.capture import Capture
from s3rb_stream.pipeline.runner import default_server_id, prepare, run
from s3rb_stream.settings import Settings, load_settings
from s3rb_stream.sources.binlog import BinlogReader
from s3rb_stream.sources.mysql_meta import current_position
from s3rb_stream.testing.mariadb import MariaDBServer

BULK_TABLE = """CREATE TABLE bench.bulk (
  id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(20), amount DECIMAL(12,2),
  qty SMALLINT, price DOUBLE, rate FLOAT, created_at DATETIME(6), updated_at TIMESTAMP(6) NULL,
  note VARCHAR(200), body TEXT, flag TINYINT, day DATE, code CHAR(8))"""
OLTP_TABLE = """CREATE TABLE bench.oltp (
  id INT PRIMARY KEY, account BIGINT NOT NULL, kind VARCHAR(16), balance DECIMAL(14,2),
  score DOUBLE, opened DATE, touched DATETIME(3), label VARCHAR(64), active TINYINT, region CHAR(2))"""
MEASURES = {"a": "(a) bare pymysqlreplication", "b": "(b) capture: binlog → Parquet", "c": "(c) run: → DuckDB"}


# --------------------------------------------------------------------------- workloads


def bulk_workload(server: MariaDBServer, changes: int) -> None:
    inserts, updates = int(changes * 0.6), int(changes * 0.3)
    deletes = changes - inserts - updates
    conn = server.connect("bench")
    chunk = 1000
    with conn.cursor() as cur:
        for start in range(0, inserts, chunk):
            rows = ",".join(
                f"({i}, {i % 977}, 'new', {i % 10000}.25, {i % 300}, {i / 7}, {i % 100 / 3}, NOW(6), NOW(6),"
                f" 'note {i} ✓', REPEAT('body {i} ', {1 + i % 5}), {i % 2}, CURDATE(), 'c{i % 1000:07d}')"
                for i in range(start, min(start + chunk, inserts))
            )
            cur.execute(f"INSERT INTO bulk VALUES {rows}")
        for start in range(0, updates, chunk):
            cur.execute(
                "UPDATE bulk SET status = 'paid', amount = amount + 1, updated_at = NOW(6), qty = qty + 1"
                f" WHERE id >= {start} AND id < {min(start + chunk, updates)}"
            )
        for start in range(inserts - deletes, inserts, chunk):
            cur.execute(f"DELETE FROM bulk WHERE id >= {start} AND id < {min(start + chunk, inserts)}")
    conn.close()


def oltp_workload(server: MariaDBServer, changes: int) -> None:
    conn = server.connect("bench")
    with conn.cursor() as cur:
        live: list[int] = []
        next_id = 0
        for i in range(changes):
            kind = i % 10
            if kind < 5 or not live:
                cur.execute(
                    "INSERT INTO oltp VALUES (%s, %s, 'deposit', %s, %s, CURDATE(), NOW(3), %s, 1, 'eu')",
                    (next_id, next_id * 7, next_id % 5000 + 0.5, next_id / 3, f"account {next_id}"),
                )
                live.append(next_id)
                next_id += 1
            elif kind < 9:
                cur.execute(
                    "UPDATE oltp SET balance = balance + 1, touched = NOW(3) WHERE id = %s", (live[i % len(live)],)
                )
            else:
                cur.execute("DELETE FROM oltp WHERE id = %s", (live.pop(i % len(live)),))
    conn.close()


# --------------------------------------------------------------------------- the measures (child processes)


def bench_settings(port: int, home: Path, table: str) -> Settings:
    (home / "tables.yml").write_text(f'tables:\n  - name: "bench.{table}"\n')
    return load_settings(
        mysql_url=f"mysql://root@127.0.0.1:{port}",
        store_url=f"file://{home / 'objects'}",
        warehouse_url=f"duckdb:///{home / 'w.duckdb'}",
        tables_file=home / "tables.yml",
        log_level="warning",
    )


def bare(port: int, start: BinlogPosition, end: BinlogPosition) -> int:
    stream = BinLogStreamReader(
        connection_settings={"host": "127.0.0.1", "port": port, "user": "root", "password": ""},
        server_id=424242,
        blocking=True,
        resume_stream=True,
        log_file=start.file,
        log_pos=start.pos,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent],
        enable_logging=False,
    )
    changes = 0
    try:
        for event in stream:
            if not isinstance(event, XidEvent):
                changes += len(event.rows)
            if stream.log_file == end.file and stream.log_pos >= end.pos:
                break
    finally:
        stream.close()
    return changes


def capture_only(settings: Settings, end: BinlogPosition) -> int:
    """The capture half of ``run``: binlog → Parquet objects and checkpoints, nothing loaded."""
    prepared = prepare(settings, "bench", "analytics", "earliest")
    assert prepared.start is not None
    policy = FlushPolicy(settings.batch_max_rows, settings.batch_max_bytes, settings.batch_max_age_seconds)
    capture = Capture(
        store=prepared.store, source_db="bench", target_schema="analytics",
        tables=[t for _, t in prepared.binlog_tables], policy=policy, start=prepared.start,
    )  # fmt: skip

    def open_reader(tables: dict[str, SourceTable], start: BinlogPosition, quarantined: dict[str, str]) -> BinlogReader:
        server_id = default_server_id("bench", "analytics")
        return BinlogReader(
            settings.mysql(), server_id, "bench", tables, start, settings.heartbeat_seconds, prepared.gtid, quarantined
        )

    capture.read(open_reader, lambda position: position.at_or_after(end))
    capture.flush_all()
    return capture.changes_total


def position(text: str) -> BinlogPosition:
    file, pos = text.rsplit(":", 1)
    return BinlogPosition(file, int(pos))


def child(args: argparse.Namespace) -> None:
    configure_logging(level="warning")
    start, end = position(args.start), position(args.end)
    home = Path(args.home)
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    if args.measure == "a":
        changes = bare(args.port, start, end)
    elif args.measure == "b":
        changes = capture_only(bench_settings(args.port, home, args.table), end)
    else:
        changes = run(bench_settings(args.port, home, args.table), "bench", "analytics", until_caught_up=True).changes
    seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"changes": changes, "seconds": seconds, "rss_mb": rss}))


def measure(port: int, measure: str, start: BinlogPosition, end: BinlogPosition, home: Path, table: str,
            profile: bool) -> dict[str, Any]:  # fmt: skip
    command = [sys.executable, "-m", "bench.throughput", "--child", measure, "--port", str(port),
               "--start", str(start), "--end", str(end), "--home", str(home), "--table", table]  # fmt: skip
    if profile:
        command.append("--profile-child")
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- the run


def workload_figures(
    server: MariaDBServer, root: Path, name: str, size: int, profile: str | None, repeat: int
) -> list[str]:
    """Write one workload, then run each measure ``repeat`` times, interleaved (a, b, c, a, b, c,
    …) so that a slow spell of a shared machine falls on all of them; report the median run."""
    table = name  # each workload has its own table of the same name
    homes = {(m, r): root / f"{name}-{m}-{r}" for m in "bc" for r in range(repeat)}
    for home in homes.values():
        home.mkdir()
        # A checkpoint at the current position: the measured runs start where the workload does.
        settings = bench_settings(server.port, home, table)
        run(settings, "bench", "analytics", until_caught_up=True, start_position="current")
    conn = server.connect()
    start = current_position(conn)
    started = time.perf_counter()
    (bulk_workload if name == "bulk" else oltp_workload)(server, size)
    written_s = time.perf_counter() - started
    end = current_position(conn)
    conn.close()
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in "abc"}
    for r in range(repeat):
        for m in "abc":
            home = homes.get((m, r), root)
            runs[m].append(measure(server.port, m, start, end, home, table, profile == m and r == 0))
    lines = [f"{name}: {size:,} changes written in {written_s:.1f} s ({size / written_s:,.0f}/s by one client),"
             f" binlog {start} → {end}; median of {repeat} runs"]  # fmt: skip
    base = 0.0
    for m in "abc":
        seconds = statistics.median(got["seconds"] for got in runs[m])
        changes = runs[m][0]["changes"]
        rate = changes / seconds
        base = base or rate
        spread = ", ".join(f"{changes / got['seconds']:,.0f}" for got in runs[m])
        lines.append(f"  {MEASURES[m]:34} {changes:9,d} {seconds:8.2f} {rate:10,.0f} {rate / base:6.2f}"
                     f" {max(got['rss_mb'] for got in runs[m]):7.0f}   ({spread})")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bulk", type=int, default=300_000, help="changes of the bulk workload")
    parser.add_argument("--oltp", type=int, default=30_000, help="single-row transactions of the OLTP workload")
    parser.add_argument("--snapshot-rows", type=int, default=300_000, help="0: no snapshot measure")
    parser.add_argument("--only", choices=["bulk", "oltp"])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is reported")
    parser.add_argument("--profile", choices=list("abc"), help="print a cProfile of this measure")
    parser.add_argument("--child", choices=list("abc"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start", help=argparse.SUPPRESS)
    parser.add_argument("--end", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.measure, args.profile = args.child, args.profile_child
        child(args)
        return
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory(prefix="s3rb-bench-") as tmp, MariaDBServer() as server:
        server.execute("CREATE DATABASE bench", BULK_TABLE, OLTP_TABLE)
        print(f"  {'measure':34} {'changes':>9} {'seconds':>8} {'changes/s':>10} {'ratio':>6} {'RSS MB':>7}"
              "   (changes/s of each run)")  # fmt: skip
        for name, size in (("bulk", args.bulk), ("oltp", args.oltp)):
            if args.only in (None, name):
                print("\n".join(workload_figures(server, Path(tmp), name, size, args.profile, args.repeat)), flush=True)
    if args.snapshot_rows and args.only is None:
        subprocess.run([sys.executable, "-m", "bench.snapshot", "--rows", str(args.snapshot_rows)], check=True)


if __name__ == "__main__":
    main()
