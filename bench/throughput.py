"""Binlog throughput against bare python-mysql-replication and the raw binlog transport, and
snapshot throughput against the ``mariadb`` client, in one run.

    .venv/bin/python -m bench.throughput [--bulk 300000] [--oltp 30000] [--shape-bulk 300000]
        [--shape-oltp 30000] [--big-txn 1000000] [--snapshot-rows 300000] [--repeat 3]
    .venv/bin/python -m bench.throughput --only bulk --only shape_bulk   # some workloads, no snapshot
    .venv/bin/python -m bench.throughput --profile c --only oltp         # cProfile one measure

Starts a throwaway MariaDB and writes these workloads, one after the other, each on its own table
(a workload of size 0 is skipped):
  bulk        multi-row inserts, updates and deletes (1,000 rows a statement) on a 14-column table
              of mixed types; ``--bulk`` changes;
  oltp        single-row transactions (inserts, updates, deletes) on a 10-column table;
              ``--oltp`` transactions;
  shape_bulk  on the 10-column shape of ``bench.shape`` (integers, VARCHAR, DECIMAL, DOUBLE,
              DATETIME(6), TIMESTAMP(6), JSON): 2,000-row inserts, then updates of 25% and deletes
              of 12% of the inserted rows, 2,000 rows a statement; ``--shape-bulk`` changes in all;
  shape_oltp  single-row autocommit transactions on the same shape, 50% inserts, 40% updates,
              10% deletes; ``--shape-oltp`` transactions;
  big_txn     ``--big-txn`` rows of the same shape inserted in ONE transaction (INSERT … SELECT
              from the SEQUENCE engine's seq_0_to_N).
The changes of a workload are the rows the server reports inserted, updated and deleted; its line
gives the rate of the one client that wrote them. Then, for each, on the same binlog range, each
measure runs in its own process (so that its peak RSS is its own), three times by default,
interleaved; the median run is reported:
  (a) bare pymysqlreplication iterating the row images (the baseline);
  (b) capture: binlog → Parquet objects in a local store, checkpoint included;
  (c) the whole ``run --until-caught-up`` into DuckDB;
  (r) raw transport: ``mariadb-binlog --read-from-remote-server --raw`` copying the range's binlog
      bytes to files, no decoding (the workload's changes over its time; RSS is mariadb-binlog's).
It prints changes/s, the ratio of each to (a), the peak RSS of the measuring process (its own
VmHWM; for (r), mariadb-binlog's), (c) as a share of (r), and (c) against the one writing client.
Then the snapshot of a table of ``--snapshot-rows`` rows against ``mariadb --batch --quick`` (see
bench/snapshot.py; not with ``--only``), and last the workloads' figures again as Markdown tables
for docs/benchmarks.md. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from s3rb_stream import process
from s3rb_stream.core.batching import FlushPolicy
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.log import configure as configure_logging
from s3rb_stream.pipeline.capture import Capture
from s3rb_stream.pipeline.runner import default_server_id, prepare, run
from s3rb_stream.settings import Settings, load_settings
from s3rb_stream.sources.binlog import BinlogReader, Resolver
from s3rb_stream.sources.mysql_meta import current_position
from s3rb_stream.testing.mariadb import MariaDBServer

BULK_TABLE = """CREATE TABLE bench.bulk (
  id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(20), amount DECIMAL(12,2),
  qty SMALLINT, price DOUBLE, rate FLOAT, created_at DATETIME(6), updated_at TIMESTAMP(6) NULL,
  note VARCHAR(200), body TEXT, flag TINYINT, day DATE, code CHAR(8))"""
OLTP_TABLE = """CREATE TABLE bench.oltp (
  id INT PRIMARY KEY, account BIGINT NOT NULL, kind VARCHAR(16), balance DECIMAL(14,2),
  score DOUBLE, opened DATE, touched DATETIME(3), label VARCHAR(64), active TINYINT, region CHAR(2))"""
SHAPE_TABLE = """CREATE TABLE bench.shape (
  id BIGINT UNSIGNED PRIMARY KEY, n INT, name VARCHAR(40), amount DECIMAL(14,4), score DOUBLE, flag TINYINT,
  note VARCHAR(120), created DATETIME(6), touched TIMESTAMP(6) NULL, doc JSON)"""
SHAPED_TABLES = [f"CREATE TABLE bench.{name} LIKE bench.shape" for name in ("shape_bulk", "shape_oltp", "big_txn")]
WORKLOADS = ("bulk", "oltp", "shape_bulk", "shape_oltp", "big_txn")
MEASURES = {
    "a": "(a) bare pymysqlreplication",
    "b": "(b) capture: binlog → Parquet",
    "c": "(c) run: → DuckDB",
    "r": "(r) raw transport: mariadb-binlog",
}


# --------------------------------------------------------------------------- workloads
# Each writes its changes and returns how many rows the server reports inserted, updated and deleted.


def bulk_changes(server: MariaDBServer, table: str, chunk: int, counts: tuple[int, int, int],
                 row: Callable[[int], str], update_set: str) -> int:  # fmt: skip
    """``counts`` = (inserts, updates, deletes): multi-row inserts of ``row(i)``, then updates of the
    first ids and deletes of the last, ``chunk`` rows a statement; the rows the server reports."""
    inserts, updates, deletes = counts
    conn = server.connect("bench")
    done = 0
    with conn.cursor() as cur:
        for start in range(0, inserts, chunk):
            rows = ",".join(row(i) for i in range(start, min(start + chunk, inserts)))
            done += cur.execute(f"INSERT INTO {table} VALUES {rows}")
        for start in range(0, updates, chunk):
            done += cur.execute(
                f"UPDATE {table} SET {update_set} WHERE id >= {start} AND id < {min(start + chunk, updates)}"
            )
        for start in range(inserts - deletes, inserts, chunk):
            done += cur.execute(f"DELETE FROM {table} WHERE id >= {start} AND id < {min(start + chunk, inserts)}")
    conn.close()
    return done


def single_row_transactions(server: MariaDBServer, table: str, changes: int, insert: str,
                            insert_values: Callable[[int], tuple[Any, ...]], update_set: str) -> int:  # fmt: skip
    """Autocommit transactions of one row each: 50% inserts, 40% updates, 10% deletes."""
    conn = server.connect("bench")
    done = 0
    with conn.cursor() as cur:
        live: list[int] = []
        next_id = 0
        for i in range(changes):
            kind = i % 10
            if kind < 5 or not live:
                done += cur.execute(f"INSERT INTO {table} VALUES {insert}", insert_values(next_id))
                live.append(next_id)
                next_id += 1
            elif kind < 9:
                done += cur.execute(f"UPDATE {table} SET {update_set} WHERE id = %s", (live[i % len(live)],))
            else:
                done += cur.execute(f"DELETE FROM {table} WHERE id = %s", (live.pop(i % len(live)),))
    conn.close()
    return done


def bulk_row(i: int) -> str:
    return (
        f"({i}, {i % 977}, 'new', {i % 10000}.25, {i % 300}, {i / 7}, {i % 100 / 3}, NOW(6), NOW(6),"
        f" 'note {i} ✓', REPEAT('body {i} ', {1 + i % 5}), {i % 2}, CURDATE(), 'c{i % 1000:07d}')"
    )


def bulk_workload(server: MariaDBServer, changes: int) -> int:
    inserts, updates = int(changes * 0.6), int(changes * 0.3)
    counts = (inserts, updates, changes - inserts - updates)
    update_set = "status = 'paid', amount = amount + 1, updated_at = NOW(6), qty = qty + 1"
    return bulk_changes(server, "bulk", 1000, counts, bulk_row, update_set)


def oltp_workload(server: MariaDBServer, changes: int) -> int:
    return single_row_transactions(
        server, "oltp", changes, "(%s, %s, 'deposit', %s, %s, CURDATE(), NOW(3), %s, 1, 'eu')",
        lambda n: (n, n * 7, n % 5000 + 0.5, n / 3, f"account {n}"), "balance = balance + 1, touched = NOW(3)",
    )  # fmt: skip


def shape_row(i: int) -> str:
    """Row ``i`` of a table shaped like bench.shape, as SQL."""
    return (
        f"({i}, {i % 1000}, 'name {i}', {i % 10000}.2500, {i / 7}, {i % 2}, 'note {i} ✓', NOW(6), NOW(6),"
        f' \'{{"k": {i}, "tags": ["a","b"]}}\')'
    )


def shape_bulk_workload(server: MariaDBServer, changes: int) -> int:
    """Inserts, then updates of 25% and deletes of 12% of them (inserts * 1.37 = ``changes``)."""
    inserts = round(changes / 1.37)
    updates = round(inserts * 0.25)
    update_set = "n = n + 1, amount = amount + 1, touched = NOW(6), note = 'updated ✓'"
    return bulk_changes(server, "shape_bulk", 2000, (inserts, updates, changes - inserts - updates), shape_row,
                        update_set)  # fmt: skip


def shape_oltp_workload(server: MariaDBServer, changes: int) -> int:
    """Single-row autocommit transactions: 50% inserts, 40% updates, 10% deletes."""
    return single_row_transactions(
        server, "shape_oltp", changes, "(%s, %s, %s, %s, %s, %s, %s, NOW(6), NOW(6), %s)",
        lambda n: (n, n % 1000, f"name {n}", n % 5000 + 0.5, n / 3, n % 2, f"note {n} ✓",
                   json.dumps({"k": n, "tags": ["a", "b"]})),
        "n = n + 1, amount = amount + 1, touched = NOW(6)",
    )  # fmt: skip


def big_txn_workload(server: MariaDBServer, rows: int) -> int:
    """``rows`` inserts in one transaction: INSERT … SELECT from the SEQUENCE engine, else
    2,000-row inserts between BEGIN and COMMIT."""
    conn = server.connect("bench")
    with conn.cursor() as cur:
        cur.execute("SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = 'SEQUENCE'")
        found = cur.fetchone()
        if found and found[0] in ("YES", "DEFAULT"):
            done: int = cur.execute(
                "INSERT INTO big_txn SELECT seq, seq % 1000, CONCAT('name ', seq), seq % 10000 + 0.25, seq / 7,"
                " seq % 2, CONCAT('note ', seq, ' ✓'), NOW(6), NOW(6),"
                f' CONCAT(\'{{"k": \', seq, \', "tags": ["a","b"]}}\') FROM seq_0_to_{rows - 1}'
            )
        else:
            conn.begin()
            done = 0
            for start in range(0, rows, 2000):
                values = ",".join(shape_row(i) for i in range(start, min(start + 2000, rows)))
                done += cur.execute(f"INSERT INTO big_txn VALUES {values}")
            conn.commit()
    conn.close()
    return done


WRITERS: dict[str, Callable[[MariaDBServer, int], int]] = {
    "bulk": bulk_workload,
    "oltp": oltp_workload,
    "shape_bulk": shape_bulk_workload,
    "shape_oltp": shape_oltp_workload,
    "big_txn": big_txn_workload,
}


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
    process.configure(settings)  # as run sets it: the speed-ups setting and Arrow's allocator
    prepared = prepare(settings, "bench", "analytics", "earliest")
    assert prepared.start is not None
    policy = FlushPolicy(settings.batch_max_rows, settings.batch_max_bytes, settings.batch_max_age_seconds)
    capture = Capture(
        store=prepared.store, source_db="bench", target_schema="analytics",
        tables=[t for _, t in prepared.binlog_tables], policy=policy, start=prepared.start,
    )  # fmt: skip

    def open_reader(
        tables: Mapping[str, SourceTable], start: BinlogPosition, quarantined: Container[str], resolve: Resolver
    ) -> BinlogReader:
        server_id = default_server_id("bench", "analytics")
        return BinlogReader(settings.mysql(), server_id, "bench", tables, start, settings.heartbeat_seconds,
                            prepared.gtid, quarantined, resolve=resolve)  # fmt: skip

    capture.read(open_reader, lambda position: position.at_or_after(end))
    capture.flush_all()
    return capture.changes_total


def binlog_span(port: int, start: BinlogPosition, end: BinlogPosition) -> tuple[list[str], int]:
    """The binlog files from ``start`` to ``end``, and the bytes of events between the two."""
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root")
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        logs = [(str(row[0]), int(row[1])) for row in cur.fetchall() if start.file <= str(row[0]) <= end.file]
    conn.close()
    span = sum((end.pos if f == end.file else size) - (start.pos if f == start.file else 4) for f, size in logs)
    return [f for f, _ in logs], span


def raw_transport(port: int, start: BinlogPosition, end: BinlogPosition, home: Path) -> Callable[[], dict[str, Any]]:
    """A copy of the range's binlog bytes, as a replica's IO thread would fetch them: returns the
    transfer, which returns the bytes written and mariadb-binlog's peak RSS (from GNU time, whose
    small process spawns it: a child of this one would inherit this one's peak, see peak_rss_mb).
    This mariadb-binlog ignores --stop-position in raw mode and reads to the end of the last file,
    which is ``end`` here since nothing writes meanwhile; the bytes written are checked against the
    range (plus a file header per file)."""
    files, span = binlog_span(port, start, end)
    out = Path(tempfile.mkdtemp(prefix="raw-", dir=home))
    command = ["mariadb-binlog", "--read-from-remote-server", "--raw", "--host", "127.0.0.1", "--port", str(port),
               "--user", "root", f"--start-position={start.pos}", f"--stop-position={end.pos}",
               f"--result-file={out}/", *files]  # fmt: skip
    gnu_time = shutil.which("time")
    if gnu_time:
        command = [gnu_time, "-f", "%M", "-o", str(out / "rss"), *command]

    def transfer() -> dict[str, Any]:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise RuntimeError(f"mariadb-binlog failed ({done.returncode}): {done.stderr}")
        got = sum((out / f).stat().st_size for f in files if (out / f).exists())
        rss = int((out / "rss").read_text().split()[-1]) / 1024 if gnu_time else None
        shutil.rmtree(out)
        if not span <= got <= span + 1024 * len(files):
            raise RuntimeError(f"mariadb-binlog wrote {got:,} bytes for a range of {span:,} bytes in {files}")
        return {"bytes": got, "rss_mb": rss}

    return transfer


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ``ru_maxrss``: Linux carries the peak of the process that
    spawned this one over the exec into it, so a child would report at least the parent's RSS."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def position(text: str) -> BinlogPosition:
    file, pos = text.rsplit(":", 1)
    return BinlogPosition(file, int(pos))


def child(args: argparse.Namespace) -> None:
    configure_logging(level="warning")
    start, end = position(args.start), position(args.end)
    home = Path(args.home)
    transfer = raw_transport(args.port, start, end, home) if args.measure == "r" else None
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    out: dict[str, Any] = {}
    if transfer:
        out = transfer()
        changes = 0  # the parent knows the workload's changes
    elif args.measure == "a":
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
    print(json.dumps({"changes": changes, "seconds": seconds, "rss_mb": peak_rss_mb(), **out}))


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


@dataclass
class Figure:
    """One measure of one workload: the changes it counted, the median rate, each run's rate, peak RSS."""

    changes: int
    rate: float
    runs: list[float]
    rss_mb: float | None  # None: not known (the raw transport without GNU time)


