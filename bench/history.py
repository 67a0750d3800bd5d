"""A load pass on a table with a long history costs what it costs on a new one.

    .venv/bin/python -m bench.history [--objects 100000] [--baseline 100] [--passes 5] [--target duckdb|redshift]

For each target (DuckDB through moto's S3 server; the Redshift emulator on a throwaway PostgreSQL,
COPYing from that S3), two pipelines: one whose table has ``--objects`` applied batch objects and one
with ``--baseline``. The history is what passes leave behind, made by a fast path: batch objects as
the writer encodes them (one insert each), kept in the store as with retention ``forever``, no
pending note left, and one ledger row each as the load records them (inserted a thousand rows per
statement), applied one every five minutes up to now; then the daemon's cleanup folds the ledger
(rows older than an hour). Then one new change is written through the writer's path (object and note) and loaded
by a new Loader, as a run started by a timer does. Per pass:

- S3 requests by operation, counted at the client (botocore's ``before-call`` event);
- wall time (the median of ``--passes`` passes, each after one new change), and that time less
  the waits for S3's answers: moto's server scans its whole bucket to answer a LIST, so its answers
  slow down with the bucket's size where S3's do not (S3 lists from an index);
- ledger rows read (keys asked about, rows found);
- peak RSS of the pass (VmHWM, reset before it through /proc/self/clear_refs).

Each measured pass runs in a process of its own (as a run started by a timer), so its time and
memory are its own, not those of the process that made the history.

Then the ratio of the long history to the baseline (goal: within 1.2x), and what the pass before
pending notes read on the same history: the LIST pages of the table's prefix and the ledger keys.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa

from s3rb_stream import log as logging_setup
from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import batch_key, table_prefix
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.pipeline.cleanup import Cleanup
from s3rb_stream.pipeline.load import Loader
from s3rb_stream.settings import Settings, TableConfig, load_settings
from s3rb_stream.state.layout import save_notes_since
from s3rb_stream.store.batches import put_batch
from s3rb_stream.store.parquet import changes_to_table, encode
from s3rb_stream.store.s3 import S3Store
from s3rb_stream.targets import Warehouse, open_warehouse
from s3rb_stream.testing.emulator_server import RedshiftEmulatorServer
from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server

TABLE = SourceTable(
    "src",
    "items",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("name", "varchar", "varchar(64)", char_length=64),
    ),
    ("id",),
)
TS = datetime(2026, 1, 1, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/bench"
SCHEMA = "analytics"


@dataclass
class PassCost:
    history: int
    requests: Counter[str]
    seconds: float
    own_seconds: float  # the pass's wall time less its waits for S3 answers
    keys_asked: int
    rows_read: int
    peak_rss_mb: float
    before_notes_list_pages: int = 0
    before_notes_ledger_keys: int = 0


class Counting:
    """S3 requests by operation, counted at the botocore client of a store, and the time spent
    waiting for them (moto's server scans its whole bucket for a LIST, where S3 does not)."""

    def __init__(self, store: S3Store) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds = 0.0
        store._client.meta.events.register("before-call.s3", self._count)
        store._client.meta.events.register("after-call.s3", self._done)

    def _count(self, model: Any, context: dict[str, Any], **_: object) -> None:
        self.counts[model.name] += 1
        context["s3rb_started"] = time.perf_counter()

    def _done(self, context: dict[str, Any], **_: object) -> None:
        if "s3rb_started" in context:
            self.seconds += time.perf_counter() - context["s3rb_started"]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def rows(seq: int) -> pa.Table:
    return changes_to_table(TABLE, [Change(Op.INSERT, seq, TS, (seq, f"row {seq}"))])


def encoded(seq: int) -> bytes:
    return encode(rows(seq), "snappy")


def key_of(store: S3Store, seq: int) -> str:
    return batch_key(store.prefix, "src", SCHEMA, TABLE.name, seq, seq, TS)


def make_history(store: S3Store, warehouse: Warehouse, n: int) -> tuple[int, int]:
    """``n`` applied batches as passes and cleanup leave them: the objects (kept for good), no
    notes, one ledger row each, applied one every 5 minutes up to now, then the ledger folded as
    the daemon's cleanup folds it; and the layout record the first pass of this version writes.
    The ledger keys before the fold (what a pass before notes read), and the rows left after."""
    warehouse.prepare(SCHEMA, TABLE)
    save_notes_since(store, "src", SCHEMA, datetime.now(UTC))
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda seq: store.put(key_of(store, seq), encoded(seq)), range(1, n + 1)))
    ledger = warehouse.table_sql(SCHEMA, "_s3rb_batches")
    for start in range(1, n + 1, 1000):
        rows = ", ".join(
            f"('{TABLE.name}', '{key_of(store, seq)}', {seq}, {seq}, 1,"
            f" CURRENT_TIMESTAMP - INTERVAL '{5 * (n - seq)} minutes')"
            for seq in range(start, min(start + 1000, n + 1))
        )
        warehouse.query(
            f"INSERT INTO {ledger} (table_name, object_key, first_seq, last_seq, row_count, applied_at) VALUES {rows}"
        )
    before = len(warehouse.applied(SCHEMA, TABLE.name))
    Cleanup(store, warehouse, "src", SCHEMA, retention=None).run([TABLE.name])
    warehouse.idle()  # as between the daemon's loads (DuckDB: the file checkpointed)
    return before, int(str(warehouse.query(f"SELECT COUNT(*) FROM {ledger}")[0][0]))


