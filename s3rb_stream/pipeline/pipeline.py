"""One run of one pipeline (a source schema into a target schema), once preflight has passed and
the lease is held: capture on this thread, and the parts beside it on theirs (pipeline/workers.py,
docs/ARCHITECTURE.md, "Concurrency")."""

from __future__ import annotations

import time
from collections.abc import Container, Mapping
from dataclasses import dataclass, field

from s3rb_stream import metrics
from s3rb_stream.core.batching import FlushPolicy
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceTable, arrow_schema
from s3rb_stream.errors import BinlogGone, S3rbError, SourceUnavailable
from s3rb_stream.log import get_logger
from s3rb_stream.metrics import PartState
from s3rb_stream.pipeline.capture import Capture
from s3rb_stream.pipeline.definitions import Adopted
from s3rb_stream.pipeline.load import Loader, LoadStats, add_stats, check_target_names, scd2_spec
from s3rb_stream.pipeline.resume import purged_error
from s3rb_stream.pipeline.shared import CaptureProgress, TableRegistry
from s3rb_stream.pipeline.sync import QueryScheduler
from s3rb_stream.pipeline.types import Prepared, RunResult, StopFlag
from s3rb_stream.pipeline.workers import Parts
from s3rb_stream.retry import Policy, Retry
from s3rb_stream.settings import Settings, load_tables_file
from s3rb_stream.sources import mysql_meta
from s3rb_stream.sources.binlog import BinlogReader, Resolver
from s3rb_stream.state.lease import Lease
from s3rb_stream.targets import Fence, Warehouse

log = get_logger(__name__)

MAX_RECONNECTS_CAUGHT_UP = 5  # a batch run gives up after this many reconnects in a row without progress
PROBE_EVERY_SECONDS = 10.0
TEND_EVERY_SECONDS = 0.01  # liveness, failures of other parts, back-pressure: checked between transactions this often


def bytes_behind(logs: list[tuple[str, int]], position: BinlogPosition) -> int | None:
    """Binlog bytes from ``position`` to the end of the newest file; None when its file is gone."""
    names = [name for name, _ in logs]
    if position.file not in names:
        return None
    index = names.index(position.file)
    return max(0, logs[index][1] - position.pos) + sum(size for _, size in logs[index + 1 :])


