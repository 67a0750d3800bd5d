"""Since when every batch of a pipeline has a pending note: written once the batches written
before notes existed have been given theirs (pipeline/pending_index.py), so a load pass may find
new batches by their notes alone (docs/ARCHITECTURE.md, "Finding new batches")."""

from __future__ import annotations

import json
from datetime import datetime

from s3rb_stream.core.object_keys import layout_key
from s3rb_stream.errors import CorruptStateError
from s3rb_stream.store.base import ObjectStore


def notes_since(store: ObjectStore, source_db: str, target_schema: str) -> datetime | None:
    key = layout_key(store.prefix, source_db, target_schema)
    data = store.get(key)
    if data is None:
        return None
    try:
        return datetime.fromisoformat(json.loads(data)["pending_notes_since"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptStateError(f"{key} is unreadable: {exc}") from None


def save_notes_since(store: ObjectStore, source_db: str, target_schema: str, at: datetime) -> None:
    record = {"pending_notes_since": at.isoformat()}
    store.put(layout_key(store.prefix, source_db, target_schema), json.dumps(record).encode())
