"""``sync``: one run of each query-based table's strategy, then a load.

- ``hybrid``: rows in (timestamp, id) order after the table's watermark, re-reading a look-back
  window below it for rows committed late with an older timestamp (dedup by key makes the overlap
  harmless). The watermark advances only after the page holding it is durable. Hard deletes are
  invisible to this strategy: a deleted row leaves nothing to read.
- ``full_sync``: the whole table in one consistent read; loading it deletes the target rows the
  extract did not see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from s3rb_stream import faultpoints
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.hybrid_window import changed, prune, row_digest, window_id
from s3rb_stream.core.query_state import ExtractState, HybridState, next_query_seq
from s3rb_stream.core.schema import SourceTable, arrow_schema
from s3rb_stream.core.text_values import as_bytes
from s3rb_stream.errors import SourceUnavailable
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.extract import bound_values, read_extract, require_extractable, select_tables, stopped
from s3rb_stream.pipeline.pages import Progress, TableStore, page_table
from s3rb_stream.settings import Settings, TableConfig
from s3rb_stream.sources.query_reader import QueryReader
from s3rb_stream.sql import mysql as q
from s3rb_stream.store.base import ObjectStore

log = get_logger(__name__)

QUERY_STRATEGIES = {"hybrid", "full_sync"}


def lookback_start(last_ts: str, seconds: float) -> str:
    """The watermark's timestamp text minus the look-back, in the server's text format."""
    try:
        start = datetime.fromisoformat(last_ts) - timedelta(seconds=seconds)
    except ValueError:  # a zero date or other text datetime cannot parse: re-read from it as is
        return last_ts
    return start.strftime("%Y-%m-%d %H:%M:%S.%f")


def hybrid_start(config: TableConfig, state: HybridState | None) -> tuple[str, list[Any]]:
    """Where a hybrid sync starts reading: every row the first time, else ``cdc_lookback`` seconds
    below the watermark. (mode of :func:`hybrid_query`, its parameters)"""
    if state is None:
        return "all", []
    return "from", [lookback_start(state.last_ts, config.cdc_lookback)]


def hybrid_query(table: SourceTable, config: TableConfig, mode: str, chunk_rows: int) -> str:
    """A page of a hybrid table in (``cdc_timestamp_column``, ``cdc_id_column``) order."""
    ts_col, id_col = config.cdc_timestamp_column or "", config.cdc_id_column or ""
    floats = [c.name for c in table.columns if c.data_type.lower() == "float"]
    return q.hybrid_chunk(table.database, table.name, table.column_names, ts_col, id_col, mode, chunk_rows, floats)


@dataclass(frozen=True)
class TableSync:
    """One table's sync: rows read, and rows written (a hybrid sync leaves out rows read again unchanged)."""

    read: int
    written: int


def sync_hybrid(
    reader: QueryReader,
    target: TableStore,
    config: TableConfig,
    chunk_rows: int,
    stopping: Callable[[], bool] = lambda: False,
) -> TableSync:
    table = target.table
    ts_col, id_col = config.cdc_timestamp_column or "", config.cdc_id_column or ""
    ts_pos, id_pos = table.position(ts_col), table.position(id_col)
    state = target.hybrid_state()
    seq = next_query_seq(state.last_seq if state else None)
    mode, params = hybrid_start(config, state)
    progress = Progress("hybrid sync", table.name, None)
    window = dict(state.window) if state else {}  # the look-back window as last read
    total = written = 0
    while True:
        rows = reader.execute(hybrid_query(table, config, mode, chunk_rows), params)
        if not rows:
            break
        fresh = []
        for row in rows:
            key, digest = window_id(as_bytes(row[id_pos]) or b""), row_digest(row)
            if changed(window, key, digest):
                fresh.append(row)
            window[key] = (digest, (as_bytes(row[ts_pos]) or b"").decode())
        if fresh:  # rows read again unchanged are in the target already (their page was durable)
            read_at = now_utc()
            target.put_page(page_table(table, fresh, seq, False, read_at), seq, seq + len(fresh) - 1, read_at, None)
            seq += len(fresh)
        written += len(fresh)
        total += len(rows)
        last = rows[-1]
        last_ts, last_id = (as_bytes(last[ts_pos]) or b"").decode(), as_bytes(last[id_pos]) or b""
        window = prune(window, lookback_start(last_ts, config.cdc_lookback))
        counted = (state.rows if state else 0) + total
        target.save_hybrid_state(HybridState(last_ts, last_id, seq - 1, counted, window))  # after the page
        progress.add(len(rows))
        faultpoints.reached("extract.page")
        if len(rows) < chunk_rows:
            break
        if stopping():  # the watermark is saved: the next sync goes on after this page
            raise stopped("hybrid sync", table.name, total)
        mode = "after"
        params = q.after_params([last_ts, *bound_values(table, [id_col], [last_id])])
    progress.finish()
    return TableSync(total, written)


