"""The one-time index of a pipeline's batches written before pending notes existed: each batch
the ledger does not record as applied gets its note, then the pipeline's layout record says that
every batch has one. Until then a load lists the whole history, as it did; after, only the notes.
Run again after a crash, it writes the same notes (docs/ARCHITECTURE.md, "Finding new batches")."""

from __future__ import annotations

from collections import defaultdict

from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.object_keys import batch_of_pending, parse_batch_key, pipeline_prefix
from s3rb_stream.log import get_logger
from s3rb_stream.state.layout import notes_since, save_notes_since
from s3rb_stream.store.base import ObjectStore, StoredObject
from s3rb_stream.store.batches import note_pending
from s3rb_stream.targets import Warehouse

log = get_logger(__name__)


def ensure_indexed(store: ObjectStore, warehouse: Warehouse, source_db: str, target_schema: str) -> int:
    """Index the pipeline's history once; the number of notes written (0 when already indexed)."""
    if notes_since(store, source_db, target_schema) is not None:
        return 0
    started = now_utc()
    by_table: dict[str, list[StoredObject]] = defaultdict(list)
    noted: set[str] = set()  # batches with a note already (written by this version before a crash)
    for entry in store.entries(pipeline_prefix(store.prefix, source_db, target_schema) + "/"):
        ref = parse_batch_key(entry.key)
        if ref is not None:
            by_table[ref.table].append(entry)
        elif (batch := batch_of_pending(entry.key)) is not None:
            noted.add(batch)
    in_ledger = warehouse.load_summary(target_schema)
    written = 0
    for table, entries in sorted(by_table.items()):
        applied = warehouse.applied(target_schema, table) if table in in_ledger else set()
        for entry in entries:
            if entry.key not in applied and entry.key not in noted:
                note_pending(store, entry.key, entry.size)
                written += 1
    save_notes_since(store, source_db, target_schema, started)
    if by_table:
        log.info(
            "indexed the batches written before pending notes: loads now list only what waits",
            source_db=source_db,
            target_schema=target_schema,
            objects=sum(len(e) for e in by_table.values()),
            notes_written=written,
        )
    return written
