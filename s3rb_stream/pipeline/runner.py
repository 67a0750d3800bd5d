"""``run``: preflight, then capture and load for one source schema until caught up or stopped."""

from __future__ import annotations

import signal
import threading
import time
import zlib
from dataclasses import dataclass, field
from types import FrameType
from typing import Literal

from s3rb_stream import metrics
from s3rb_stream.core.batching import FlushPolicy
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.gtid import Flavor
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import retention_warning
from s3rb_stream.core.query_state import QUERY_SEQ_FLOOR
from s3rb_stream.core.schema import SourceTable, arrow_schema, table_from_json
from s3rb_stream.errors import BinlogGone, ConfigError, S3rbError, SourceUnavailable
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.capture import Capture, active_quarantines, load_checkpoint, save_quarantine
from s3rb_stream.pipeline.extract import require_extractable
from s3rb_stream.pipeline.lease import Lease
from s3rb_stream.pipeline.load import Loader, LoadStats, add_stats, check_target_names, scd2_spec
from s3rb_stream.pipeline.resume import choose_start, gtid_flavor, lost_range, purged_error, snapshot_positions
from s3rb_stream.pipeline.workers import Backlog, LoadWorker, Ticker
from s3rb_stream.settings import Settings, TableConfig, load_tables_file
from s3rb_stream.sources import mysql_meta
from s3rb_stream.sources.binlog import BinlogReader
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import Fence, Warehouse, open_warehouse

log = get_logger(__name__)

StartPosition = Literal["earliest", "current"]
MAX_RECONNECTS_CAUGHT_UP = 5
PROBE_EVERY_SECONDS = 10.0


@dataclass
class RunResult:
    changes: int
    batches_written: int
    loaded: LoadStats
    position: BinlogPosition | None


class StopFlag:
    """Set by SIGTERM/SIGINT; a second signal stops at once."""

    def __init__(self) -> None:
        self.stopping = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            raise KeyboardInterrupt
        self.stopping = True
        log.info("stopping: flushing batches and saving the checkpoint", signal=signal.Signals(signum).name)


def default_server_id(source_db: str, target_schema: str) -> int:
    """A stable replica id per pipeline, away from the small ids people give real servers."""
    return 1_000_000 + zlib.crc32(f"{source_db}/{target_schema}".encode()) % 1_000_000_000


@dataclass
class Prepared:
    tables: list[tuple[TableConfig, SourceTable]]  # every configured table
    start: BinlogPosition | None  # None when no table is captured from the binlog
    target_position: BinlogPosition | None
    store: ObjectStore
    resumed: bool
    skip_below: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    quarantined: dict[str, str] = field(default_factory=dict)
    gtid: Flavor | None = None  # the server's flavor when positioning by GTID

    @property
    def binlog_tables(self) -> list[tuple[TableConfig, SourceTable]]:
        """The tables captured from the binlog: quarantined ones are not (their loads go on)."""
        return [(c, t) for c, t in self.tables if c.cdc_strategy == "binlog" and t.name not in self.quarantined]

    @property
    def query_tables(self) -> list[tuple[TableConfig, SourceTable]]:
        return [(c, t) for c, t in self.tables if c.cdc_strategy != "binlog"]