@dataclass
class Workload:
    name: str
    changes: int  # as the writing client counted them
    one_client: float  # changes/s of that client
    figures: dict[str, Figure] = field(default_factory=dict)

    def ratio(self, measure: str, to: str) -> float:
        return self.figures[measure].rate / self.figures[to].rate


def workload_figures(
    server: MariaDBServer, root: Path, name: str, size: int, profile: str | None, repeat: int
) -> tuple[list[str], Workload]:
    """Write one workload, then run each measure ``repeat`` times, interleaved (a, b, c, r, a, b, c,
    r, …) so that a slow spell of a shared machine falls on all of them; report the median run."""
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
    written = WRITERS[name](server, size)
    written_s = time.perf_counter() - started
    end = current_position(conn)
    conn.close()
    work = Workload(name, written, written / written_s)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MEASURES}
    for r in range(repeat):
        for m in MEASURES:
            home = homes.get((m, r), root)
            runs[m].append(measure(server.port, m, start, end, home, table, profile == m and r == 0))
    binlog_mb = runs["r"][0]["bytes"] / 2**20
    lines = [f"{name}: {written:,} changes written in {written_s:.1f} s ({work.one_client:,.0f}/s by one client),"
             f" binlog {start} → {end} ({binlog_mb:,.1f} MB); median of {repeat} runs"]  # fmt: skip
    for m in MEASURES:
        changes = written if m == "r" else runs[m][0]["changes"]
        seconds = statistics.median(got["seconds"] for got in runs[m])
        rss = [got["rss_mb"] for got in runs[m] if got["rss_mb"] is not None]
        work.figures[m] = Figure(changes, changes / seconds, [changes / got["seconds"] for got in runs[m]],
                                 max(rss, default=None))  # fmt: skip
    for m, fig in work.figures.items():
        spread = ", ".join(f"{rate:,.0f}" for rate in fig.runs)
        lines.append(f"  {MEASURES[m]:34} {fig.changes:9,d} {fig.changes / fig.rate:8.2f} {fig.rate:10,.0f}"
                     f" {work.ratio(m, 'a'):6.2f} {megabytes(fig.rss_mb):>7}   ({spread})")  # fmt: skip
    lines.append(f"  (c) = {100 * work.ratio('c', 'r'):.1f}% of raw transport;"
                 f" end-to-end / one client = {work.figures['c'].rate / work.one_client:.2f}×")  # fmt: skip
    counted = {m: got[0]["changes"] for m, got in runs.items() if m != "r"}
    odd = {m: [got["changes"] for got in runs[m] if got["changes"] != written] for m in counted}
    if any(odd.values()):
        lines.append(f"  ! changes counted differ from the {written:,} written: "
                     + ", ".join(f"({m}) {sorted(set(c))}" for m, c in odd.items() if c))  # fmt: skip
    return lines, work


def megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def markdown(works: list[Workload]) -> list[str]:
    """The figures as two Markdown tables, for docs/benchmarks.md."""
    lines = [
        "| workload | measure | changes | median changes/s | ratio to (a) | changes/s of each run | peak RSS MB |",
        "|---|---|--:|--:|--:|---|--:|",
    ]
    for work in works:
        for m, fig in work.figures.items():
            runs = ", ".join(f"{rate:,.0f}" for rate in fig.runs)
            lines.append(f"| {work.name} | {MEASURES[m]} | {fig.changes:,} | {fig.rate:,.0f} |"
                         f" {work.ratio(m, 'a'):.2f} | {runs} | {megabytes(fig.rss_mb)} |")  # fmt: skip
    lines += [
        "",
        "| workload | one client changes/s | raw transport changes/s | (c) / one client | (c) / raw |",
        "|---|--:|--:|--:|--:|",
    ]
    for work in works:
        per_client = work.figures["c"].rate / work.one_client
        lines.append(f"| {work.name} | {work.one_client:,.0f} | {work.figures['r'].rate:,.0f} |"
                     f" {per_client:.2f}× | {100 * work.ratio('c', 'r'):.1f}% |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bulk", type=int, default=300_000, help="changes of the bulk workload")
    parser.add_argument("--oltp", type=int, default=30_000, help="single-row transactions of the OLTP workload")
    parser.add_argument("--shape-bulk", type=int, default=300_000, help="changes of the shape_bulk workload")
    parser.add_argument("--shape-oltp", type=int, default=30_000, help="transactions of the shape_oltp workload")
    parser.add_argument("--big-txn", type=int, default=1_000_000, help="rows of the one big transaction; 0: none")
    parser.add_argument("--snapshot-rows", type=int, default=300_000, help="0: no snapshot measure")
    parser.add_argument("--only", choices=WORKLOADS, action="append", help="this workload only; may be repeated")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is reported")
    parser.add_argument("--profile", choices=list("abc"), help="print a cProfile of this measure")
    parser.add_argument("--child", choices=list(MEASURES), help=argparse.SUPPRESS)
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
    # The runs that give each home its checkpoint warn that there was none: not figures.
    configure_logging(level="error")
    sizes = {"bulk": args.bulk, "oltp": args.oltp, "shape_bulk": args.shape_bulk, "shape_oltp": args.shape_oltp,
             "big_txn": args.big_txn}  # fmt: skip
    works: list[Workload] = []
    with tempfile.TemporaryDirectory(prefix="s3rb-bench-") as tmp, MariaDBServer() as server:
        server.execute("CREATE DATABASE bench", BULK_TABLE, OLTP_TABLE, SHAPE_TABLE, *SHAPED_TABLES)
        print(f"  {'measure':34} {'changes':>9} {'seconds':>8} {'changes/s':>10} {'ratio':>6} {'RSS MB':>7}"
              "   (changes/s of each run)")  # fmt: skip
        for name in WORKLOADS:
            if sizes[name] > 0 and (args.only is None or name in args.only):
                lines, work = workload_figures(server, Path(tmp), name, sizes[name], args.profile, args.repeat)
                works.append(work)
                print("\n".join(lines), flush=True)
    if args.snapshot_rows and args.only is None:
        subprocess.run([sys.executable, "-m", "bench.snapshot", "--rows", str(args.snapshot_rows)], check=True)
    if works:
        print("\n" + "\n".join(markdown(works)))


if __name__ == "__main__":
    main()
