"""How long writes wait while a snapshot on MySQL's path takes its lock.

    .venv/bin/python -m bench.snapshot_lock [--seconds 5] [--writers 2] [--every 0.2]

Starts a throwaway MariaDB and hides its exact snapshot position (as MySQL has none), so that
every snapshot reads its position under the lock of ``S3RB_SNAPSHOT_LOCKING``. Writers run small
transactions (an UPDATE and an INSERT, then COMMIT) as fast as they can, on ``locked`` (the
snapshotted table) and on ``other`` (not snapshotted); each transaction's latency is recorded.
Three phases of ``--seconds`` each: no snapshots (the baseline), then a snapshot opened every
``--every`` seconds with ``tables`` (LOCK TABLES ... READ), then with ``global`` (FLUSH TABLES
WITH READ LOCK). Prints, per phase and table, the transactions, their p50, p99 and max latency,
and how long each lock waited and was held. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import threading
import time
from dataclasses import dataclass

from s3rb_stream.core.snapshot_lock import Method, SnapshotLock
from s3rb_stream.settings import parse_mysql_url
from s3rb_stream.sources.query_reader import QueryReader
from s3rb_stream.sql import mysql as q
from s3rb_stream.testing import commit_window
from s3rb_stream.testing.mariadb import MariaDBServer

TABLES = ("locked", "other")
_SEEDS = itertools.count(1)  # each writer inserts keys of its own


Span = tuple[float, float]  # start and end, time.perf_counter()


@dataclass
class Lock:
    span: Span  # from the lock statement to the unlock
    waited: float
    held: float


def writer(server: MariaDBServer, table: str, seed: int, work: float, stop: threading.Event, spans: list[Span]) -> None:
    """Transactions of an UPDATE, ``work`` seconds of the application's time, an INSERT, COMMIT."""
    conn = server.connect("bench", autocommit=False)
    n = seed * 10_000_000
    with conn.cursor() as cur:
        while not stop.is_set():
            n += 1
            started = time.perf_counter()
            cur.execute(f"UPDATE {table} SET v = v + 1 WHERE id = %s", (n % 1000,))
            if work:
                time.sleep(work)
            cur.execute(f"INSERT INTO {table} VALUES (%s, 0)", (n,))
            conn.commit()
            spans.append((started, time.perf_counter()))
    conn.close()


def snapshots(server: MariaDBServer, method: Method, every: float, stop: threading.Event, locks: list[Lock]) -> None:
    reader = QueryReader(parse_mysql_url(server.url, None))
    try:
        while not stop.wait(every):
            started = time.perf_counter()
            opened = reader.begin_snapshot(SnapshotLock(method, "bench", ["locked"], 10))
            span = (started, started + opened.lock_waited + opened.lock_held)
            reader.commit()
            locks.append(Lock(span, opened.lock_waited, opened.lock_held))
    finally:
        reader.close()


def line(what: str, spans: list[Span]) -> str:
    ms = sorted((end - start) * 1000 for start, end in spans)
    if not ms:
        return f"{what:22} no transactions"
    p99 = ms[max(int(len(ms) * 0.99) - 1, 0)]
    return (
        f"{what:22} {len(ms):6} transactions  p50 {statistics.median(ms):6.2f} ms"
        f"  p99 {p99:6.2f} ms  max {ms[-1]:7.2f} ms"
    )


def phase(server: MariaDBServer, method: Method | None, args: argparse.Namespace) -> None:
    stop = threading.Event()
    spans: dict[str, list[Span]] = {t: [] for t in TABLES}
    locks: list[Lock] = []
    work = args.work_ms / 1000
    threads = [
        threading.Thread(target=writer, args=(server, table, next(_SEEDS), work, stop, spans[table]))
        for _ in range(args.writers)
        for table in TABLES
    ]
    if method is not None:
        threads.append(threading.Thread(target=snapshots, args=(server, method, args.every, stop, locks)))
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    name = method or "no snapshots"
    for table in TABLES:
        print(line(f"{name} {table}", spans[table]))
        if locks:  # the transactions that were under way at some moment of a lock
            during = [t for t in spans[table] if any(t[0] < lock.span[1] and t[1] > lock.span[0] for lock in locks)]
            print(line(f"{name} {table} in lock", during))
    if locks:
        waited = sorted(lock.waited * 1000 for lock in locks)
        held = sorted(lock.held * 1000 for lock in locks)
        print(
            f"{name} {len(locks)} locks: waited p50 {statistics.median(waited):.2f} ms, max {waited[-1]:.2f} ms;"
            f" held p50 {statistics.median(held):.2f} ms, max {held[-1]:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=2, help="writer threads per table")
    parser.add_argument("--every", type=float, default=0.2, help="seconds between snapshots")
    parser.add_argument("--work-ms", type=float, default=0.0, help="application time inside each transaction")
    args = parser.parse_args()
    q.SNAPSHOT_POSITION = commit_window.STATUS_MYSQL_LACKS  # MySQL's path: no exact snapshot position
    with MariaDBServer() as server:
        server.execute("CREATE DATABASE bench")
        for table in TABLES:
            server.execute(f"CREATE TABLE bench.{table} (id BIGINT PRIMARY KEY, v INT)")
            server.execute(f"INSERT INTO {table} SELECT seq, 0 FROM seq_0_to_999", database="bench")
        methods: list[Method | None] = [None, "tables", "global"]
        for method in methods:
            phase(server, method, args)


if __name__ == "__main__":
    main()
