"""Cleanup: what a pipeline no longer needs leaves the store and the ledger, so that a daemon's
cost stays flat however long it runs (docs/ARCHITECTURE.md, "Finding new batches").

For each table, the ledger's oldest rows, applied longer ago than the retention, are taken a
thousand at a time: their batch objects (and fitted copies) are removed first, then the rows are
folded into the table's one folded row, in one transaction. A crash between the two leaves rows
whose objects are gone, which the next round removes again (a no-op) and folds. Only applied
batches are ever removed: a batch waiting to be loaded has no ledger row. With retention
``forever`` the objects stay and only the rows are folded, an hour after their load.

Leftovers of a load that crashed before removing them (a COPY manifest, fitted copies) are
removed once older than the retention (an hour when objects are kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from s3rb_stream import faultpoints, metrics
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.object_keys import FITTED_DIR, MANIFESTS_DIR, beside_batches
from s3rb_stream.errors import FencedOut, S3rbError
from s3rb_stream.log import get_logger
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import Fence, Warehouse

log = get_logger(__name__)

ROWS_PER_ROUND = 1000  # ledger rows read, objects removed (one S3 request) and folded at a time
FOLD_AFTER = timedelta(hours=1)  # kept objects: how long a ledger row stays before it is folded


@dataclass
class CleanupStats:
    batches_removed: int = 0
    rows_folded: int = 0
    leftovers_removed: int = 0


class Cleanup:
    def __init__(
        self,
        store: ObjectStore,
        warehouse: Warehouse,
        source_db: str,
        target_schema: str,
        retention: timedelta | None,
        fence: Fence | None = None,
    ) -> None:
        """``retention``: how long applied batch objects are kept (None: for good)."""
        self.store = store
        self.warehouse = warehouse
        self.source_db = source_db
        self.target_schema = target_schema
        self.retention = retention
        self.fence = fence

    def run(self, tables: Iterable[str]) -> CleanupStats:
        """One round over ``tables``. An error is logged and left for the next round (a store that
        refuses deletes must not stop the loads); a fence refusal is raised."""
        stats = CleanupStats()
        for table in tables:
            try:
                self._table(table, stats)
            except FencedOut:
                raise
            except S3rbError as exc:
                metrics.ERRORS.labels(self.source_db, self.target_schema, table, "cleanup").inc()
                log.error("cleanup failed; the loads go on and it is tried again later", table=table, error=str(exc))
        if stats.batches_removed or stats.rows_folded or stats.leftovers_removed:
            log.info(
                "cleaned up",
                target=self.target_schema,
                batches_removed=stats.batches_removed,
                ledger_rows_folded=stats.rows_folded,
                leftovers_removed=stats.leftovers_removed,
            )
        return stats

    def _table(self, table: str, stats: CleanupStats) -> None:
        labels = (self.source_db, self.target_schema, table)
        now = now_utc()
        before = now - (self.retention if self.retention is not None else FOLD_AFTER)
        while True:
            entries = self.warehouse.applied_before(self.target_schema, table, before, ROWS_PER_ROUND)
            if not entries:
                break
            if self.retention is not None:
                keys = [e.key for e in entries]
                self.store.delete_many(keys)
                stats.batches_removed += len(keys)
                metrics.OBJECTS_REMOVED.labels(*labels, "batch").inc(len(keys))
                faultpoints.reached("cleanup.removed")  # objects gone, rows not yet folded
            self.warehouse.fold(self.target_schema, table, entries, self.fence)
            stats.rows_folded += len(entries)
            if len(entries) < ROWS_PER_ROUND:
                break
        old = now - max(self.retention or FOLD_AFTER, FOLD_AFTER)
        for folder, kind in ((MANIFESTS_DIR, "manifest"), (FITTED_DIR, "fitted")):
            prefix = beside_batches(self.store.prefix, self.source_db, self.target_schema, table, folder)
            leftovers = [e.key for e in self.store.entries(prefix) if e.modified < old]
            if leftovers:
                self.store.delete_many(leftovers)
                stats.leftovers_removed += len(leftovers)
                metrics.OBJECTS_REMOVED.labels(*labels, kind).inc(len(leftovers))
