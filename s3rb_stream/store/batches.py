"""Batch objects and their pending notes, written and found together (docs/ARCHITECTURE.md,
"Finding new batches"): every writer of a batch goes through :func:`put_batch`, and the load
finds what waits through :func:`pending`, whose cost is what waits, not the table's history."""

from __future__ import annotations

import pyarrow as pa

from s3rb_stream.core.batch_note import BatchNote, describe
from s3rb_stream.core.object_keys import batch_of_pending, pending_key, pending_prefix
from s3rb_stream.store import parquet
from s3rb_stream.store.base import ObjectStore


def put_batch(store: ObjectStore, key: str, table: pa.Table) -> int:
    """Encode and write a batch, then its note; the bytes written. The object first: a note never
    stands for an object not yet whole. A crash between the two leaves an object without a note,
    which its writer writes again (capture replays from its checkpoint, saved only after both; an
    extract or sync page is read again)."""
    data = parquet.encode(table, store.parquet_codec)
    store.put(key, data)
    store.put(pending_key(key), describe(table, len(data)).to_json())
    return len(data)


def note_pending(store: ObjectStore, key: str, size: int) -> None:
    """A note for an object already whole whose rows are not known here (the one-time index of
    batches written before notes): the load reads the object itself."""
    store.put(pending_key(key), BatchNote(None, size).to_json())


def read_note(store: ObjectStore, batch: str) -> BatchNote | None:
    """The note of a batch, or None when it is gone (applied meanwhile)."""
    key = pending_key(batch)
    data = store.get(key)
    return BatchNote.from_json(data, key) if data is not None else None


def pending(store: ObjectStore, source_db: str, target_schema: str, table: str) -> list[str]:
    """The keys of a table's batches that have a pending note."""
    notes = store.list(pending_prefix(store.prefix, source_db, target_schema, table))
    return [batch for batch in map(batch_of_pending, notes) if batch is not None]


def settle(store: ObjectStore, batches: list[str]) -> None:
    """Remove the notes of batches that are applied (or set aside): one request per 1,000."""
    if batches:
        store.delete_many([pending_key(batch) for batch in batches])
