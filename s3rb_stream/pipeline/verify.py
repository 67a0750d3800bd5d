"""Verify: prove the target equals the source, under live writes; repair what differs. The
``verify`` command (commands/verify.py) and the daemon's scheduled verify both run it.

Per table and round (docs/ARCHITECTURE.md, "Verify"):

1. A consistent-snapshot transaction opens on the source at binlog position P (as ``snapshot``
   opens one: the server's own position, or a short lock on MySQL).
2. Wait until the target is complete up to P: the checkpoint is past P and no batch of the table
   holding a change at or before P waits to be applied.
3. Count and digest sum per key range, on each side in its own database; a range that differs is
   split, down to ranges small enough to compare row by row. A target row whose ``_s3rb_seq`` is
   above P came from a later change: in flight, not a difference.
4. What still differs is read again in later rounds, each at a new position: a delete after P
   leaves the source there; a persistent difference differs in every round.

``--repair`` holds the table's loads, reads the differing keys at a new position P', writes them as
one part of a snapshot at P' (keys gone at the source as deletes), lifts the hold, has it loaded
(itself when it can take the lease, else by the running daemon) and verifies those keys again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import pyarrow as pa

from s3rb_stream import metrics
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.object_keys import parse_batch_key
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.query_state import next_run
from s3rb_stream.core.scd2 import LAST_SEQ
from s3rb_stream.core.schema import DELETED_AT, SourceTable, arrow_schema, arrow_type
from s3rb_stream.core.snapshot_lock import SnapshotLock
from s3rb_stream.core.verify import (
    LEAF_ROWS,
    Compared,
    Difference,
    Level,
    RangeSum,
    Row,
    Sums,
    TableReport,
    as_int,
    canonical,
    compare_rows,
    differing,
    digest,
    first_level,
    rows_bytes,
    sums_of,
    text,
)
from s3rb_stream.errors import S3rbError, SourceError, WarehouseError
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.extract import select_tables
from s3rb_stream.pipeline.load import check_target_names, load_fenced, scd2_spec
from s3rb_stream.pipeline.pages import Progress, TableStore, page_table
from s3rb_stream.pipeline.source_reads import SnapshotPlan, plan_snapshot, resolve_for_query, with_gtid_state
from s3rb_stream.pipeline.sync import lookback_start
from s3rb_stream.retry import Policy, Retry
from s3rb_stream.settings import Settings, TableConfig
from s3rb_stream.sources.query_reader import QueryReader
from s3rb_stream.sql.identifiers import literal, quote_ansi, quote_mysql
from s3rb_stream.sql.verify import HASHED_KEY_SPAN, Side, VerifyPlan, fetched
from s3rb_stream.state.checkpoint import load_checkpoint
from s3rb_stream.state.extracts import load_extract
from s3rb_stream.state.hybrid import load_hybrid
from s3rb_stream.state.quarantines import active_quarantines
from s3rb_stream.state.repairs import hold_repair, release_repair
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.store.batches import pending as pending_batches
from s3rb_stream.targets import open_warehouse
from s3rb_stream.targets.base import Warehouse
from s3rb_stream.threads import leave_signals_to_main

log = get_logger(__name__)
T = TypeVar("T")

NO_SEQ_LIMIT = (1 << 63) - 1
TARGET_RETRY = Policy(first=0.2, cap=5.0, tries=30)  # about two minutes
RECHECKS = 3  # rounds that read again what differs, each at a later position
SPANS_PER_QUERY = 400  # ranges named in one statement
FIRST_LEVEL_SEGMENT = 64  # first-level ranges per statement for integer keys (a progress step)


class TargetBehind(S3rbError):
    """The target did not become complete up to the source's position in time."""


class NotVerified(S3rbError):
    """A table verify cannot compare (not synced yet, quarantined, full_sync, no key): the report
    says why, and the other tables are verified."""


@dataclass
class VerifyResult:
    tables: list[TableReport] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """No table verified differs (a table not verified says why in its report, and in the output)."""
        return all(not t.differences for t in self.tables)