def one_pass(settings: Settings, history: int) -> dict[str, Any]:
    """In a process of its own, as a run started by a timer: one new batch written the writer's
    way, then one load pass by a new Loader; what it cost."""
    store = S3Store(
        settings.store().root, settings.store().prefix, endpoint_url=settings.s3_endpoint_url, parquet_codec="snappy"
    )
    warehouse = open_warehouse(settings)
    if hasattr(warehouse, "store"):
        warehouse.store = store  # COPY's manifests through the counted client
    counting = Counting(store)
    asked: list[int] = []
    found: list[int] = []
    real = warehouse.applied_among

    def applied_among(target_schema: str, table: str, keys: Sequence[str]) -> set[str]:
        result = real(target_schema, table, keys)
        asked.append(len(keys))
        found.append(len(result))
        return result

    warehouse.applied_among = applied_among  # type: ignore[method-assign]
    new = history + 1
    put_batch(store, key_of(store, new), rows(new))
    counting.counts.clear()
    counting.seconds = 0.0
    reset_peak_rss()
    started = time.perf_counter()
    stats = Loader(store, warehouse, "src", SCHEMA, [(TableConfig(name="src.items"), TABLE)]).load_all()
    seconds = time.perf_counter() - started
    assert stats.batches == 1, f"the pass applied {stats.batches} batches, not the one new"
    warehouse.close()
    return {"requests": dict(counting.counts), "seconds": seconds, "s3_seconds": counting.seconds,
            "asked": sum(asked), "found": sum(found), "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def measure(settings: Settings, store: S3Store, history: int, passes: int) -> PassCost:
    """``passes`` passes, each in a child process (its memory and time its own) after one new
    batch: the median time, the highest peak RSS, the requests and ledger reads of the last; then
    what the pass before notes listed on the same history: every key under the table."""
    passed = {
        "store_url": settings.store_url,
        "s3_endpoint_url": settings.s3_endpoint_url,
        "warehouse_url": settings.warehouse_url.get_secret_value(),
        "redshift_iam_role": settings.redshift_iam_role,
        "retain_applied_hours": "forever",
        "tables_file": str(settings.tables_file),
    }
    runs = []
    for done in range(passes):
        command = [sys.executable, "-m", "bench.history", "--one-pass", str(history + done), "--settings"]
        child = subprocess.run([*command, json.dumps(passed)], capture_output=True, text=True, check=False)
        if child.returncode != 0:
            raise RuntimeError(f"the measured pass failed: {child.stderr[-2000:]}")
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    got = runs[-1]
    seconds = statistics.median(r["seconds"] for r in runs)
    own = statistics.median(r["seconds"] - r["s3_seconds"] for r in runs)
    peak = max(r["peak_rss_mb"] for r in runs)
    cost = PassCost(history, Counter(got["requests"]), seconds, own, got["asked"], got["found"], peak)
    counting = Counting(store)
    store.list(table_prefix(store.prefix, "src", SCHEMA, TABLE.name))
    cost.before_notes_list_pages = counting.counts["ListObjectsV2"]
    return cost


@contextmanager
def targets(which: str, s3: MotoS3Server, workdir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if which == "duckdb":
        yield "DuckDB via moto S3", {"warehouse_url": f"duckdb:///{workdir / 'w.duckdb'}"}
        return
    with RedshiftEmulatorServer(s3.endpoint_url) as emulator:
        url = f"redshift://postgres:local@127.0.0.1:{emulator.port}/postgres?ssl=false"
        yield "Redshift emulator", {"warehouse_url": url, "redshift_iam_role": ROLE}


def run_target(which: str, s3: MotoS3Server, sizes: list[int], passes: int) -> list[PassCost]:
    costs = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp, targets(which, s3, Path(tmp)) as (label, overrides):
            bucket = f"history-{which}-{n}"
            boto3.client("s3", endpoint_url=s3.endpoint_url).create_bucket(Bucket=bucket)
            settings = load_settings(
                store_url=f"s3://{bucket}/cdc", s3_endpoint_url=s3.endpoint_url, retain_applied_hours="forever",
                tables_file=Path(tmp) / "none.yml", **overrides,
            )  # fmt: skip
            store = S3Store(bucket, "cdc", endpoint_url=s3.endpoint_url, parquet_codec="snappy")
            warehouse = open_warehouse(settings)
            if hasattr(warehouse, "store"):
                warehouse.store = store  # COPY's manifests in the same bucket, through the counted client
            started = time.perf_counter()
            unfolded, kept = make_history(store, warehouse, n)
            print(
                f"{label}: {n:,} applied batches made in {time.perf_counter() - started:.0f} s;"
                f" the ledger holds {kept:,} rows after cleanup folded it",
                flush=True,
            )
            warehouse.close()  # the measured pass opens its own (a DuckDB file: one writer)
            cost = measure(settings, store, n, passes)
            cost.before_notes_ledger_keys = unfolded + 1  # and the new batch
            costs.append(cost)
    return costs


def report(label: str, baseline: PassCost, long: PassCost) -> None:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else ("1.00x" if a == b else "-")

    kinds = sorted(set(baseline.requests) | set(long.requests))
    print(f"\n{label}: one load pass after {baseline.history:,} and after {long.history:,} applied batches")
    print(f"  {'':28} {baseline.history:>12,} {long.history:>12,}   ratio")
    for kind in kinds:
        a, b = baseline.requests[kind], long.requests[kind]
        print(f"  S3 {kind:25} {a:12d} {b:12d}   {ratio(b, a)}")
    total_a, total_b = sum(baseline.requests.values()), sum(long.requests.values())
    print(f"  {'S3 requests, all':28} {total_a:12d} {total_b:12d}   {ratio(total_b, total_a)}")
    print(f"  {'wall time (ms)':28} {baseline.seconds * 1000:12.0f} {long.seconds * 1000:12.0f}   "
          f"{ratio(long.seconds, baseline.seconds)}")  # fmt: skip
    own_a, own_b = baseline.own_seconds * 1000, long.own_seconds * 1000
    print(f"  {'  of which not waiting on S3':28} {own_a:12.0f} {own_b:12.0f}   {ratio(own_b, own_a)}")
    print(f"  {'ledger keys asked':28} {baseline.keys_asked:12d} {long.keys_asked:12d}")
    print(f"  {'ledger rows read':28} {baseline.rows_read:12d} {long.rows_read:12d}")
    print(f"  {'peak RSS of the pass (MB)':28} {baseline.peak_rss_mb:12.0f} {long.peak_rss_mb:12.0f}   "
          f"{ratio(long.peak_rss_mb, baseline.peak_rss_mb)}")  # fmt: skip
    print(f"  before pending notes, the same pass read: {long.before_notes_list_pages:,} LIST pages and "
          f"{long.before_notes_ledger_keys:,} ledger keys (after {baseline.history:,}: "
          f"{baseline.before_notes_list_pages:,} and {baseline.before_notes_ledger_keys:,})")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000, help="applied batch objects of the long history")
    parser.add_argument("--baseline", type=int, default=100, help="applied batch objects of the short one")
    parser.add_argument("--target", action="append", choices=["duckdb", "redshift"], help="default: both")
    parser.add_argument("--passes", type=int, default=5, help="passes measured per history (median time)")
    parser.add_argument("--one-pass", type=int, help=argparse.SUPPRESS)  # the child that measures a pass
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging_setup.configure("json", "warning")  # the figures, not the load's log lines
    os.environ.update(TEST_CREDENTIALS)
    if args.one_pass is not None:
        raw = json.loads(args.settings)
        settings = load_settings(**{k: v for k, v in raw.items() if v is not None})
        print(json.dumps(one_pass(settings, args.one_pass)))
        return
    with MotoS3Server() as s3:
        for which in args.target or ["duckdb", "redshift"]:
            baseline, long = run_target(which, s3, [args.baseline, args.objects], args.passes)
            report("DuckDB via moto S3" if which == "duckdb" else "Redshift emulator", baseline, long)


if __name__ == "__main__":
    main()