def prepare(settings: Settings, source_db: str, target_schema: str, start_position: StartPosition) -> Prepared:
    """Preflight everything before anything is written: config, source, binlog settings, store."""
    tables_file = load_tables_file(settings.tables_file)
    mysql = settings.mysql()
    conn = mysql_meta.connect(mysql)
    warnings: list[str] = []
    try:
        entries = tables_file.for_source(source_db)
        replication = any(e.cdc_strategy == "binlog" for e in entries)
        named = [e.table_pattern for e in entries if not e.is_pattern]
        mysql_meta.check_access(conn, mysql, source_db, named, replication)  # before anything is read
        store = open_store(settings)
        checkpoint = load_checkpoint(store, source_db, target_schema)
        captured = set(checkpoint.tables or ()) if checkpoint is not None else set()
        already = set(active_quarantines(store, source_db, target_schema))
        tables = mysql_meta.resolve_tables(conn, source_db, tables_file, missing_ok=captured | already)
        if checkpoint is not None:
            gone = (set(named) & captured) - {t.name for _, t in tables} - already
            for name in sorted(gone):  # dropped while it was captured: stop it, keep the rest going
                reason = "the table no longer exists at the source (dropped or renamed)"
                save_quarantine(store, source_db, target_schema, name, reason, checkpoint.position)
        if checkpoint is not None and checkpoint.definitions:
            # Replay from the checkpoint with the definitions in effect there; ALTERs ahead are followed.
            tables = [
                (c, table_from_json(checkpoint.definitions[t.name]) if t.name in checkpoint.definitions else t)
                for c, t in tables
            ]
        check_target_names(settings, target_schema, tables)  # names the target cannot hold fail here
        for config, table in tables:
            scd2_spec(config, table)  # SCD2 names that collide fail here
            arrow_schema(table)  # unsupported column types fail here, before any write
            if config.cdc_strategy == "full_sync":
                require_extractable(config, table, "full_sync")
        binlog_names = [t.name for c, t in tables if c.cdc_strategy == "binlog"]
        if not binlog_names:
            store.check()
            return Prepared(tables, None, None, store, True)
        variables = mysql_meta.check_binlog(conn, mysql)
        mysql_meta.check_server_id(conn, variables, settings.server_id or default_server_id(source_db, target_schema))
        gtid = gtid_flavor(settings, variables, checkpoint, warnings)
        target_position = mysql_meta.current_position(conn, gtid)
        quarantined = active_quarantines(store, source_db, target_schema)
        for name, reason in quarantined.items():
            warnings.append(
                f"table {name} is quarantined: {reason}; the other tables go on. Re-snapshot it:"
                f" s3rb-stream snapshot --source-db {source_db} --target-schema {target_schema} -t {name} --restart"
            )
            log.error("quarantined table not captured", table=name, reason=reason)
        binlog_names = [n for n in binlog_names if n not in quarantined]
        if not binlog_names:  # every binlog table is quarantined: only loads and query tables go on
            store.check()
            return Prepared(tables, None, None, store, True, {}, warnings, quarantined)
        if checkpoint is not None:
            warning = retention_warning(variables, (now_utc() - checkpoint.saved_at).total_seconds())
            if warning:
                warnings.append(warning)
                log.warning(warning)
        snapshots = snapshot_positions(
            store, source_db, target_schema, [(c, t) for c, t in tables if t.name in binlog_names]
        )
        for name, position in snapshots.items():
            if (position.ordinal is not None) != (gtid is not None):
                raise ConfigError(
                    f"the snapshot of {name} was positioned by {'GTID' if position.ordinal is not None else 'file'},"
                    f" but S3RB_POSITIONING={settings.positioning}",
                    f"set S3RB_POSITIONING back, or re-snapshot the table: s3rb-stream snapshot --source-db"
                    f" {source_db} --target-schema {target_schema} -t {name} --restart",
                )
        start, skip = choose_start(checkpoint, snapshots, binlog_names)
        if start is not None:
            lost = lost_range(conn, start, target_position, gtid)
            if lost:
                lost_tables = [(c, t) for c, t in tables if t.name in binlog_names]
                raise purged_error(source_db, target_schema, lost_tables, lost)
            log.info("resuming", position=str(start), source_db=source_db, target_schema=target_schema)
        elif start_position == "current":
            start = target_position
            log.warning("no checkpoint: starting at the current binlog position", position=str(start))
        else:
            start = BinlogPosition(mysql_meta.binary_logs(conn)[0], 4)
            if gtid == "mariadb":
                start = mysql_meta.gtid_position(conn, start, gtid)
            elif gtid == "mysql":
                start = mysql_meta.with_gtid(start, mysql_meta.purged_gtids(conn, gtid))
            log.warning(
                "no checkpoint: starting at the oldest binlog on the server; rows written before it are not captured",
                position=str(start),
            )
    finally:
        conn.close()
    store.check()
    return Prepared(tables, start, target_position, store, checkpoint is not None, skip, warnings, quarantined, gtid)


