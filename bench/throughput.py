"""Binlog → DuckDB throughput against bare python-mysql-replication, in one run.

    .venv/bin/python -m bench.throughput [--changes 200000] [--profile]

Starts a throwaway MariaDB, writes a mixed workload (multi-row inserts, updates, deletes on an
8-column table), then measures on the same binlog range:
  (a) bare pymysqlreplication iterating the row images;
  (b) ``run --until-caught-up`` into DuckDB through the local object store.
Prints changes/s for each and the ratio (b)/(a). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import tempfile
import time
from pathlib import Path

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import load_settings
from s3rb_stream.sources.mysql_meta import current_position
from s3rb_stream.testing.mariadb import MariaDBServer

TABLE = """CREATE TABLE bench.orders (
  id INT PRIMARY KEY, customer_id BIGINT NOT NULL, status VARCHAR(20), amount DECIMAL(12,2),
  created_at DATETIME(6), updated_at TIMESTAMP(6) NULL, note TEXT, score DOUBLE)"""


def workload(server: MariaDBServer, changes: int) -> dict[str, int]:
    inserts = int(changes * 0.6)
    updates = int(changes * 0.3)
    deletes = changes - inserts - updates
    conn = server.connect("bench")
    with conn.cursor() as cur:
        chunk = 1000
        for start in range(0, inserts, chunk):
            rows = ",".join(
                f"({i}, {i % 977}, 'new', {i % 10000}.25, NOW(6), NOW(6), 'note {i} ✓', {i / 7})"
                for i in range(start, min(start + chunk, inserts))
            )
            cur.execute(f"INSERT INTO orders VALUES {rows}")
        for start in range(0, updates, chunk):
            cur.execute(
                f"UPDATE orders SET status = 'paid', amount = amount + 1, updated_at = NOW(6)"
                f" WHERE id >= {start} AND id < {min(start + chunk, updates)}"
            )
        cur.execute(f"DELETE FROM orders WHERE id >= {inserts - deletes}")
    conn.close()
    return {"inserts": inserts, "updates": updates, "deletes": deletes}


def bare_iteration(server: MariaDBServer, start_file: str, start_pos: int, end_pos: int, end_file: str) -> int:
    stream = BinLogStreamReader(
        connection_settings={"host": "127.0.0.1", "port": server.port, "user": "root", "password": ""},
        server_id=424242,
        blocking=True,
        resume_stream=True,
        log_file=start_file,
        log_pos=start_pos,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent],
        enable_logging=False,
    )
    images = 0
    try:
        for event in stream:
            if not isinstance(event, XidEvent):
                images += len(event.rows)
            if stream.log_file == end_file and stream.log_pos >= end_pos:
                break
    finally:
        stream.close()
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true", help="cProfile (b) and print the top functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s3rb-bench-") as tmp, MariaDBServer() as server:
        root = Path(tmp)
        server.execute("CREATE DATABASE bench", TABLE)
        (root / "tables.yml").write_text('tables:\n  - name: "bench.orders"\n')
        settings = load_settings(
            mysql_url=server.url,
            store_url=f"file://{root / 'objects'}",
            warehouse_url=f"duckdb:///{root / 'w.duckdb'}",
            tables_file=root / "tables.yml",
        )
        run(settings, "bench", "analytics", until_caught_up=True, start_position="current")
        conn = server.connect()
        start = current_position(conn)
        mix = workload(server, args.changes)
        end = current_position(conn)
        conn.close()
        print(f"workload: {mix} in binlog {start} → {end}")

        t0 = time.perf_counter()
        images = bare_iteration(server, start.file, start.pos, end.pos, end.file)
        bare_s = time.perf_counter() - t0

        profiler = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        result = run(settings, "bench", "analytics", until_caught_up=True)
        if profiler:
            profiler.disable()
        pipeline_s = time.perf_counter() - t0

        bare_rate = images / bare_s
        pipe_rate = result.changes / pipeline_s
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'measure':48} {'changes':>9} {'seconds':>8} {'changes/s':>10} {'ratio':>6}")
        print(f"{'(a) bare pymysqlreplication iteration':48} {images:9d} {bare_s:8.2f} {bare_rate:10.0f} {1:6.2f}")
        print(
            f"{'(b) run --until-caught-up: binlog → DuckDB':48} {result.changes:9d} {pipeline_s:8.2f}"
            f" {pipe_rate:10.0f} {pipe_rate / bare_rate:6.2f}"
        )
        print(f"peak RSS of this process: {peak_mb:.0f} MB; rows loaded: {result.loaded.rows}")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