@dataclass
class Context:
    settings: Settings
    source_db: str
    target_schema: str
    store: ObjectStore
    warehouse: Warehouse
    reader: QueryReader
    lock_plan: SnapshotPlan | None  # None: no binlog table selected
    wait_seconds: float
    target_thread: ThreadPoolExecutor


def verify_tables(
    settings: Settings,
    source_db: str,
    target_schema: str,
    table_names: Sequence[str] = (),
    repair: bool = False,
    wait_seconds: float = 120.0,
    sample: int | None = None,
) -> VerifyResult:
    """Verify the selected tables (default: every table); with ``repair``, repair them.
    ``sample``: only so many first-level ranges per table, a contiguous stretch chosen at random
    (the daemon's scheduled verify)."""
    resolved = resolve_for_query(settings, source_db, need_binlog=False)
    check_target_names(settings, target_schema, resolved)
    selected = select_tables(resolved, table_names, {"binlog", "hybrid", "full_sync"}, "verify")
    on_binlog = any(config.cdc_strategy == "binlog" for config, _ in selected)
    lock_plan = plan_snapshot(settings, source_db) if on_binlog else None
    store = open_store(settings)
    quarantined = active_quarantines(store, source_db, target_schema)
    result = VerifyResult()
    warehouse = open_warehouse(settings)
    reader = QueryReader(settings.mysql())
    pool = ThreadPoolExecutor(1, "s3rb-verify-target", leave_signals_to_main)
    try:
        ctx = Context(settings, source_db, target_schema, store, warehouse, reader, lock_plan, wait_seconds, pool)
        for config, table in selected:
            report = TableReport(table.name, table.key_columns)
            why = _not_verified(config, table, quarantined.get(table.name) is not None)
            try:
                if why:
                    raise NotVerified(why)
                TableVerify(ctx, config, table, report, sample).run(repair)
            except NotVerified as exc:
                report.skipped = exc.message
            _record_metrics(source_db, target_schema, report)
            result.tables.append(report)
    finally:
        pool.shutdown()
        reader.close()
        warehouse.close()
    return result


def _not_verified(config: TableConfig, table: SourceTable, quarantined: bool) -> str:
    """Why a table is left out, said in the report (never a silent pass)."""
    if quarantined:
        return "quarantined: not captured, so not comparable (see `s3rb-stream status`)"
    if config.cdc_strategy == "full_sync":
        return (
            "cdc_strategy full_sync: it is as its last sync read the table, and verify cannot yet tell a row"
            " changed since that read from a lost one"
        )
    if not table.key_columns:
        return "no key: rows cannot be matched"
    floats = [k for k in table.key_columns if fetched(table.columns[table.position(k)], "duckdb")]
    if floats:
        return f"key column(s) {', '.join(floats)} are FLOAT/DOUBLE: not rendered alike on both sides"
    return ""


def compared_table(config: TableConfig, table: SourceTable) -> SourceTable:
    """The columns compared: every one, but for an SCD2 table that ignores untracked changes the
    key and the tracked columns (its current version keeps the others as they were)."""
    spec = scd2_spec(config, table)
    if spec is None or spec.untracked != "ignore":
        return table
    kept = set(table.key_columns) | set(spec.tracked)
    return SourceTable(table.database, table.name, tuple(c for c in table.columns if c.name in kept), table.key_columns)


def newest_per_key(table_sql: str, keys: Sequence[str], seq: str) -> str:
    """An append table as its rows are now: the newest change per key, unless it is a delete."""
    partition = ", ".join(quote_ansi(k) for k in keys)
    return (
        f"(SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {quote_ansi(seq)} DESC)"
        f' AS "_s3rb_newest" FROM {table_sql}) AS "_s3rb_changes"'
        ' WHERE "_s3rb_newest" = 1 AND "_s3rb_op" <> \'d\') AS "_s3rb_now"'
    )


def _record_metrics(source_db: str, target_schema: str, report: TableReport) -> None:
    labels = (source_db, target_schema, report.table)
    metrics.VERIFY_ROWS_CHECKED.labels(*labels).inc(report.rows_source)
    for kind, found in report.by_kind().items():
        metrics.VERIFY_DIFFERENCES.labels(*labels, kind).set(len(found))


