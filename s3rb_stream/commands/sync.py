"""``sync``: each hybrid or full_sync table's strategy once, then a load (the daemon runs the
same syncs on their intervals: ``pipeline/sync.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from s3rb_stream import process
from s3rb_stream.commands.snapshot import resolve_for_query
from s3rb_stream.log import per_pipeline
from s3rb_stream.pipeline.load import Loader, LoadStats, check_target_names
from s3rb_stream.pipeline.sync import prepare_query_tables, sync_tables
from s3rb_stream.settings import Settings
from s3rb_stream.store import open_store
from s3rb_stream.targets import Warehouse, open_warehouse


@dataclass
class SyncResult:
    rows: dict[str, int] = field(default_factory=dict)
    loaded: LoadStats = field(default_factory=LoadStats)


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
    result = SyncResult(sync_tables(settings, store, source_db, target_schema, selected, stopping))
    if load:
        own = warehouse is None
        wh = warehouse or open_warehouse(settings)
        try:
            result.loaded = Loader(store, wh, source_db, target_schema, selected).load_all()
        finally:
            if own:
                wh.close()
    return result
