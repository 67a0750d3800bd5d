"""``sync``: each hybrid or full_sync table's strategy once, then a load (the daemon runs the
same syncs on their intervals: ``pipeline/sync.py``). It takes the pipeline's lease, as ``run``
does: beside a running daemon it refuses, naming the holder, rather than race it on the same
tables' state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from s3rb_stream import metrics, process
from s3rb_stream.log import per_pipeline
from s3rb_stream.pipeline.load import LoadStats, check_target_names, load_fenced
from s3rb_stream.pipeline.source_reads import resolve_for_query
from s3rb_stream.pipeline.sync import prepare_query_tables, sync_tables
from s3rb_stream.pipeline.workers import lease_renewal
from s3rb_stream.settings import Settings
from s3rb_stream.state.lease import Lease, LeaseHeld
from s3rb_stream.store import open_store
from s3rb_stream.targets import Warehouse


@dataclass
class SyncResult:
    rows: dict[str, int] = field(default_factory=dict)  # read, by table
    loaded: LoadStats = field(default_factory=LoadStats)
    written: dict[str, int] = field(default_factory=dict)  # by table: a hybrid window read again unchanged is not


@per_pipeline
def sync(
    settings: Settings,
    source_db: str,
    target_schema: str,
    table_names: Sequence[str] = (),
    load: bool = True,
    warehouse: Warehouse | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> SyncResult:
    """Each selected query table's strategy once, then a load. ``stopping``: checked after each
    page; when true, :class:`Stopped` with the progress saved (a signal in the CLI)."""
    process.configure(settings)
    resolved = resolve_for_query(settings, source_db, need_binlog=False)
    check_target_names(settings, target_schema, resolved)
    selected = prepare_query_tables(resolved, table_names)
    store = open_store(settings)
    store.check()
    lease = Lease(store, source_db, target_schema, settings.lease_seconds)
    try:
        lease.acquire(standby=False)
    except LeaseHeld as exc:  # the daemon syncs these tables itself: two at once would race on their state
        raise LeaseHeld(
            f"sync: {exc.message}",
            "a running daemon syncs hybrid and full_sync tables itself, each on its sync_interval;"
            " stop it to sync by hand, or let it sync",
        ) from None
    renewal = lease_renewal(lease, (source_db, target_schema)).start()
    try:
        done = sync_tables(settings, store, source_db, target_schema, selected, stopping)
        result = SyncResult({t: d.read for t, d in done.items()}, written={t: d.written for t, d in done.items()})
        if renewal.error is not None:
            raise renewal.error
        if load:
            result.loaded = load_fenced(settings, store, source_db, target_schema, selected, lease, warehouse)
    finally:
        renewal.stop()
        metrics.forget_part(source_db, target_schema, "lease")
        lease.release()
    if renewal.error is not None:
        raise renewal.error
    return result