class TableVerify:
    """One table's verify: rounds at positions, ranges and rows on both sides, the repair."""

    def __init__(
        self, ctx: Context, config: TableConfig, table: SourceTable, report: TableReport, sample: int | None = None
    ) -> None:
        self.ctx, self.config, self.table, self.report = ctx, config, table, report
        self.sample = sample
        target = ctx.settings.warehouse().kind
        wh = ctx.warehouse
        names: Callable[[str], str] = wh.names.name
        compared = compared_table(config, table)
        self.plan = VerifyPlan(compared, target)
        self.whole = VerifyPlan(table, target)  # what a repair reads: every column
        self.seq_column = names("_s3rb_seq")
        live = []
        if config.soft_delete:
            live.append(f"{quote_ansi(names(DELETED_AT))} IS NULL")
        spec = scd2_spec(config, table)
        if spec is not None:  # the current versions; a version's newest change is its last sequence
            live.append(quote_ansi(names(spec.is_current)))
            self.seq_column = names(LAST_SEQ)
        table_sql = wh.table_sql(ctx.target_schema, table.name)
        if config.mode == "append":  # every change kept: the newest per key is the row as it is now
            table_sql = newest_per_key(table_sql, [names(k) for k in table.key_columns], self.seq_column)
        self.source = Side(
            "mysql", f"{quote_mysql(table.database)}.{quote_mysql(table.name)}", {c: c for c in table.column_names}
        )
        self.target = Side(target, table_sql, {c: names(c) for c in table.column_names}, " AND ".join(live))
        self.columns = [c.name for c in self.plan.digested] + [c.name for c in self.plan.fetched]
        self.key_indexes = [self.columns.index(k) for k in table.key_columns]
        self.seq_limit = 0
        self.recent: str | None = None  # hybrid: the source's rows not yet synced (a condition)

    # ----------------------------------------------------------------------------- the rounds
    def run(self, repair: bool) -> None:
        started = time.monotonic()
        position = self._open_round()
        self.report.position = str(position) if position is not None else ""
        try:
            found = self._walk()
        finally:
            self.ctx.reader.commit()
        for _ in range(RECHECKS):
            if not found.differences:
                break
            found = self._recheck(found.differences)
        if self.config.cdc_strategy == "hybrid":  # it cannot see a delete: the row stays, by design
            self.report.kept_deleted = sum(1 for d in found.differences if d.kind == "extra")
            found.differences = [d for d in found.differences if d.kind != "extra"]
        self.report.differences = found.differences
        if repair and found.differences and self.config.cdc_strategy == "hybrid":
            self.report.not_repaired = (
                "cdc_strategy hybrid: its next sync re-reads a row whose timestamp moves; touch the"
                " timestamp of these rows at the source, or snapshot the table into a binlog table"
            )
        elif repair and found.differences and self.config.mode == "append":
            self.report.not_repaired = (
                "mode append keeps every change: a repair would add changes that never happened;"
                " snapshot the rows into a merge table, or fix them at the source"
            )
        elif repair and found.differences:
            self._repair(found.differences)
        self.report.seconds = time.monotonic() - started

    def _open_round(self, wait: bool = True) -> BinlogPosition | None:
        """A consistent snapshot on the source at a position P, and the target complete up to P
        (a hybrid table: a consistent read, and the target holding what its last sync wrote)."""
        ctx = self.ctx
        ctx.warehouse.idle()  # a DuckDB file: a daemon's loads may take it meanwhile
        if ctx.lock_plan is None or self.config.cdc_strategy != "binlog":
            ctx.reader.begin_read()
            started = time.monotonic()
            self.seq_limit = NO_SEQ_LIMIT  # query sequences: no binlog position orders them
            self.recent = self._hybrid_cutoff(wait)
            self.report.seconds_waiting += time.monotonic() - started
            return None
        lock = SnapshotLock(
            ctx.lock_plan.method, ctx.source_db, [self.table.name], ctx.settings.snapshot_lock_wait_seconds
        )
        opened = ctx.reader.begin_snapshot(lock)
        position = with_gtid_state(ctx.settings, ctx.lock_plan, opened)
        if position is None:
            raise SourceError("verify needs the binary log: the server reports no binlog position", "enable log_bin")
        self.seq_limit = position.seq
        if wait:
            started = time.monotonic()
            wait_complete(ctx.store, ctx.source_db, ctx.target_schema, self.table.name, position, ctx.wait_seconds)
            self.report.seconds_waiting += time.monotonic() - started
        return position

    def _hybrid_cutoff(self, wait: bool) -> str:
        """A hybrid table's rows not yet synced, as a condition on the source: a timestamp in the
        look-back window of the last sync or after it (read again by the next sync), or none at all
        (never read). Waits until the target holds what the last sync wrote."""
        ctx, config = self.ctx, self.config
        state = load_hybrid(ctx.store, ctx.source_db, ctx.target_schema, self.table.name)
        if state is None:
            raise NotVerified(f"{self.table.name} has not been synced yet: run `s3rb-stream sync` or the daemon first")
        if wait:
            wait_loaded(ctx.store, ctx.source_db, ctx.target_schema, self.table.name, state.last_seq, ctx.wait_seconds)
        ts = quote_mysql(config.cdc_timestamp_column or "")
        return f"({ts} IS NULL OR {ts} >= {literal(lookback_start(state.last_ts, config.cdc_lookback))})"

    def _recheck(self, differences: list[Difference]) -> Compared:
        """What differed, read again at a new position: only what differs in every round is kept."""
        self.report.rounds += 1
        self._open_round()
        try:
            keys = {d.key for d in differences}
            spans = sorted({(d.range_key, d.range_key + 1) for d in differences})
            return self._compare(spans, only=keys)
        finally:
            self.ctx.reader.commit()

    # ----------------------------------------------------------------------------- the walk
    def _walk(self) -> Compared:
        level, segments = self._first_level()
        progress = Progress(
            "verify", self.table.name, self.ctx.reader.estimated_rows(self.table.database, self.table.name)
        )
        source: Sums = {}
        target: Sums = {}
        for spans in segments:
            s, t = self._both(partial(self._sums, level=level, spans=spans))
            source.update(s)
            target.update(t)
            progress.add(sum(v.count for v in s.values()))
        progress.finish()
        self.report.rows_source = sum(v.count for v in source.values())
        self.report.rows_target = sum(v.count for v in target.values())
        self.report.ranges += len(source.keys() | target.keys())
        leaves: list[tuple[int, int]] = []
        leaf_rows = LEAF_ROWS["integer" if self.plan.integer_key else "hashed"]
        while True:
            split: list[tuple[int, int]] = []
            for r in differing(source, target):
                a, b = source.get(r, RangeSum(0, 0)), target.get(r, RangeSum(0, 0))
                small = max(a.count, b.count) <= leaf_rows or level.width == 1
                (leaves if small else split).append(level.span(r))
            if not split:
                break
            level = level.finer()
            source, target = {}, {}
            for spans in _chunks(split, SPANS_PER_QUERY):
                s, t = self._both(partial(self._sums, level=level, spans=spans))
                source.update(s)
                target.update(t)
            self.report.ranges += len(source.keys() | target.keys())
        return self._compare(leaves)

    def _first_level(self) -> tuple[Level, list[list[tuple[int, int]]]]:
        estimate = self.ctx.reader.estimated_rows(self.table.database, self.table.name) or 0
        if not self.plan.integer_key:
            level = first_level(0, HASHED_KEY_SPAN - 1, estimate)
            if self.sample is not None:
                return level, [[self._sampled(level, HASHED_KEY_SPAN // level.width)]]
            return level, [[]]  # one scan: no index to range over
        bounds = [self._source(self.plan.bounds(self.source))[0], self._target(self.plan.bounds(self.target))[0]]
        lows = [as_int(b[0]) for b in bounds if b[0] is not None]
        highs = [as_int(b[1]) for b in bounds if b[1] is not None]
        if not lows:
            return Level(0, 1), []  # both empty
        level = first_level(min(lows), max(highs), max(estimate, 1))
        count = (max(highs) - level.low) // level.width + 1
        if self.sample is not None:
            return level, [[self._sampled(level, count)]]
        spans = [level.span(r) for r in range(count)]
        segments = [[(c[0][0], c[-1][1])] for c in _chunks(spans, FIRST_LEVEL_SEGMENT)]
        return level, segments

    def _sampled(self, level: Level, count: int) -> tuple[int, int]:
        """A stretch of :attr:`sample` first-level ranges out of ``count``, chosen at random: the
        daemon's verifies cover the table over time, a little each time."""
        size = min(self.sample or count, count)
        first = random.randrange(count - size + 1)  # noqa: S311 (a sample, not a secret)
        self.report.sampled = f"{size:,} of {count:,} ranges"
        return level.span(first)[0], level.span(first + size - 1)[1]

    def _both(self, read: Callable[[Side], T]) -> tuple[T, T]:
        """``read`` of the source here and of the target on the target's thread, at once: each
        database works on its own side (the source's server, the warehouse or DuckDB here)."""
        target = self.ctx.target_thread.submit(read, self.target)
        try:
            source = read(self.source)
        finally:
            done = target.result()
        return source, done

    def _sums(self, side: Side, level: Level, spans: Sequence[tuple[int, int]]) -> Sums:
        run = self._source if side is self.source else self._target
        if not self.plan.fetched:
            return sums_of(run(self.plan.sums(side, spans, level.low, level.width)))
        # Fetched columns are digested here, with the row's key text and digest of the others.
        out: dict[int, list[int]] = {}
        for rk, key_text, row_digest, *values in run(self.plan.digests(side, spans)):
            canon = [canonical(c, v) for c, v in zip(self.plan.fetched, values, strict=True)]
            bucket = (as_int(rk) - level.low) // level.width
            entry = out.setdefault(bucket, [0, 0])
            entry[0] += 1
            entry[1] += as_int(row_digest) + digest(text(key_text), *canon)
        return {r: RangeSum(c, t) for r, (c, t) in out.items()}

    def _compare(self, spans: Sequence[tuple[int, int]], only: set[tuple[str | None, ...]] | None = None) -> Compared:
        result = Compared()
        for chunk in _chunks(sorted(spans), SPANS_PER_QUERY):
            source, target = self._both(partial(self._rows, spans=chunk))
            self.report.rows_compared += len(source) + len(target)
            found = compare_rows(self.columns, self.key_indexes, source, target, self.seq_limit, only)
            result.differences += found.differences
            result.in_flight += found.in_flight
        self.report.in_flight += result.in_flight
        return result

    def _rows(self, side: Side, spans: Sequence[tuple[int, int]]) -> list[Row]:
        on_target = side is self.target
        run = self._target if on_target else self._source
        digested = len(self.plan.digested)
        out = []
        flag = None if on_target else self.recent
        for rk, *values in run(self.plan.rows(side, spans, self.seq_column if on_target else None, flag)):
            seq = as_int(values.pop()) if on_target else None
            recent = bool(as_int(values.pop())) if flag is not None else False
            shown = [text(v) for v in values[:digested]]
            shown += [canonical(c, v) for c, v in zip(self.plan.fetched, values[digested:], strict=True)]
            out.append(Row(as_int(rk), tuple(shown), seq, recent))
        return out

    def _query_target(self, statement: str) -> list[Any]:
        try:
            return self.ctx.warehouse.query(statement)
        except S3rbError:
            raise
        except Exception as exc:  # the driver's own: a table not there, a function refused
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WarehouseError(
                f"verify: reading {self.table.name} in the target failed: {first}",
                "has the pipeline loaded the table? `s3rb-stream status` shows its last load",
            ) from None

    def _target_busy(self, exc: Exception, failures: int) -> None:
        log.info("the target is busy; verify tries again", table=self.table.name, error=str(exc), tries=failures)

    def _source(self, statement: str) -> list[Any]:
        started = time.monotonic()
        rows = self.ctx.reader.execute(statement)
        self.report.seconds_source += time.monotonic() - started
        self.report.bytes_source += rows_bytes(rows)
        return rows

    def _target(self, statement: str) -> list[Any]:
        started = time.monotonic()
        # A DuckDB file a daemon's load holds is let go when the load ends: worth waiting for.
        rows = Retry(TARGET_RETRY).call(lambda: self._query_target(statement), self._target_busy)
        self.report.seconds_target += time.monotonic() - started
        self.report.bytes_target += rows_bytes(rows)
        return rows

    # ----------------------------------------------------------------------------- the repair
    def _repair(self, differences: list[Difference]) -> None:
        """Write the differing keys' rows at a new position as one snapshot part, loads held
        meanwhile; have it loaded; verify those keys again."""
        ctx, table = self.ctx, self.table
        keys = {d.key for d in differences}
        spans = sorted({(d.range_key, d.range_key + 1) for d in differences})
        hold_repair(ctx.store, ctx.source_db, ctx.target_schema, table.name, now_utc())
        try:
            position = self._open_round(wait=False)  # after the hold: the watermark is below P
            if position is None:  # only binlog tables are repaired (see run)
                raise SourceError(f"repair of {table.name}: the source reported no binlog position")
            try:
                rows, gone = self._repair_rows(spans, keys)
            finally:
                ctx.reader.commit()
            read_at = now_utc()
            parts = [page_table(table, rows, position.seq, True, read_at)]
            if gone:
                parts.append(_deletes(table, gone, position.seq, read_at))
            data = pa.concat_tables(parts)
            out = TableStore(ctx.store, ctx.source_db, ctx.target_schema, table)
            key = out.put_page(data, position.seq, position.seq, read_at, part=0, run=next_run(out.extract_state()))
            log.info("repair written", table=table.name, rows=len(rows), deletes=len(gone), key=key)
        finally:
            release_repair(ctx.store, ctx.source_db, ctx.target_schema, table.name)
        self.report.repaired = data.num_rows
        _load_repair(ctx, self.config, table, position)
        found = self._recheck(differences)
        self.report.differences = found.differences

    def _repair_rows(
        self, spans: list[tuple[int, int]], keys: set[tuple[str | None, ...]]
    ) -> tuple[list[Any], list[tuple[Any, ...]]]:
        """The source's rows of the differing keys, and the target key values gone at the source."""
        rows: list[Any] = []
        present: set[tuple[str | None, ...]] = set()
        gone: list[tuple[Any, ...]] = []
        width = len(self.table.key_columns)
        for chunk in _chunks(spans, SPANS_PER_QUERY):
            rows += self._source(self.whole.source_rows(self.source, chunk))
            present |= {tuple(r.values[i] for i in self.key_indexes) for r in self._rows(self.source, chunk)}
            for _rk, *values in self._target(self.plan.target_keys(self.target, chunk)):
                shown, raw = tuple(text(v) for v in values[:width]), tuple(values[width:])
                if shown in keys and shown not in present:
                    gone.append(raw)
        return rows, gone


def _deletes(table: SourceTable, keys: list[tuple[Any, ...]], seq: int, at: Any) -> pa.Table:
    """Delete changes for ``keys`` (values as the target holds them), the other columns NULL."""
    schema = arrow_schema(table)
    by_key = {k: i for i, k in enumerate(table.key_columns)}
    arrays = []
    for col in table.columns:
        i = by_key.get(col.name)
        values = [k[i] for k in keys] if i is not None else [None] * len(keys)
        arrays.append(pa.array(values, type=arrow_type(col)))
    arrays.append(pa.array([seq] * len(keys), pa.int64()))
    arrays.append(pa.array(["d"] * len(keys), pa.string()))
    arrays.append(pa.array([at] * len(keys), pa.timestamp("us", tz="UTC")))
    return pa.Table.from_arrays(arrays, schema=schema)


def _load_repair(ctx: Context, config: TableConfig, table: SourceTable, position: BinlogPosition) -> None:
    """Load the repair: here, under the lease, when no daemon holds it; else wait for the daemon's load."""
    from s3rb_stream.state.lease import Lease, LeaseHeld

    lease = Lease(ctx.store, ctx.source_db, ctx.target_schema, ctx.settings.lease_seconds)
    try:
        lease.acquire(standby=False)
    except LeaseHeld:
        log.info("repair written; the running daemon loads it", table=table.name)
        wait_complete(ctx.store, ctx.source_db, ctx.target_schema, table.name, position, ctx.wait_seconds)
        return
    try:
        load_fenced(ctx.settings, ctx.store, ctx.source_db, ctx.target_schema, [(config, table)], lease, ctx.warehouse)
    finally:
        lease.release()


def wait_complete(
    store: ObjectStore, source_db: str, target_schema: str, table: str, position: BinlogPosition, wait_seconds: float
) -> None:
    """Return once every change of ``table`` at or before ``position`` is applied to the target:
    the checkpoint is past it (every such change is in an object), and no pending note of the table
    names a batch that begins at or before it (invariant 7: every batch not applied has one)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        checkpoint = load_checkpoint(store, source_db, target_schema)
        extract = load_extract(store, source_db, target_schema, table)
        snapshotted = extract is not None and extract.kind == "snapshot" and extract.status == "complete"
        # Up to a complete snapshot's position too: a table snapshotted and not captured since.
        if checkpoint is None and extract is None:
            raise TargetBehind(
                f"verify: nothing of {source_db} has been captured into {target_schema} yet",
                "run the pipeline first (s3rb-stream run, or snapshot then run)",
            )
        captured = (checkpoint is not None and checkpoint.position.seq >= position.seq) or (
            snapshotted
            and extract is not None
            and extract.position is not None
            and extract.position.seq >= position.seq
        )
        refs = [parse_batch_key(k) for k in pending_batches(store, source_db, target_schema, table)] if captured else []
        waiting = [r for r in refs if r is not None and r.first_seq <= position.seq]
        if captured and not waiting:
            return
        if time.monotonic() >= deadline:
            where = f"the checkpoint is at {checkpoint.position}" if checkpoint else "nothing has been captured yet"
            what = f"{len(waiting)} batch(es) of {table} wait to be loaded" if captured else where
            raise TargetBehind(
                f"verify: the target is not complete up to the source's binlog position {position}"
                f" after {wait_seconds:.0f}s: {what}",
                "start the daemon (s3rb-stream run), or run `s3rb-stream run --until-caught-up`, then verify"
                " again; --wait gives a slow pipeline longer",
            )
        time.sleep(0.25)


SAMPLE_RANGES = 64  # first-level ranges per table a scheduled verify compares: ~64k rows


def scheduled_verify(settings: Settings, source_db: str, target_schema: str) -> None:
    """The daemon's verify (``S3RB_VERIFY_INTERVAL_HOURS``): a sample of each table's ranges;
    differences are logged and set ``s3rb_verify_differences``, nothing is repaired. A verify that
    could not run is logged and counted, and the daemon goes on."""
    try:
        result = verify_tables(settings, source_db, target_schema, sample=SAMPLE_RANGES)
    except S3rbError as exc:
        metrics.ERRORS.labels(source_db, target_schema, "", "verify").inc()
        log.warning("scheduled verify could not run", error=exc.message, hint=exc.hint)
        return
    for t in result.tables:
        if t.differences:
            log.warning(
                "verify found differences",
                table=t.table,
                sampled=t.sampled,
                differences={kind: len(found) for kind, found in t.by_kind().items() if found},
                first=[d.describe(t.key_columns) for d in t.differences[:5]],
                hint=f"s3rb-stream verify --source-db {source_db} --target-schema {target_schema}"
                f" -t {t.table} --repair",
            )
        elif not t.skipped:
            log.info("verify found the table equal", table=t.table, sampled=t.sampled, rows=t.rows_source)


def wait_loaded(
    store: ObjectStore, source_db: str, target_schema: str, table: str, last_seq: int, wait_seconds: float
) -> None:
    """Return once no batch of ``table`` that begins at or before ``last_seq`` waits to be applied."""
    deadline = time.monotonic() + wait_seconds
    while True:
        refs = [parse_batch_key(k) for k in pending_batches(store, source_db, target_schema, table)]
        waiting = [r for r in refs if r is not None and r.first_seq <= last_seq]
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise TargetBehind(
                f"verify: {len(waiting)} batch(es) of {table} that its last sync wrote are not loaded"
                f" after {wait_seconds:.0f}s",
                "start the daemon, or run `s3rb-stream run --until-caught-up`, then verify again",
            )
        time.sleep(0.25)


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
