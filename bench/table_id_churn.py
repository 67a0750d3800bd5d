"""The daemon's memory while the source keeps giving its tables new ids.

    .venv/bin/python -m bench.table_id_churn [--minutes 60] [--tables 40] [--flush-every 1]

MySQL and MariaDB give a table a new id each time they open it again: after ``FLUSH TABLES``
(backup tools run it) or when the table cache is smaller than the number of tables. This starts a
throwaway MariaDB with ``--tables`` tables, writes a row to a random one every few milliseconds,
runs ``FLUSH TABLES`` every ``--flush-every`` seconds, and runs the daemon (``run``) in this
process into DuckDB through a local store. Every minute it prints the process's resident memory
(floor and peak over the minute, from /proc/self/status), the table ids seen so far and the
decoders compiled. Flat means: the floor and the peak of the last minutes are those of the first
(after warm-up). At the end the target is compared with the source. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

from s3rb_stream import log as logging_setup
from s3rb_stream.pipeline.runner import run
from s3rb_stream.pipeline.types import RunResult, StopFlag
from s3rb_stream.settings import load_settings
from s3rb_stream.sources.row_decoder import DECODERS
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.mariadb import MariaDBServer


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write(
    server: MariaDBServer, tables: int, flush_every: float, stop: threading.Event, counts: dict[str, int]
) -> None:
    rng = random.Random(11)
    conn = server.connect("churn")
    last_flush = time.monotonic()
    with conn.cursor() as cur:
        while not stop.is_set():
            table = rng.randrange(tables)
            cur.execute(f"INSERT INTO t{table} (v, note) VALUES (%s, %s)", (rng.random(), f"row {counts['rows']}"))
            counts["rows"] += 1
            if time.monotonic() - last_flush >= flush_every:
                cur.execute("FLUSH TABLES")
                counts["flushes"] += 1
                last_flush = time.monotonic()
            time.sleep(0.002)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--tables", type=int, default=40)
    parser.add_argument("--flush-every", type=float, default=1.0)
    args = parser.parse_args()
    logging_setup.configure("json", "warning")  # the figures, not the daemon's log lines
    home = Path(tempfile.mkdtemp(prefix="s3rb-churn-"))
    server = MariaDBServer(basedir=home / "mariadb", port=0).start()
    try:
        server.execute(
            "CREATE DATABASE churn",
            *(f"CREATE TABLE churn.t{i} (id INT AUTO_INCREMENT PRIMARY KEY, v DOUBLE, note VARCHAR(40))"
              for i in range(args.tables)),
        )  # fmt: skip
        (home / "tables.yml").write_text('tables:\n  - name: "churn.*"\n')
        settings = load_settings(
            mysql_url=server.url,
            store_url=f"file://{home / 'objects'}",
            warehouse_url=f"duckdb:///{home / 'w.duckdb'}",
            tables_file=home / "tables.yml",
            batch_max_age_seconds=2,
            load_interval_seconds=2,
        )
        stop, halt = StopFlag(), threading.Event()
        outcome: list[RunResult] = []
        daemon = threading.Thread(target=lambda: outcome.append(run(settings, "churn", "a", stop=stop)), daemon=True)
        counts = {"rows": 0, "flushes": 0}
        writer = threading.Thread(target=write, args=(server, args.tables, args.flush_every, halt, counts), daemon=True)
        daemon.start()
        writer.start()
        print("minute  rows written  FLUSH TABLES  RSS floor MB  RSS peak MB  decoders compiled")
        end = time.monotonic() + args.minutes * 60
        minute = 0
        while time.monotonic() < end and daemon.is_alive():
            minute += 1
            samples = []
            until = min(end, time.monotonic() + 60)
            while time.monotonic() < until:
                samples.append(rss_mb())
                time.sleep(1)
            print(f"{minute:6d}  {counts['rows']:12,}  {counts['flushes']:12,}  {min(samples):12.0f}"
                  f"  {max(samples):11.0f}  {DECODERS.compiles:17,}", flush=True)  # fmt: skip
        halt.set()
        writer.join()
        time.sleep(3)
        stop.stopping = True
        daemon.join(timeout=300)
        warehouse = DuckDBWarehouse(str(home / "w.duckdb"), read_only=True)
        try:
            loaded = sum(
                int(str(warehouse.query(f"SELECT COUNT(*) FROM {warehouse.table_sql('a', f't{i}')}")[0][0]))
                for i in range(args.tables)
            )
        finally:
            warehouse.close()
        print(f"rows written {counts['rows']:,}, rows in the target {loaded:,}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
