"""Memory at size: peak RSS of ``run --until-caught-up`` for one huge transaction and for many tables.

    .venv/bin/python -m bench.size [--rows 1000000] [--tables 100]

Starts a throwaway MariaDB and measures the daemon as a subprocess (its own peak RSS, from GNU
``time``):
  (1) one transaction of ``--rows`` inserts into an 8-column table (INSERT ... SELECT from a sequence);
  (2) ``--tables`` tables active at once: 50 transactions, each inserting 20 rows into every table.
Prints changes, seconds, changes/s and peak RSS. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s3rb_stream.testing.mariadb import MariaDBServer

WIDE = """CREATE TABLE big (
  id INT PRIMARY KEY, customer_id BIGINT NOT NULL, status VARCHAR(20), amount DECIMAL(12,2),
  created_at DATETIME(6), updated_at TIMESTAMP(6) NULL, note TEXT, score DOUBLE)"""


def measure(server: MariaDBServer, work: Path, db: str, tables_yml: str, write: list[str]) -> tuple[float, int]:
    """Write with the daemon's checkpoint taken first, then catch up in a child: (seconds, peak RSS bytes)."""
    (work / "tables.yml").write_text(tables_yml)
    env = {
        **os.environ,
        "S3RB_MYSQL_URL": server.url,
        "S3RB_STORE_URL": f"file://{work / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{work / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(work / "tables.yml"),
        "S3RB_LOG_LEVEL": "warning",
    }
    args = [sys.executable, "-m", "s3rb_stream", "run", "--source-db", db, "--target-schema", db, "--until-caught-up"]
    subprocess.run([*args, "--start-position", "current"], env=env, check=True)
    server.execute(*write, database=db)
    # The child's own peak: GNU time reports it for a process it started itself. The maximum RSS
    # that wait4 reports for a child of this process also counts this process's memory at the fork.
    gnu_time = shutil.which("time") or "/usr/bin/time"
    report = work / "peak_kb"
    started = time.monotonic()
    if os.access(gnu_time, os.X_OK):
        subprocess.run([gnu_time, "-f", "%M", "-o", str(report), *args], env=env, check=True)
        return time.monotonic() - started, int(report.read_text().split()[-1]) * 1024
    child = subprocess.Popen(args, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the run failed with {os.waitstatus_to_exitcode(status)}")
    print("(no GNU time here: the peak RSS below includes this process's at the fork)")
    return time.monotonic() - started, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tables", type=int, default=100)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="s3rb-size-") as tmp, MariaDBServer() as server:
        server.execute("CREATE DATABASE one_txn", "CREATE DATABASE many_tables")
        server.execute(WIDE, database="one_txn")
        work = Path(tmp) / "one_txn"
        work.mkdir()
        fill = (
            f"INSERT INTO big SELECT seq, seq % 977, 'new', (seq % 10000) + 0.25, NOW(6), NOW(6),"
            f" CONCAT('note ', seq, ' ✓'), seq / 7 FROM seq_1_to_{args.rows}"
        )
        seconds, rss = measure(server, work, "one_txn", 'tables:\n  - name: "one_txn.big"\n', [fill])
        results.append((f"one transaction of {args.rows:,} rows", args.rows, seconds, rss))

        names = [f"t{i:03d}" for i in range(args.tables)]
        server.execute(*(f"CREATE TABLE {n} (id INT PRIMARY KEY, v VARCHAR(40), n BIGINT)" for n in names),
                       database="many_tables")  # fmt: skip
        work = Path(tmp) / "many_tables"
        work.mkdir()
        writes = []
        for txn in range(50):
            body = ";".join(
                f"INSERT INTO {n} VALUES " + ",".join(f"({txn * 20 + r}, 'value {r}', {r})" for r in range(20))
                for n in names
            )
            writes.append(f"BEGIN NOT ATOMIC START TRANSACTION; {body}; COMMIT; END")
        seconds, rss = measure(server, work, "many_tables", 'tables:\n  - name: "many_tables.*"\n', writes)
        changes = 50 * 20 * args.tables
        results.append((f"{args.tables} tables active at once", changes, seconds, rss))
    print(f"{'scenario':<36} {'changes':>10} {'seconds':>8} {'changes/s':>10} {'peak RSS':>10}")
    for name, changes, seconds, rss in results:
        print(f"{name:<36} {changes:>10,} {seconds:>8.1f} {changes / seconds:>10,.0f} {rss / 2**20:>8.0f} MB")


if __name__ == "__main__":
    main()
