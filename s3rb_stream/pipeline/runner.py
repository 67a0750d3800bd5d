"""``run``: preflight, then capture and load for one source schema until caught up or stopped."""

from __future__ import annotations

import signal
import time
import zlib
from dataclasses import dataclass
from types import FrameType
from typing import Literal

from s3rb_stream.core.batching import FlushPolicy
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceTable, arrow_schema
from s3rb_stream.errors import ConfigError, SourceError, SourceUnavailable
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.capture import Capture, load_checkpoint
from s3rb_stream.pipeline.load import Loader, LoadStats
from s3rb_stream.settings import Settings, TableConfig, load_tables_file
from s3rb_stream.sources import mysql_meta
from s3rb_stream.sources.binlog import BinlogReader
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import Warehouse, open_warehouse

log = get_logger(__name__)

StartPosition = Literal["earliest", "current"]
MAX_RECONNECTS_CAUGHT_UP = 5


@dataclass
class RunResult:
    changes: int
    batches_written: int
    loaded: LoadStats
    position: BinlogPosition


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
    tables: list[tuple[TableConfig, SourceTable]]
    start: BinlogPosition
    target_position: BinlogPosition
    store: ObjectStore
    resumed: bool


def prepare(settings: Settings, source_db: str, target_schema: str, start_position: StartPosition) -> Prepared:
    """Preflight everything before anything is written: config, source, binlog settings, store."""
    tables_file = load_tables_file(settings.tables_file)
    mysql = settings.mysql()
    conn = mysql_meta.connect(mysql)
    try:
        mysql_meta.check_binlog(conn, mysql)
        tables = mysql_meta.resolve_tables(conn, source_db, tables_file)
        unsupported = [
            f"{cfg.name} ({what})"
            for cfg, _ in tables
            for what in ([f"cdc_strategy {cfg.cdc_strategy}"] if cfg.cdc_strategy != "binlog" else [])
            + ([f"mode {cfg.mode}"] if cfg.mode == "scd2" else [])
        ]
        if unsupported:
            raise ConfigError(
                "not supported by this version yet: " + ", ".join(unsupported),
                "use cdc_strategy: binlog with mode: merge or append",
            )
        for _, table in tables:
            arrow_schema(table)  # unsupported column types fail here, before any write
        target_position = mysql_meta.current_position(conn)
        store = open_store(settings)
        checkpoint = load_checkpoint(store, source_db, target_schema)
        if checkpoint is not None:
            start = checkpoint.position
            logs = mysql_meta.binary_logs(conn)
            if start.file not in logs:
                raise SourceError(
                    f"binlog {start.file} needed by the checkpoint of {source_db} → {target_schema}"
                    " is no longer on the server",
                    "changes were lost to binlog purging; re-snapshot the tables",
                )
            log.info("resuming", position=str(start), source_db=source_db, target_schema=target_schema)
        elif start_position == "current":
            start = target_position
            log.warning("no checkpoint: starting at the current binlog position", position=str(start))
        else:
            start = BinlogPosition(mysql_meta.binary_logs(conn)[0], 4)
            log.warning(
                "no checkpoint: starting at the oldest binlog on the server; rows written before it are not captured",
                position=str(start),
            )
    finally:
        conn.close()
    store.check()
    return Prepared(tables, start, target_position, store, checkpoint is not None)


def run(
    settings: Settings,
    source_db: str,
    target_schema: str,
    until_caught_up: bool = False,
    start_position: StartPosition = "earliest",
    stop: StopFlag | None = None,
) -> RunResult:
    prepared = prepare(settings, source_db, target_schema, start_position)
    warehouse = open_warehouse(settings)
    try:
        return _run(settings, prepared, warehouse, source_db, target_schema, until_caught_up, stop or StopFlag())
    finally:
        warehouse.close()


def _run(
    settings: Settings,
    prepared: Prepared,
    warehouse: Warehouse,
    source_db: str,
    target_schema: str,
    until_caught_up: bool,
    stop: StopFlag,
) -> RunResult:
    policy = FlushPolicy(
        max_rows=settings.batch_max_rows,
        max_bytes=settings.batch_max_bytes,
        max_age_seconds=settings.batch_max_age_seconds,
    )
    capture = Capture(
        prepared.store,
        source_db,
        target_schema,
        [t for _, t in prepared.tables],
        policy,
        prepared.start,
        prepared.resumed,
    )
    loader = Loader(prepared.store, warehouse, source_db, target_schema, prepared.tables)
    loaded = LoadStats()
    for _, table in prepared.tables:
        warehouse.prepare(target_schema, table)
    server_id = settings.server_id or default_server_id(source_db, target_schema)
    target = prepared.target_position
    last_load = time.monotonic()

    def should_stop(position: BinlogPosition) -> bool:
        if stop.stopping:
            return True
        return until_caught_up and position.at_or_after(target)

    def on_boundary() -> None:
        nonlocal last_load
        if not until_caught_up and time.monotonic() - last_load >= settings.load_interval_seconds:
            _add(loaded, loader.load_all())
            last_load = time.monotonic()

    failures = 0
    failed_at = capture.buffers.last_commit
    while not (until_caught_up and capture.buffers.last_commit.at_or_after(target)) and not stop.stopping:
        reader = BinlogReader(
            settings.mysql(),
            server_id,
            source_db,
            [t.name for _, t in prepared.tables],
            capture.buffers.last_commit,
            settings.heartbeat_seconds,
        )
        try:
            capture.consume(reader, should_stop, on_boundary)
            break
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
    _add(loaded, loader.load_all())
    log.info(
        "caught up" if until_caught_up else "stopped",
        changes=capture.changes_total,
        batches=capture.batches_written,
        rows_loaded=loaded.rows,
        position=str(capture.buffers.last_commit),
    )
    return RunResult(capture.changes_total, capture.batches_written, loaded, capture.buffers.last_commit)


def _add(total: LoadStats, more: LoadStats) -> None:
    total.batches += more.batches
    total.rows += more.rows
    for k, v in more.per_table.items():
        total.per_table[k] = total.per_table.get(k, 0) + v
