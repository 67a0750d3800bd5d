"""A load pass on a table with a long history costs what it costs on a new one.

    .venv/bin/python -m bench.history [--objects 100000] [--baseline 100] [--target duckdb] [--target redshift]

For each target (DuckDB through moto's S3 server; the Redshift emulator on a throwaway PostgreSQL,
COPYing from that S3), two pipelines: one whose table has ``--objects`` applied batch objects and one
with ``--baseline``. The history is what passes leave behind, made by a fast path: batch objects as
the writer encodes them (one insert each), kept in the store as with retention ``forever``, no
pending note left, and one ledger row each as the load records them (inserted a thousand rows per
statement). Then one new change is written through the writer's path (object and note) and loaded
by a new Loader, as a run started by a timer does. Per pass:

- S3 requests by operation, counted at the client (botocore's ``before-call`` event);
- wall time;
- ledger rows read (keys asked about, rows found);
- peak RSS of the pass (VmHWM, reset before it through /proc/self/clear_refs).

Then the ratio of the long history to the baseline (goal: within 1.2x), and what the pass before
pending notes read on the same history: the LIST pages of the table's prefix and the ledger keys.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
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
from s3rb_stream.pipeline.load import Loader
from s3rb_stream.settings import TableConfig, load_settings
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
    keys_asked: int
    rows_read: int
    peak_rss_mb: float
    before_notes_list_pages: int = 0
    before_notes_ledger_keys: int = 0


class Counting:
    """S3 requests by operation, counted at the botocore client of a store."""

    def __init__(self, store: S3Store) -> None:
        self.counts: Counter[str] = Counter()
        store._client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: object) -> None:
        self.counts[model.name] += 1


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


def make_history(store: S3Store, warehouse: Warehouse, n: int) -> None:
    """``n`` applied batches as passes leave them: the objects, no notes, one ledger row each, and
    the layout record the first pass of this version writes."""
    warehouse.prepare(SCHEMA, TABLE)
    save_notes_since(store, "src", SCHEMA, datetime.now(UTC))
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda seq: store.put(key_of(store, seq), encoded(seq)), range(1, n + 1)))
    ledger = warehouse.table_sql(SCHEMA, "_s3rb_batches")
    for start in range(1, n + 1, 1000):
        rows = ", ".join(
            f"('{TABLE.name}', '{key_of(store, seq)}', {seq}, {seq}, 1, CURRENT_TIMESTAMP)"
            for seq in range(start, min(start + 1000, n + 1))
        )
        warehouse.query(
            f"INSERT INTO {ledger} (table_name, object_key, first_seq, last_seq, row_count, applied_at) VALUES {rows}"
        )


def measure(store: S3Store, warehouse: Warehouse, history: int) -> PassCost:
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
    reset_peak_rss()
    started = time.perf_counter()
    stats = Loader(store, warehouse, "src", SCHEMA, [(TableConfig(name="src.items"), TABLE)]).load_all()
    seconds = time.perf_counter() - started
    assert stats.batches == 1, f"the pass applied {stats.batches} batches, not the one new"
    cost = PassCost(history, Counter(counting.counts), seconds, sum(asked), sum(found), peak_rss_mb())
    # What the pass before notes read on the same history: every key under the table, every ledger key.
    counting.counts.clear()
    store.list(table_prefix(store.prefix, "src", SCHEMA, TABLE.name))
    cost.before_notes_list_pages = counting.counts["ListObjectsV2"]
    cost.before_notes_ledger_keys = len(warehouse.applied(SCHEMA, TABLE.name))
    return cost


@contextmanager
def targets(which: str, s3: MotoS3Server, workdir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if which == "duckdb":
        yield "DuckDB via moto S3", {"warehouse_url": f"duckdb:///{workdir / 'w.duckdb'}"}
        return
    with RedshiftEmulatorServer(s3.endpoint_url) as emulator:
        url = f"redshift://postgres:local@127.0.0.1:{emulator.port}/postgres?ssl=false"
        yield "Redshift emulator", {"warehouse_url": url, "redshift_iam_role": ROLE}


def run_target(which: str, s3: MotoS3Server, sizes: list[int]) -> list[PassCost]:
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
            make_history(store, warehouse, n)
            print(f"{label}: {n:,} applied batches made in {time.perf_counter() - started:.0f} s", flush=True)
            costs.append(measure(store, warehouse, n))
            warehouse.close()
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
    args = parser.parse_args(argv)
    logging_setup.configure("json", "warning")  # the figures, not the load's log lines
    os.environ.update(TEST_CREDENTIALS)
    with MotoS3Server() as s3:
        for which in args.target or ["duckdb", "redshift"]:
            baseline, long = run_target(which, s3, [args.baseline, args.objects])
            report("DuckDB via moto S3" if which == "duckdb" else "Redshift emulator", baseline, long)


if __name__ == "__main__":
    main()