def run(
    settings: Settings,
    source_db: str,
    target_schema: str,
    until_caught_up: bool = False,
    start_position: StartPosition = "earliest",
    stop: StopFlag | None = None,
    standby: bool = False,
) -> RunResult:
    stop = stop or StopFlag()
    prepared = prepare(settings, source_db, target_schema, start_position)  # preflight: nothing written yet
    start_metrics(settings)
    lease = Lease(prepared.store, source_db, target_schema, settings.lease_seconds)
    waited = time.monotonic()
    metrics.part(source_db, target_schema, "lease", "waiting")  # a standby is alive, not ready
    try:
        if not lease.acquire(standby, lambda: stop.stopping):
            return RunResult(0, 0, LoadStats(), None)  # stopped while standing by
        try:
            if time.monotonic() - waited > 1.0:  # stood by while another instance wrote: read its progress
                prepared = prepare(settings, source_db, target_schema, start_position)
            warehouse = open_warehouse(settings)
            try:
                fence = Fence(source_db, lease.generation)
                warehouse.claim(target_schema, fence)  # from now on, an older lease holder cannot commit
                return _run(
                    settings, prepared, warehouse, source_db, target_schema, until_caught_up, stop, lease, fence
                )
            finally:
                warehouse.close()
        finally:
            lease.release()
    finally:
        metrics.forget_parts(source_db, target_schema)


def refuse_switched_to_binlog(
    warehouse: Warehouse, target_schema: str, binlog_tables: list[tuple[TableConfig, SourceTable]]
) -> None:
    """A binlog table whose target rows carry query-read sequences would ignore every binlog change."""
    summary = warehouse.load_summary(target_schema)
    switched = [t.name for _, t in binlog_tables if t.name in summary and summary[t.name].max_seq >= QUERY_SEQ_FLOOR]
    if switched:
        raise ConfigError(
            f"table(s) {switched} in {target_schema} were loaded by hybrid or full_sync, whose sequences lie above"
            " every binlog position: binlog changes to them would never apply",
            "drop those target tables (and their _s3rb_batches rows), then snapshot them",
        )


class QueryScheduler:
    """Runs each hybrid and full_sync table's strategy when its ``sync_interval`` has passed."""

    def __init__(self, settings: Settings, prepared: Prepared, source_db: str, target_schema: str) -> None:
        self.settings = settings
        self.prepared = prepared
        self.source_db = source_db
        self.target_schema = target_schema
        self.last_run: dict[str, float] = {}

    def interval(self, config: TableConfig) -> float:
        return config.sync_interval or self.settings.sync_interval_seconds

    def run_due(self, force: bool = False) -> int:
        """Sync the tables that are due (all of them when ``force``); returns rows read."""
        from s3rb_stream.pipeline.sync import sync_tables

        now = time.monotonic()
        due = [
            (c, t)
            for c, t in self.prepared.query_tables
            if force or now - self.last_run.get(t.name, float("-inf")) >= self.interval(c)
        ]
        if not due:
            return 0
        try:
            rows = sync_tables(self.settings, self.prepared.store, self.source_db, self.target_schema, due)
        except SourceUnavailable as exc:
            if force:
                raise
            log.warning("query sync failed; retried at its next interval", error=str(exc))
            rows = {}
        for _, table in due:
            self.last_run[table.name] = now
        return sum(rows.values())


_metrics_server: object | None = None


_metrics_lock = threading.Lock()