def sync_full(
    reader: QueryReader, target: TableStore, chunk_rows: int, stopping: Callable[[], bool] = lambda: False
) -> int:
    previous = target.extract_state()
    first = next_query_seq(previous.last_seq if previous else None)
    started = now_utc()
    state = ExtractState("full_sync", "running", first, first, started)
    target.save_extract_state(state)
    reader.begin_read()  # one consistent read: a row that moves its key mid-extract is still seen once
    try:
        progress = Progress(
            "full sync", target.table.name, reader.estimated_rows(target.table.database, target.table.name)
        )
        done = read_extract(reader, target, state, chunk_rows, started, progress, stopping)
    finally:
        reader.commit()
    return done.rows


def sync_tables(
    settings: Settings,
    store: ObjectStore,
    source_db: str,
    target_schema: str,
    selected: list[tuple[TableConfig, SourceTable]],
    stopping: Callable[[], bool] = lambda: False,
) -> dict[str, TableSync]:
    """Run each table's query-based strategy once; per table, the rows read and written."""
    rows: dict[str, TableSync] = {}
    reader = QueryReader(settings.mysql())
    try:
        for config, table in selected:
            target = TableStore(store, source_db, target_schema, table)
            if config.cdc_strategy == "hybrid":
                rows[table.name] = sync_hybrid(reader, target, config, settings.snapshot_chunk_rows, stopping)
            else:
                done = sync_full(reader, target, settings.snapshot_chunk_rows, stopping)
                rows[table.name] = TableSync(done, done)
            done_sync = rows[table.name]
            log.info("sync of table complete", table=table.name, strategy=config.cdc_strategy,
                     rows_read=done_sync.read, rows_written=done_sync.written)  # fmt: skip
    finally:
        reader.close()
    return rows


def prepare_query_tables(
    resolved: list[tuple[TableConfig, SourceTable]], names: Sequence[str]
) -> list[tuple[TableConfig, SourceTable]]:
    selected = select_tables(resolved, names, set(QUERY_STRATEGIES), "sync")  # type: ignore[arg-type]
    for config, table in selected:
        if config.cdc_strategy == "full_sync":
            require_extractable(config, table, "full_sync")
        arrow_schema(table)
    return selected


class QueryScheduler:
    """Runs each hybrid and full_sync table's strategy when its ``sync_interval`` has passed."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        source_db: str,
        target_schema: str,
        tables: list[tuple[TableConfig, SourceTable]],
    ) -> None:
        self.settings = settings
        self.store = store
        self.source_db = source_db
        self.target_schema = target_schema
        self.tables = tables  # the hybrid and full_sync tables
        self.last_run: dict[str, float] = {}

    def interval(self, config: TableConfig) -> float:
        return config.sync_interval or self.settings.sync_interval_seconds

    def run_due(self, force: bool = False) -> int:
        """Sync the tables that are due (all of them when ``force``); returns rows read."""
        now = time.monotonic()
        due = [
            (c, t)
            for c, t in self.tables
            if force or now - self.last_run.get(t.name, float("-inf")) >= self.interval(c)
        ]
        if not due:
            return 0
        try:
            rows = sync_tables(self.settings, self.store, self.source_db, self.target_schema, due)
        except SourceUnavailable as exc:
            if force:
                raise
            log.warning("query sync failed; retried at its next interval", error=str(exc))
            rows = {}
        for _, table in due:
            self.last_run[table.name] = now
        return sum(done.read for done in rows.values())
