"""Snapshot throughput against the ``mariadb`` command-line client reading the same table, in one run.

    .venv/bin/python -m bench.snapshot [--rows 1000000] [--chunk-rows 50000] [--repeat 3] [--profile]

Starts a throwaway MariaDB, fills an 8-column table of mixed types (written with sql_log_bin=0:
only a snapshot can deliver it), then measures:
  (a) ``mariadb --batch --quick -e 'SELECT * FROM t' > /dev/null``, the baseline;
  (f) the same keyset pages fetched with mysqlclient (the C client library snapshots read through),
      nothing converted or written: the ceiling of (b);
  (b) ``snapshot --no-load``: pages → Arrow → zstd Parquet objects in a local store;
  (c) ``snapshot`` with the load into DuckDB.
Each runs ``--repeat`` times, interleaved (a, b, c, a, b, c, …); prints the median run's rows/s, its
ratio to (a)'s median, every run's rows/s, and the peak RSS. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.log import configure as configure_logging
from s3rb_stream.settings import Settings, load_settings, parse_mysql_url
from s3rb_stream.sources.query_reader import QueryReader
from s3rb_stream.testing.mariadb import MariaDBServer

TABLE = """CREATE TABLE bench.orders (
  id INT PRIMARY KEY, customer_id BIGINT NOT NULL, status VARCHAR(20), amount DECIMAL(12,2),
  created_at DATETIME(6), updated_at TIMESTAMP(6) NULL, note TEXT, score DOUBLE)"""


def fill(server: MariaDBServer, rows: int) -> None:
    conn = server.connect("bench")
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_log_bin = 0")
        for start in range(0, rows, 5000):
            values = ",".join(
                f"({i}, {i % 977}, 'new', {i % 10000}.25, NOW(6), NOW(6), 'note {i} ✓', {i / 7})"
                for i in range(start, min(start + 5000, rows))
            )
            cur.execute(f"INSERT INTO orders VALUES {values}")
    conn.close()


def client_read(server: MariaDBServer) -> float:
    started = time.perf_counter()
    command = ["mariadb", "--batch", "--quick", "-h", "127.0.0.1", "-P", str(server.port), "-uroot"]
    subprocess.run(
        [*command, "-e", "SELECT * FROM bench.orders"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def library_read(server: MariaDBServer, rows: int, chunk_rows: int) -> float:
    """The client library alone: the snapshot's keyset pages fetched with mysqlclient, nothing converted
    or written (the ceiling of a snapshot that goes through it)."""
    reader = QueryReader(parse_mysql_url(server.url, None))
    started = time.perf_counter()
    last = -1
    while True:
        page = reader.execute("SELECT * FROM bench.orders WHERE id > %s ORDER BY id LIMIT %s", (last, chunk_rows))
        if len(page) < chunk_rows:
            break
        last = int(page[-1][0] or 0)
    seconds = time.perf_counter() - started
    reader.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is reported")
    parser.add_argument("--profile", action="store_true", help="cProfile (b) and print the top functions")
    args = parser.parse_args()
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory(prefix="s3rb-bench-") as tmp, MariaDBServer() as server:
        root = Path(tmp)
        server.execute("CREATE DATABASE bench", TABLE)
        fill(server, args.rows)
        (root / "tables.yml").write_text('tables:\n  - name: "bench.orders"\n')

        def settings(name: str) -> Settings:
            return load_settings(
                mysql_url=server.url,
                store_url=f"file://{root / name}",
                warehouse_url=f"duckdb:///{root / (name + '.duckdb')}",
                tables_file=root / "tables.yml",
                snapshot_chunk_rows=args.chunk_rows,
                log_level="warning",
            )

        client_read(server)  # warm the buffer pool for every reader alike
        seconds: dict[str, list[float]] = {"a": [], "f": [], "b": [], "c": []}
        rows: dict[str, int] = {"a": args.rows, "f": args.rows}
        profiler = cProfile.Profile() if args.profile else None
        for run in range(args.repeat):  # interleaved: a slow spell of a shared machine falls on all three
            seconds["a"].append(client_read(server))
            seconds["f"].append(library_read(server, args.rows, args.chunk_rows))
            started = time.perf_counter()
            if profiler and run == 0:
                profiler.enable()
            written = snapshot(settings(f"objects{run}"), "bench", "analytics", load=False)
            if profiler and run == 0:
                profiler.disable()
            seconds["b"].append(time.perf_counter() - started)
            rows["b"] = written.rows["orders"]
            started = time.perf_counter()
            loaded = snapshot(settings(f"loaded{run}"), "bench", "analytics", load=True)
            seconds["c"].append(time.perf_counter() - started)
            rows["c"] = loaded.rows["orders"]

        base = args.rows / statistics.median(seconds["a"])
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'measure':46} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'ratio':>6}   (rows/s of each run)")
        for key, label in (
            ("a", "(a) mariadb --batch --quick > /dev/null"),
            ("f", "(f) mysqlclient pages alone, nothing converted"),
            ("b", "(b) snapshot --no-load: → Parquet objects"),
            ("c", "(c) snapshot: → Parquet → DuckDB"),
        ):
            median = statistics.median(seconds[key])
            rate = rows[key] / median
            each = ", ".join(f"{rows[key] / s:,.0f}" for s in seconds[key])
            print(f"{label:46} {rows[key]:9,d} {median:8.2f} {rate:10,.0f} {rate / base:6.2f}   ({each})")
        print(f"median of {args.repeat} runs; peak RSS of this process: {peak_mb:.0f} MB")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
