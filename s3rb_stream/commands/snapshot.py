"""``snapshot``: bootstrap binlog tables, consistent with the binlog position streaming resumes from.

1. How the snapshot will be consistent is settled, and its privilege checked, before anything is
   written (``plan_snapshot``): MariaDB reports a snapshot's exact position; on MySQL the position
   is read under a short lock (``S3RB_SNAPSHOT_LOCKING``, see ``core/snapshot_lock.py``).
2. Each table's extract state is marked ``running``, so loads of it are held back from here on.
3. One consistent-snapshot transaction opens at position P (``QueryReader.begin_snapshot``): every
   transaction in the binlog before P is in it.
4. Every table is read in key order, one part per page, every row stamped ``_s3rb_seq = seq(P)``.
5. The state becomes ``complete``. ``run`` then captures each snapshotted table from P on; loading
   the final part removes target rows the snapshot did not see.

An interrupted snapshot resumes after its last written key, in a new transaction, still stamped P:
rows read later than P reflect changes after P, which the binlog replays on top, and full row
images make that replay converge on the source's state. (What was before P was committed and
visible when P was taken, so a later snapshot sees it too.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from s3rb_stream import process
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.query_state import ExtractState, next_run
from s3rb_stream.core.schema import arrow_schema
from s3rb_stream.core.snapshot_lock import Method, SnapshotLock
from s3rb_stream.errors import ConfigError, SourceError, Stopped
from s3rb_stream.log import get_logger, per_pipeline
from s3rb_stream.pipeline.extract import read_extract, require_extractable, select_tables
from s3rb_stream.pipeline.load import Loader, LoadStats, check_target_names
from s3rb_stream.pipeline.pages import Progress, TableStore
from s3rb_stream.pipeline.source_reads import plan_snapshot, resolve_for_query, with_gtid_state
from s3rb_stream.settings import Settings
from s3rb_stream.sources.query_reader import QueryReader
from s3rb_stream.store import open_store
from s3rb_stream.targets import open_warehouse

log = get_logger(__name__)


@dataclass
class SnapshotResult:
    position: BinlogPosition
    exact: bool
    method: Method = "server"  # how it is consistent with the position (core/snapshot_lock.DESCRIPTIONS)
    rows: dict[str, int] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)
    loaded: LoadStats = field(default_factory=LoadStats)
    skipped: dict[str, str] = field(default_factory=dict)  # tables not snapshotted, and why


APPEND_SKIPPED = "mode append keeps every change, and a snapshot is not a change: captured from the binlog only"


@per_pipeline
def snapshot(
    settings: Settings,
    source_db: str,
    target_schema: str,
    table_names: Sequence[str] = (),
    restart: bool = False,
    load: bool = True,
    stopping: Callable[[], bool] = lambda: False,
) -> SnapshotResult:
    """Snapshot the selected binlog tables, then load. ``stopping``: checked after each page;
    when true, :class:`Stopped` with the progress saved, and the next run resumes there."""
    process.configure(settings)
    resolved = resolve_for_query(settings, source_db, need_binlog=True)
    check_target_names(settings, target_schema, resolved)
    selected = select_tables(resolved, table_names, {"binlog"}, "snapshot")
    skipped: dict[str, str] = {}
    if not table_names:  # every binlog table it can: an append table has nothing a snapshot can give
        skipped = {t.name: APPEND_SKIPPED for c, t in selected if c.mode == "append"}
        selected = [(c, t) for c, t in selected if t.name not in skipped]
        if not selected:
            raise ConfigError(
                f"snapshot: every binlog table of {source_db} is mode append ({', '.join(skipped)}): {APPEND_SKIPPED}",
                "run streams them from the binlog; nothing needs a snapshot",
            )
    for config, table in selected:
        require_extractable(config, table, "snapshot")
        arrow_schema(table)  # unsupported column types fail before anything is written
    plan = plan_snapshot(settings, source_db)
    store = open_store(settings)
    store.check()
    targets = [TableStore(store, source_db, target_schema, table) for _, table in selected]

    resumable: dict[str, ExtractState] = {}
    runs: dict[str, int] = {}  # each new run's identity, above the table's previous one
    for target in targets:
        state = target.extract_state()
        if state and state.kind == "snapshot" and state.status == "running" and state.position and not restart:
            resumable[target.table.name] = state
        else:
            runs[target.table.name] = next_run(state)
            # Hold loads of the table back before the position is taken (see pipeline.load).
            target.save_extract_state(ExtractState("snapshot", "running", 0, 0, now_utc(), position=None))

    reader = QueryReader(settings.mysql())
    try:
        lock = SnapshotLock(
            plan.method, source_db, [t.table.name for t in targets], settings.snapshot_lock_wait_seconds
        )
        opened = reader.begin_snapshot(lock)
        position, exact = with_gtid_state(settings, plan, opened), opened.exact
        if position is None:
            raise SourceError(
                "snapshot needs the binary log: the server reports no binlog position",
                "enable log_bin (with binlog_format=ROW) so that streaming can continue from the snapshot",
            )
        result = SnapshotResult(position, exact, opened.method, skipped=skipped)
        log.info(
            "snapshot opened",
            position=str(position),
            method=opened.method,
            lock_waited_ms=round(opened.lock_waited * 1000, 1),
            lock_held_ms=round(opened.lock_held * 1000, 1),
            tables=[t.table.name for t in targets],
        )
        for target in targets:
            name = target.table.name
            read_at = now_utc()
            state = resumable.get(name)
            if state is not None:
                result.resumed.append(name)
                log.info(
                    "resuming snapshot", table=name, parts=state.parts, rows=state.rows, position=str(state.position)
                )
            else:
                state = ExtractState(
                    "snapshot", "running", position.seq, position.seq, read_at, position, exact, run=runs[name]
                )
                target.save_extract_state(state)
            progress = Progress("snapshot", name, reader.estimated_rows(source_db, name))
            try:
                done = read_extract(reader, target, state, settings.snapshot_chunk_rows, read_at, progress, stopping)
            except Stopped as exc:
                if restart:  # the same command would start over: resuming is the command without it
                    raise Stopped(exc.message, "run the same command without --restart to go on from there") from None
                raise
            result.rows[name] = done.rows
            log.info("snapshot of table complete", table=name, rows=done.rows, parts=done.parts)
        reader.commit()
    finally:
        reader.close()

    if load:
        warehouse = open_warehouse(settings)
        try:
            result.loaded = Loader(store, warehouse, source_db, target_schema, selected).load_all()
        finally:
            warehouse.close()
    return result