def start_metrics(settings: Settings) -> None:
    """Serve /metrics and /healthz on S3RB_METRICS_PORT, once per process (pipelines share it)."""
    global _metrics_server
    with _metrics_lock:
        if settings.metrics_port and _metrics_server is None:
            stale_after = max(60.0, 10 * settings.heartbeat_seconds)
            _metrics_server = metrics.serve(settings.metrics_port, stale_after=stale_after)
            log.info("metrics served", port=settings.metrics_port, paths=["/metrics", "/healthz"])


def bytes_behind(logs: list[tuple[str, int]], position: BinlogPosition) -> int | None:
    """Binlog bytes from ``position`` to the end of the newest file; None when its file is gone."""
    names = [name for name, _ in logs]
    if position.file not in names:
        return None
    index = names.index(position.file)
    return max(0, logs[index][1] - position.pos) + sum(size for _, size in logs[index + 1 :])


class Parts:
    """The parts of a run besides capture, each on its own clock (pipeline/workers.py): the lease's
    renewal always; in a daemon, the loads and the query syncs too. Stopped in reverse order."""

    def __init__(
        self,
        settings: Settings,
        labels: tuple[str, str],
        loader: Loader,
        scheduler: QueryScheduler,
        lease: Lease | None,
        daemon: bool,
    ) -> None:
        self.labels = labels
        self.backlog = Backlog(settings.max_pending_batches)
        self.tickers: list[Ticker] = []
        if lease is not None:
            self.tickers.append(Ticker("lease", min(1.0, lease.ttl / 6), lease.renew, labels))
        self.load = LoadWorker(loader, settings.load_interval_seconds, self.backlog, labels) if daemon else None
        if daemon and scheduler.prepared.query_tables:
            self.tickers.append(Ticker("sync", 1.0, lambda: self._sync(scheduler), labels))

    def _sync(self, scheduler: QueryScheduler) -> None:
        if scheduler.run_due() and self.load is not None:
            self.load.poke()

    def __enter__(self) -> Parts:
        for ticker in self.tickers:
            ticker.start()
        if self.load is not None:
            self.load.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_loads()
        for ticker in reversed(self.tickers):
            ticker.stop()
        metrics.forget_parts(*self.labels)

    def stop_loads(self) -> None:
        """Stop syncing and loading in the background (a load in progress finishes first)."""
        for ticker in self.tickers:
            if ticker.name == "sync":
                ticker.stop()
        if self.load is not None:
            self.load.stop()

    def wrote(self) -> None:
        """Capture wrote a batch object."""
        self.backlog.wrote()
        metrics.BATCHES_BACKLOG.labels(*self.labels).set(self.backlog.pending)
        if self.load is not None:
            self.load.poke()

    def raise_failure(self) -> None:
        """A part that failed for good ends the run, with its error."""
        for part in (*self.tickers, self.load):
            if part is not None and part.error is not None:
                raise part.error

    def hold_back(self, stop: StopFlag) -> None:
        """Back-pressure: while the batches pending in the store are at their bound, capture waits,
        still alive, and reads on once the loads have caught up. Nothing is dropped."""
        if not self.backlog.full():
            return
        log.warning(
            "capture paused: loads are behind; the batches wait in the store, and reading resumes when they are loaded",
            pending=self.backlog.pending,
            max_pending_batches=self.backlog.max_batches,
        )
        metrics.CAPTURE_PAUSED.labels(*self.labels).set(1)
        metrics.part(*self.labels, "capture", "waiting")
        while self.backlog.full() and not stop.stopping:
            self.raise_failure()
            time.sleep(0.5)
        metrics.CAPTURE_PAUSED.labels(*self.labels).set(0)
        metrics.part(*self.labels, "capture", "running")
        log.info("capture resumed", pending=self.backlog.pending)


