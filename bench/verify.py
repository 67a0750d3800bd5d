"""``verify`` of a table equal on both sides, against a ``snapshot`` of the same table; then with
differing rows.

    .venv/bin/python -m bench.verify [--rows 1000000] [--differ 100] [--repeat 3]

Starts a throwaway MariaDB, fills an 8-column table of mixed types (written with sql_log_bin=0),
snapshots it into DuckDB (the run that measures ``snapshot``), then measures:

  (s) ``snapshot --no-load`` of the table: what reading it whole costs;
  (v) ``verify`` of the equal table;
  (d) ``verify`` after ``--differ`` rows were changed in the target, each one found.

For each: wall time (the median of ``--repeat``, interleaved), the bytes the source server sent
(its ``Bytes_sent`` status, which counts the protocol's bytes), the payload read from the target
(DuckDB is embedded: nothing crosses a network, the payload is what a networked warehouse would
send), and the peak RSS of the measure (VmHWM, reset before it through /proc/self/clear_refs).
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.commands.verify import verify
from s3rb_stream.log import configure as configure_logging
from s3rb_stream.settings import Settings, load_settings
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.mariadb import MariaDBServer

TABLE = """CREATE TABLE bench.orders (
  id INT PRIMARY KEY, customer_id BIGINT NOT NULL, status VARCHAR(20), amount DECIMAL(12,2),
  created_at DATETIME(6), updated_at TIMESTAMP(6) NULL, note TEXT, code VARBINARY(16))"""


def fill(server: MariaDBServer, rows: int) -> None:
    conn = server.connect("bench")
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_log_bin = 0")
        for start in range(0, rows, 5000):
            values = ",".join(
                f"({i}, {i % 977}, 'new', {i % 10000}.25, NOW(6), NOW(6), 'note {i} ✓', UNHEX('{i:08x}'))"
                for i in range(start, min(start + 5000, rows))
            )
            cur.execute(f"INSERT INTO orders VALUES {values}")
    conn.close()


def bytes_sent(server: MariaDBServer) -> int:
    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE 'Bytes_sent'")
        row = cur.fetchone()
    conn.close()
    return int(row[1])


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Measure:
    def __init__(self, label: str) -> None:
        self.label = label
        self.seconds: list[float] = []
        self.source_bytes: list[int] = []
        self.target_bytes: list[int] = []
        self.peak: list[float] = []
        self.note = ""

    def run(self, server: MariaDBServer, work: Callable[[], int]) -> None:
        reset_peak()
        before = bytes_sent(server)
        started = time.perf_counter()
        target = work()
        self.seconds.append(time.perf_counter() - started)
        self.source_bytes.append(bytes_sent(server) - before)
        self.target_bytes.append(target)
        self.peak.append(peak_mb())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--differ", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is reported")
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
                warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
                tables_file=root / "tables.yml",
                log_level="warning",
            )

        loaded = settings("loaded")
        snapshot(loaded, "bench", "analytics")  # the target, equal to the source

        def read_whole(run: int) -> int:
            snapshot(settings(f"objects{run}"), "bench", "analytics", load=False)
            return 0

        found: dict[str, Any] = {}

        def check(key: str) -> int:
            result = verify(loaded, "bench", "analytics")
            table = result.tables[0]
            found[key] = table
            return table.bytes_target

        s, v, d = Measure("(s) snapshot --no-load"), Measure("(v) verify, equal"), Measure("(d) verify, differing")
        rng = random.Random(1)
        for run in range(args.repeat):  # interleaved: a slow spell of a shared machine falls on all
            s.run(server, lambda run=run: read_whole(run))  # type: ignore[misc]
            v.run(server, lambda: check("v"))
            ids = rng.sample(range(args.rows), args.differ)
            wh = DuckDBWarehouse(loaded.warehouse().path)
            try:
                table = wh.table_sql("analytics", "orders")
                wh.query(f"UPDATE {table} SET note = note || ' changed' WHERE id IN ({', '.join(map(str, ids))})")
            finally:
                wh.close()
            d.run(server, lambda: check("d"))
            snapshot(loaded, "bench", "analytics", restart=True)  # equal again for the next run

        base_seconds, base_bytes = statistics.median(s.seconds), statistics.median(s.source_bytes)
        print(f"{args.rows:,} rows, 8 columns; median of {args.repeat} runs")
        head = f"{'measure':26} {'seconds':>8} {'vs (s)':>7} {'source bytes':>14} {'vs (s)':>7}"
        print(f"{head} {'target payload':>15} {'peak RSS':>9}   (seconds of each run)")
        for m in (s, v, d):
            sec, sent = statistics.median(m.seconds), statistics.median(m.source_bytes)
            each = ", ".join(f"{x:.2f}" for x in m.seconds)
            print(
                f"{m.label:26} {sec:8.2f} {sec / base_seconds:7.2f} {sent:14,.0f} {sent / base_bytes:7.3f}"
                f" {statistics.median(m.target_bytes):15,.0f} {max(m.peak):8.0f}M   ({each})"
            )
        for key, label in (("v", "equal"), ("d", "differing")):
            t = found[key]
            print(
                f"verify, {label} (last run): {len(t.differences)} differences, {t.ranges} ranges and"
                f" {t.rows_compared} rows compared; seconds in the source's queries {t.seconds_source:.2f},"
                f" the target's {t.seconds_target:.2f} (beside them), waiting {t.seconds_waiting:.2f}"
            )


if __name__ == "__main__":
    main()
