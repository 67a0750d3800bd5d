"""Pieces shared by the query-based reads: pages of text rows → Parquet batch objects, and progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from s3rb_stream.core.changes import Op
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.core.query_state import ExtractState, HybridState
from s3rb_stream.core.schema import SourceTable, arrow_schema
from s3rb_stream.core.text_values import TextValue, rows_to_arrays
from s3rb_stream.log import get_logger
from s3rb_stream.state.extracts import load_extract, save_extract
from s3rb_stream.state.hybrid import load_hybrid, save_hybrid
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.store.batches import put_batch

log = get_logger(__name__)

PROGRESS_LOG_SECONDS = 10.0


def page_table(
    table: SourceTable, rows: Sequence[Sequence[TextValue]], first_seq: int, same_seq: bool, read_at: datetime
) -> pa.Table:
    """A page of rows as a batch table: ``_s3rb_op`` 'r', one sequence for all rows (a snapshot)
    or one per row from ``first_seq`` (hybrid, full_sync), ``_s3rb_source_ts`` the read time."""
    n = len(rows)
    seqs = pa.repeat(pa.scalar(first_seq, pa.int64()), n) if same_seq else pa.array(range(first_seq, first_seq + n))
    arrays = rows_to_arrays(table.columns, rows)
    arrays.append(seqs.cast(pa.int64()))
    arrays.append(pa.repeat(pa.scalar(Op.SNAPSHOT.value, pa.string()), n))
    arrays.append(pa.repeat(pa.scalar(read_at, pa.timestamp("us", tz="UTC")), n))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))


@dataclass
class TableStore:
    """One table's batch objects and query-read records, as the extracts and syncs use them."""

    store: ObjectStore
    source_db: str
    target_schema: str
    table: SourceTable

    def put_page(
        self, data: pa.Table, first_seq: int, last_seq: int, read_at: datetime, part: int | None, run: int | None = None
    ) -> str:
        key = batch_key(
            self.store.prefix,
            self.source_db,
            self.target_schema,
            self.table.name,
            first_seq,
            last_seq,
            read_at,
            part,
            run,
        )
        put_batch(self.store, key, data)
        return key

    # The table's records, kept by s3rb_stream.state (docs/ARCHITECTURE.md, "Records").
    def extract_state(self) -> ExtractState | None:
        return load_extract(self.store, self.source_db, self.target_schema, self.table.name)

    def save_extract_state(self, state: ExtractState) -> None:
        save_extract(self.store, self.source_db, self.target_schema, self.table.name, state)

    def hybrid_state(self) -> HybridState | None:
        return load_hybrid(self.store, self.source_db, self.target_schema, self.table.name)

    def save_hybrid_state(self, state: HybridState) -> None:
        save_hybrid(self.store, self.source_db, self.target_schema, self.table.name, state)


@dataclass
class Progress:
    """Rows done of an estimate: a line redrawn on a terminal, a log line every few seconds otherwise."""

    what: str
    table: str
    estimate: int | None
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _logged: float = field(default_factory=time.monotonic)
    tty: bool = field(default_factory=lambda: sys.stderr.isatty())

    def add(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.tty:
            sys.stderr.write("\r" + self.line(now) + " " * 4)
            sys.stderr.flush()
        elif now - self._logged >= PROGRESS_LOG_SECONDS:
            self._logged = now
            log.info(f"{self.what} progress", table=self.table, rows=self.done, estimate=self.estimate)

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        text = f"{self.what} {self.table}: {self.done:,} rows, {rate:,.0f} rows/s"
        if self.estimate and self.estimate > self.done and rate > 0:
            share = self.done / self.estimate
            filled = int(share * 30)
            left = (self.estimate - self.done) / rate
            text = f"{self.what} {self.table} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} " + (
                f"{self.done:,}/~{self.estimate:,} rows, {rate:,.0f} rows/s, {left:,.0f}s left"
            )
        return text

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\r" + self.line(time.monotonic()) + "\n")
            sys.stderr.flush()