def _run(
    settings: Settings,
    prepared: Prepared,
    warehouse: Warehouse,
    source_db: str,
    target_schema: str,
    until_caught_up: bool,
    stop: StopFlag,
    lease: Lease | None = None,
    fence: Fence | None = None,
) -> RunResult:
    loader = Loader(prepared.store, warehouse, source_db, target_schema, prepared.tables, fence)
    for config, table in prepared.tables:
        warehouse.prepare(target_schema, table, scd2_spec(config, table))
    refuse_switched_to_binlog(warehouse, target_schema, prepared.binlog_tables)
    warehouse.idle()  # until the first load
    scheduler = QueryScheduler(settings, prepared, source_db, target_schema)
    with Parts(settings, (source_db, target_schema), loader, scheduler, lease, not until_caught_up) as parts:
        if prepared.start is None:
            return _run_queries_only(settings, scheduler, loader, until_caught_up, stop, parts)
        return _capture(settings, prepared, loader, scheduler, source_db, target_schema, until_caught_up, stop, parts)


def _capture(
    settings: Settings,
    prepared: Prepared,
    loader: Loader,
    scheduler: QueryScheduler,
    source_db: str,
    target_schema: str,
    until_caught_up: bool,
    stop: StopFlag,
    parts: Parts,
) -> RunResult:
    start = prepared.start
    assert start is not None  # a pipeline without binlog tables runs _run_queries_only
    policy = FlushPolicy(
        max_rows=settings.batch_max_rows,
        max_bytes=settings.batch_max_bytes,
        max_age_seconds=settings.batch_max_age_seconds,
    )

    def describe(name: str) -> SourceTable | None:
        conn = mysql_meta.connect(settings.mysql())
        try:
            tables_file = load_tables_file(settings.tables_file)
            everything = {e.table_pattern for e in tables_file.for_source(source_db)}
            found = mysql_meta.resolve_tables(conn, source_db, tables_file, missing_ok=everything)
        finally:
            conn.close()
        return next((t for _, t in found if t.name == name), None)

    def adopt(name: str) -> SourceTable | None:
        config = load_tables_file(settings.tables_file).resolve(source_db, name)
        if config is None or config.cdc_strategy != "binlog":
            return None
        table = describe(name)
        if table is None:
            return None
        if config.mode != "append" and not table.key_columns:
            log.error("new table not captured: it has no primary key (set key_columns or mode: append)", table=name)
            return None
        arrow_schema(table)
        try:
            check_target_names(settings, target_schema, [*loader.tables, (config, table)])
            scd2_spec(config, table)
        except S3rbError as exc:
            log.error(f"new table not captured: {exc}", table=name)
            return None
        loader.tables.append((config, table))  # the loader creates its target table at its next pass
        if config.mode == "scd2":
            capture.collapse.add(name)
        return table

    capture = Capture(
        prepared.store,
        source_db,
        target_schema,
        [t for _, t in prepared.binlog_tables],
        policy,
        start,
        prepared.resumed,
        prepared.skip_below,
        {t.name for c, t in prepared.binlog_tables if c.mode == "scd2"},
        describe,
        adopt,
    )
    capture.on_written = parts.wrote
    server_id = settings.server_id or default_server_id(source_db, target_schema)
    target = prepared.target_position or start

    def should_stop(position: BinlogPosition) -> bool:
        if stop.stopping:
            return True
        return until_caught_up and position.at_or_after(target)

    last_probe = 0.0

    def probe_source() -> None:
        """Every few seconds: how far behind capture is, in bytes."""
        nonlocal last_probe
        if time.monotonic() - last_probe < PROBE_EVERY_SECONDS:
            return
        last_probe = time.monotonic()
        try:
            conn = mysql_meta.connect(settings.mysql())
            try:
                logs = mysql_meta.binary_log_sizes(conn)
            finally:
                conn.close()
        except S3rbError as exc:
            log.warning("source probe failed", error=str(exc))
            return
        behind = bytes_behind(logs, capture.buffers.last_commit)
        if behind is not None:
            metrics.BYTES_BEHIND.labels(source_db, target_schema).set(behind)
        saved = capture.saved_position
        if prepared.gtid is None and saved is not None and saved.file not in {name for name, _ in logs}:
            # Retention is shorter than batches stay open: a restart now could not resume. Reading
            # is already past it, so writing every open batch moves the checkpoint out of danger.
            log.error(
                "the binlog holding the checkpoint was purged while running: flushing every batch now;"
                " raise binlog retention above S3RB_BATCH_MAX_AGE_SECONDS by a wide margin",
                checkpoint=str(saved),
            )
            capture.flush_all()

    def on_boundary() -> None:
        metrics.heartbeat()
        metrics.part(source_db, target_schema, "capture", "running")
        parts.raise_failure()  # a lost lease, a fenced or failed load: the run ends here
        probe_source()
        parts.hold_back(stop)

    metrics.part(source_db, target_schema, "capture", "running")
    failures = 0
    failed_at = capture.buffers.last_commit
    while not (until_caught_up and capture.buffers.last_commit.at_or_after(target)) and not stop.stopping:
        reader = BinlogReader(
            settings.mysql(),
            server_id,
            source_db,
            capture.tables,
            capture.buffers.last_commit,
            settings.heartbeat_seconds,
            prepared.gtid,
            capture.quarantined,
        )
        try:
            capture.consume(reader, should_stop, on_boundary)
            if capture.reopen:  # a new table joined: read on from right after its CREATE
                capture.reopen = False
                continue
            break
        except BinlogGone as exc:
            raise purged_error(source_db, target_schema, prepared.binlog_tables, str(exc)) from None
        except SourceUnavailable as exc:
            # Back off harder only while no progress is made between failures.
            failures = 1 if capture.buffers.last_commit != failed_at else failures + 1
            failed_at = capture.buffers.last_commit
            if until_caught_up and failures > MAX_RECONNECTS_CAUGHT_UP:
                raise
            delay = min(30.0, 0.5 * 2**failures)
            log.warning("binlog reader reconnecting", error=str(exc), attempt=failures, delay_s=delay)
            time.sleep(delay)
        finally:
            reader.close()
    capture.flush_all()
    loaded = _finish(scheduler, loader, until_caught_up, parts)
    log.info(
        "caught up" if until_caught_up else "stopped",
        changes=capture.changes_total,
        batches=capture.batches_written,
        rows_loaded=loaded.rows,
        position=str(capture.buffers.last_commit),
    )
    return RunResult(capture.changes_total, capture.batches_written, loaded, capture.buffers.last_commit)