@dataclass(kw_only=True)
class Pipeline:
    """Owns a run's parts: capture (here), loads, syncs and the lease's renewal (``Parts``)."""

    settings: Settings
    prepared: Prepared
    warehouse: Warehouse
    source_db: str
    target_schema: str
    until_caught_up: bool
    stop: StopFlag
    server_id: int
    lease: Lease | None = None
    fence: Fence | None = None
    helpers: list[Warehouse] = field(default_factory=list)  # more connections, for parallel table loads
    loader: Loader = field(init=False)
    scheduler: QueryScheduler = field(init=False)
    _last_probe: float = field(init=False, default=0.0)
    # What capture's thread publishes and the loads read: caught up, durable time (pipeline/shared.py).
    progress: CaptureProgress = field(init=False)
    registry: TableRegistry = field(init=False)  # the tables loaded: capture adds one created while streaming
    synced: int = field(init=False, default=0)  # rows read by the final query sync of a batch run

    def __post_init__(self) -> None:
        self.progress = CaptureProgress(caught_up=self.prepared.start is None)  # no binlog to replay
        self.registry = TableRegistry(self.prepared.tables)
        self.loader = Loader(
            self.prepared.store,
            self.warehouse,
            self.source_db,
            self.target_schema,
            self.registry,
            self.fence,
            self.helpers,
            self.progress,
        )
        self.scheduler = QueryScheduler(
            self.settings, self.prepared.store, self.source_db, self.target_schema, self.prepared.query_tables
        )

    @property
    def labels(self) -> tuple[str, str]:
        return self.source_db, self.target_schema

    def run(self) -> RunResult:
        for config, table in self.prepared.tables if self.progress.caught_up else ():
            self.warehouse.prepare(
                self.target_schema, table, scd2_spec(config, table), evolve=False, soft_delete=config.soft_delete
            )
        self.warehouse.idle()  # until the first load
        parts = Parts(
            self.settings,
            self.labels,
            self.loader,
            self.scheduler,
            self.lease,
            not self.until_caught_up,
            self.progress,
        )
        with parts:
            if self.prepared.start is None:
                return self._queries_only(parts)
            return self._capture(self.prepared.start, parts)

    # ------------------------------------------------------------------ capture

    def _capture(self, start: BinlogPosition, parts: Parts) -> RunResult:
        policy = FlushPolicy(
            max_rows=self.settings.batch_max_rows,
            max_bytes=self.settings.batch_max_bytes,
            max_age_seconds=self.settings.batch_max_age_seconds,
        )
        capture = Capture(
            store=self.prepared.store,
            source_db=self.source_db,
            target_schema=self.target_schema,
            tables=[t for _, t in self.prepared.binlog_tables],
            policy=policy,
            start=start,
            resumed=self.prepared.resumed,
            skip_below=self.prepared.skip_below,
            one_change_per_transaction={t.name for c, t in self.prepared.binlog_tables if c.mode == "scd2"},
            describe=self._describe,
            adopt=self._adopt,
            fixed_keys={t.name for c, t in self.prepared.binlog_tables if c.key_columns},
            progress=self.progress,
            on_written=parts.wrote,
        )
        target = self.prepared.target_position or start

        def should_stop(position: BinlogPosition) -> bool:
            return self.stop.stopping or (self.until_caught_up and position.at_or_after(target))

        last_tended = 0.0

        def on_boundary() -> None:
            nonlocal last_tended
            if not self.progress.caught_up and capture.position.at_or_after(target):
                self.progress.caught_up = True  # tables with nothing to load may now be created
                capture.definitions.settle_alters()  # ALTERs with no rows after them yet, judged as when live
            now = time.monotonic()
            if now - last_tended < TEND_EVERY_SECONDS:
                return  # thousands of transactions a second: the rest needs doing a hundred times
            last_tended = now
            metrics.heartbeat()
            metrics.part(*self.labels, "capture", PartState.RUNNING)
            parts.raise_failure()  # a lost lease, a fenced or failed load: the run ends here
            self._probe_source(capture)
            parts.hold_back(self.stop)

        metrics.part(*self.labels, "capture", PartState.RUNNING)
        # The reader reconnects after an outage of the source (retry.py); a daemon never gives up.
        tries = MAX_RECONNECTS_CAUGHT_UP + 1 if self.until_caught_up else None
        reconnects = Retry(Policy(tries=tries), lambda: self.stop.stopping)
        failed_at = capture.position
        while not (self.until_caught_up and capture.position.at_or_after(target)) and not self.stop.stopping:
            try:
                if capture.read(self._open_reader, should_stop, on_boundary):
                    continue  # a new table joined: read on from right after its CREATE
                break
            except BinlogGone as exc:
                raise purged_error(self.source_db, self.target_schema, self.prepared.binlog_tables, str(exc)) from None
            except SourceUnavailable as exc:
                if capture.position != failed_at:  # back off harder only while no progress is made
                    reconnects.succeeded()
                failed_at = capture.position
                if not reconnects.failed(exc):
                    raise
                metrics.ERRORS.labels(*self.labels, "", "capture").inc()
                log.warning("binlog reader reconnecting", error=str(exc), attempt=reconnects.failures)
                reconnects.wait()
        if capture.position.at_or_after(target) and not self.progress.caught_up:
            self.progress.caught_up = True
            capture.definitions.settle_alters()
        capture.flush_all()  # every change read is in an object now
        loaded = self._finish(parts)
        log.info(
            "caught up" if self.until_caught_up else "stopped",
            changes=capture.changes_total,
            batches=capture.writer.batches_written,
            rows_loaded=loaded.rows,
            position=str(capture.position),
        )
        return RunResult(
            capture.changes_total,
            capture.writer.batches_written,
            loaded,
            capture.position,
            list(self.prepared.warnings),
            dict(capture.per_table),
            [t.name for _, t in self.registry],
        )

    def _open_reader(
        self, tables: Mapping[str, SourceTable], start: BinlogPosition, quarantined: Container[str], resolve: Resolver
    ) -> BinlogReader:
        return BinlogReader(
            self.settings.mysql(),
            self.server_id,
            self.source_db,
            tables,
            start,
            self.settings.heartbeat_seconds,
            self.prepared.gtid,
            quarantined,
            resolve=resolve,
        )

    def _describe(self, name: str) -> SourceTable | None:
        """A table's definition at the source now (capture follows an ALTER with it)."""
        conn = mysql_meta.connect(self.settings.mysql())
        try:
            tables_file = load_tables_file(self.settings.tables_file)
            everything = {e.table_pattern for e in tables_file.for_source(self.source_db)}
            found = mysql_meta.resolve_tables(conn, self.source_db, tables_file, missing_ok=everything)
        finally:
            conn.close()
        return next((t for _, t in found if t.name == name), None)

    def _adopt(self, name: str) -> Adopted | None:
        """A table created while streaming: captured if the tables file includes it and it can be
        loaded; the loader creates its target table at its next pass."""
        config = load_tables_file(self.settings.tables_file).resolve(self.source_db, name)
        if config is None or config.cdc_strategy != "binlog":
            return None
        table = self._describe(name)
        if table is None:
            return None
        if config.mode != "append" and not table.key_columns:
            log.error("new table not captured: it has no primary key (set key_columns or mode: append)", table=name)
            return None
        try:
            arrow_schema(table)
            check_target_names(self.settings, self.target_schema, [*self.registry, (config, table)])
        except S3rbError as exc:
            log.error(f"new table not captured: {exc}", table=name)
            return None
        self.registry.add(config, table)
        return Adopted(table, one_change_per_transaction=config.mode == "scd2")

    def _probe_source(self, capture: Capture) -> None:
        """Every few seconds: how far behind capture is, in bytes, and whether its checkpoint's
        binlog is still there."""
        if time.monotonic() - self._last_probe < PROBE_EVERY_SECONDS:
            return
        self._last_probe = time.monotonic()
        try:
            conn = mysql_meta.connect(self.settings.mysql())
            try:
                logs = mysql_meta.binary_log_sizes(conn)
            finally:
                conn.close()
        except S3rbError as exc:
            log.warning("source probe failed", error=str(exc))
            return
        behind = bytes_behind(logs, capture.position)
        if behind is not None:
            metrics.BYTES_BEHIND.labels(*self.labels).set(behind)
        saved = capture.writer.saved_position
        if self.prepared.gtid is None and saved is not None and saved.file not in {name for name, _ in logs}:
            # Retention is shorter than batches stay open: a restart now could not resume. Reading
            # is already past it, so writing every open batch moves the checkpoint out of danger.
            log.error(
                "the binlog holding the checkpoint was purged while running: flushing every batch now;"
                " raise binlog retention above S3RB_BATCH_MAX_AGE_SECONDS by a wide margin",
                checkpoint=str(saved),
            )
            capture.flush_all()

    # ------------------------------------------------------------------ the end, and query tables only

    def _finish(self, parts: Parts) -> LoadStats:
        """Background loads stop, then one last sync (batch mode) and load of all that was written,
        under the lease, which is still renewed meanwhile."""
        parts.stop_loads()
        parts.raise_failure()
        loaded = LoadStats()
        add_stats(loaded, parts.load.stats)
        if self.until_caught_up:
            self.synced += self.scheduler.run_due(force=True)
        mark = parts.backlog.mark()
        last = self.loader.load_all()
        parts.backlog.settle(mark, last.pending)
        add_stats(loaded, last)
        if self.until_caught_up:  # a run from a timer cleans up as the daemon does
            parts.cleanup.run(t.name for _, t in self.registry.entries())
            self.loader.idle()
        return loaded

    def _queries_only(self, parts: Parts) -> RunResult:
        """No table on the binlog: sync on schedule (once, with ``until_caught_up``) and load."""
        if self.until_caught_up:
            loaded = self._finish(parts)
            tables = [t.name for _, t in self.registry]
            return RunResult(self.synced, 0, loaded, None, list(self.prepared.warnings), tables=tables)
        parts.load.poke()  # what earlier runs left pending
        while not self.stop.stopping:
            metrics.heartbeat()
            metrics.part(*self.labels, "capture", PartState.RUNNING)
            parts.raise_failure()
            time.sleep(min(1.0, self.settings.heartbeat_seconds))
        return RunResult(0, 0, self._finish(parts), None, list(self.prepared.warnings))
