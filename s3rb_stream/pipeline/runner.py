"""``run``: preflight, the lease, then one :class:`~s3rb_stream.pipeline.pipeline.Pipeline` run for
one source schema, until caught up or stopped."""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any, Literal

from s3rb_stream import metrics, process
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.gtid import Flavor
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import retention_warning
from s3rb_stream.core.quarantine import Quarantine, resnapshot_command
from s3rb_stream.core.query_state import QUERY_SEQ_FLOOR
from s3rb_stream.core.schema import SourceTable, arrow_schema, table_from_json
from s3rb_stream.errors import ConfigError, S3rbError, listed
from s3rb_stream.log import get_logger, per_pipeline
from s3rb_stream.metrics import PartState
from s3rb_stream.pipeline.extract import require_extractable
from s3rb_stream.pipeline.load import LoadStats, check_target_names, scd2_spec
from s3rb_stream.pipeline.pipeline import Pipeline
from s3rb_stream.pipeline.resume import choose_start, gtid_flavor, lost_range, purged_error, snapshot_positions
from s3rb_stream.pipeline.types import Prepared, RunResult, StopFlag
from s3rb_stream.retry import transient
from s3rb_stream.settings import Settings, TableConfig, load_tables_file
from s3rb_stream.sources import mysql_meta
from s3rb_stream.state.checkpoint import load_checkpoint
from s3rb_stream.state.lease import Lease
from s3rb_stream.state.quarantines import active_quarantines, save_quarantine
from s3rb_stream.store import open_store
from s3rb_stream.targets import Fence, Warehouse, open_warehouse

log = get_logger(__name__)

__all__ = ["StartPosition", "prepare", "refuse_unloadable", "run"]

StartPosition = Literal["earliest", "current"]


def oldest_position(conn: Any, gtid: Flavor | None) -> BinlogPosition:
    """The start of the oldest binlog on the server, with the GTID state there when positioning by GTID."""
    start = BinlogPosition(mysql_meta.binary_logs(conn)[0], 4)
    if gtid == "mariadb":
        return mysql_meta.gtid_position(conn, start, gtid)
    if gtid == "mysql":
        return mysql_meta.with_gtid(start, mysql_meta.purged_gtids(conn, gtid))
    return start


def unstarted_warning(tables: list[str], start_position: StartPosition, source_db: str, target_schema: str) -> str:
    """What a table that has neither a checkpoint nor a snapshot gets: said once, with the fix."""
    names = ", ".join(tables)
    snapshot = f"s3rb-stream snapshot --source-db {source_db} --target-schema {target_schema} " + " ".join(
        f"-t {t}" for t in tables
    )
    if start_position == "current":
        return (
            f"table(s) {names} have no checkpoint and no snapshot: captured from the current binlog position;"
            f" rows they hold already are not delivered until they are snapshotted: {snapshot}"
        )
    return (
        f"table(s) {names} have no checkpoint and no snapshot: captured from the oldest binlog on the server;"
        f" rows written before it are not delivered unless the table is snapshotted: {snapshot}"
    )


GONE = "the table no longer exists at the source (dropped or renamed)"


def default_server_id(source_db: str, target_schema: str) -> int:
    """A stable replica id per pipeline, away from the small ids people give real servers."""
    return 1_000_000 + zlib.crc32(f"{source_db}/{target_schema}".encode()) % 1_000_000_000


def refuse_unloadable(config: TableConfig, table: SourceTable) -> None:
    """What a run refuses a table for before any write (``prepare``, and ``check`` table by table):
    SCD2 names that collide, column types it cannot carry, a full_sync it cannot page."""
    scd2_spec(config, table)
    arrow_schema(table)
    if config.cdc_strategy == "full_sync":
        require_extractable(config, table, "full_sync")