def _finish(scheduler: QueryScheduler, loader: Loader, until_caught_up: bool, parts: Parts) -> LoadStats:
    """The end of a run: background loads stop, then one last sync (batch mode) and load of all that
    was written, under the lease, which is still renewed meanwhile."""
    parts.stop_loads()
    parts.raise_failure()
    loaded = LoadStats()
    if parts.load is not None:
        add_stats(loaded, parts.load.stats)
    if until_caught_up:
        scheduler.run_due(force=True)
    add_stats(loaded, loader.load_all())
    return loaded


def _run_queries_only(
    settings: Settings,
    scheduler: QueryScheduler,
    loader: Loader,
    until_caught_up: bool,
    stop: StopFlag,
    parts: Parts,
) -> RunResult:
    """No table on the binlog: sync on schedule (once, with ``until_caught_up``) and load."""
    labels = parts.labels
    if until_caught_up:
        rows = scheduler.run_due(force=True)
        return RunResult(rows, 0, _finish(scheduler, loader, False, parts), None)
    if parts.load is not None:
        parts.load.poke()  # what earlier runs left pending
    while not stop.stopping:
        metrics.heartbeat()
        metrics.part(*labels, "capture", "running")
        parts.raise_failure()
        time.sleep(min(1.0, settings.heartbeat_seconds))
    return RunResult(0, 0, _finish(scheduler, loader, False, parts), None)