def prepare(settings: Settings, source_db: str, target_schema: str, start_position: StartPosition) -> Prepared:
    """Preflight everything before a run: config, source, binlog settings, store. It writes no
    record (``check`` runs it, and a standby before it holds the lease; only the store's write
    probe): what it finds to record, the captured tables gone from the source, is in
    ``Prepared.gone``, which ``run`` records once it holds the lease."""
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
        quarantined = active_quarantines(store, source_db, target_schema)
        tables = mysql_meta.resolve_tables(conn, source_db, tables_file, missing_ok=captured | set(quarantined))
        gone: list[Quarantine] = []
        if checkpoint is not None:  # dropped while it was captured: stop it, keep the rest going
            missing = (set(named) & captured) - {t.name for _, t in tables} - set(quarantined)
            gone = [Quarantine(name, GONE, checkpoint.position) for name in sorted(missing)]
            quarantined |= {q.table: q for q in gone}
        if checkpoint is not None and checkpoint.definitions:
            # Replay from the checkpoint with the definitions in effect there; ALTERs ahead are followed.
            tables = [
                (
                    c,
                    table_from_json(checkpoint.definitions[t.name], f"the checkpoint's definition of {t.name}")
                    if t.name in checkpoint.definitions
                    else t,
                )
                for c, t in tables
            ]
        check_target_names(settings, target_schema, tables)  # names the target cannot hold fail here
        for config, table in tables:
            refuse_unloadable(config, table)
        binlog_names = [t.name for c, t in tables if c.cdc_strategy == "binlog"]
        if not binlog_names:
            store.check()
            return Prepared(tables=tables, start=None, target_position=None, store=store, resumed=True, gone=gone)
        variables = mysql_meta.check_binlog(conn, mysql)
        retention, notes = mysql_meta.check_retention(conn, mysql, variables, settings.min_binlog_retention_hours)
        server_id = settings.server_id or default_server_id(source_db, target_schema)
        notes += [w for w in [mysql_meta.check_server_id(conn, variables, server_id)] if w]
        for note in notes:
            warnings.append(note)
            log.warning(note)
        gtid = gtid_flavor(settings, variables, checkpoint, warnings)
        target_position = mysql_meta.current_position(conn, gtid)
        for _, table in tables:
            metrics.QUARANTINED.labels(source_db, target_schema, table.name).set(1 if table.name in quarantined else 0)
        for name, quarantine in sorted(quarantined.items()):
            warnings.append(
                f"table {name} is quarantined: {quarantine.describe()}; the other tables go on. Re-snapshot it:"
                f" {resnapshot_command(source_db, target_schema, name)}"
            )
            log.error("quarantined table not captured", table=name, reason=quarantine.describe())
        binlog_names = [n for n in binlog_names if n not in quarantined]
        if not binlog_names:  # every binlog table is quarantined: only loads and query tables go on
            store.check()
            return Prepared(
                tables=tables,
                start=None,
                target_position=None,
                store=store,
                resumed=True,
                warnings=warnings,
                quarantined=quarantined,
                gone=gone,
            )
        if checkpoint is not None:
            warning = retention_warning(retention, (now_utc() - checkpoint.saved_at).total_seconds())
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

        def fallback() -> BinlogPosition:
            """Where a table with neither checkpoint nor snapshot starts: ``--start-position``."""
            if start_position == "current":
                return target_position
            return oldest_position(conn, gtid)

        start, skip, unstarted = choose_start(checkpoint, snapshots, binlog_names, fallback)
        lost = lost_range(conn, start, target_position, gtid)
        if lost:
            lost_tables = [(c, t) for c, t in tables if t.name in binlog_names]
            raise purged_error(source_db, target_schema, lost_tables, lost, retention)
        if unstarted:
            warning = unstarted_warning(unstarted, start_position, source_db, target_schema)
            warnings.append(warning)
            log.warning(warning)
        log.info("capture starts", position=str(start), resumed=checkpoint is not None)
    finally:
        conn.close()
    store.check()
    return Prepared(
        tables=tables,
        start=start,
        target_position=target_position,
        store=store,
        resumed=checkpoint is not None,
        skip_below=skip,
        warnings=warnings,
        quarantined=quarantined,
        gone=gone,
        gtid=gtid,
    )


@per_pipeline
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
    process.configure(settings)
    start_metrics(settings)  # from the start: a preflight that waits for an outage is seen, not gone
    try:
        prepared = prepare(settings, source_db, target_schema, start_position)  # preflight: nothing written yet
    except S3rbError as exc:
        if transient(exc):  # the daemon tries again: alive, and not ready (it holds no lease)
            metrics.part(source_db, target_schema, "preflight", PartState.WAITING, f"retrying after: {exc}")
        raise
    metrics.forget_part(source_db, target_schema, "preflight")
    lease = Lease(prepared.store, source_db, target_schema, settings.lease_seconds)
    waited = time.monotonic()
    metrics.part(source_db, target_schema, "lease", PartState.WAITING)  # a standby is alive, not ready
    try:
        if not lease.acquire(standby, lambda: stop.stopping):
            return RunResult(0, 0, LoadStats(), None)  # stopped while standing by
        try:
            if time.monotonic() - waited > 1.0:  # stood by while another instance wrote: read its progress
                prepared = prepare(settings, source_db, target_schema, start_position)
            for quarantine in prepared.gone:  # found by preflight, recorded under the lease
                save_quarantine(prepared.store, source_db, target_schema, quarantine)
            warehouse = open_warehouse(settings)
            helpers: list[Warehouse] = []
            try:
                helpers.extend(open_warehouse(settings) for _ in range(settings.load_concurrency - 1))
                fence = Fence(source_db, lease.generation)
                # from now on, an older lease holder cannot commit
                warehouse.claim(target_schema, fence, [t.name for _, t in prepared.tables])
                refuse_switched_to_binlog(warehouse, target_schema, prepared.binlog_tables)
                pipeline = Pipeline(
                    settings=settings,
                    prepared=prepared,
                    warehouse=warehouse,
                    source_db=source_db,
                    target_schema=target_schema,
                    until_caught_up=until_caught_up,
                    stop=stop,
                    server_id=settings.server_id or default_server_id(source_db, target_schema),
                    lease=lease,
                    fence=fence,
                    helpers=helpers,
                )
                return pipeline.run()
            finally:
                for opened in (warehouse, *helpers):
                    opened.close()
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
            f"table(s) {listed(switched)} in {target_schema} were loaded by hybrid or full_sync, whose sequences lie"
            " above every binlog position: binlog changes to them would never apply",
            "drop those target tables (and their _s3rb_batches rows), then snapshot them",
        )


_metrics_server: object | None = None


_metrics_lock = threading.Lock()


def start_metrics(settings: Settings) -> None:
    """Serve /metrics and /healthz on S3RB_METRICS_PORT, once per process (pipelines share it)."""
    global _metrics_server
    with _metrics_lock:
        if settings.metrics_port and _metrics_server is None:
            stale_after = max(60.0, 10 * settings.heartbeat_seconds)
            _metrics_server = metrics.serve(settings.metrics_port, stale_after, settings.metrics_address)
            log.info("metrics served", port=settings.metrics_port, paths=["/metrics", "/healthz"])
