"""A table's repair hold (``verify --repair``): while it is there, loads of the table wait, so
that the repair's rows, read at a position taken after the hold was written, apply before any
change after that position (docs/ARCHITECTURE.md, "Verify")."""

from __future__ import annotations

import json
from datetime import datetime

from s3rb_stream.core.object_keys import repair_hold_key
from s3rb_stream.errors import CorruptStateError
from s3rb_stream.store.base import ObjectStore


def hold_repair(store: ObjectStore, source_db: str, target_schema: str, table: str, since: datetime) -> None:
    record = {"version": 1, "table": table, "since": since.isoformat()}
    store.put(repair_hold_key(store.prefix, source_db, target_schema, table), json.dumps(record).encode())


def repair_held_since(store: ObjectStore, source_db: str, target_schema: str, table: str) -> datetime | None:
    key = repair_hold_key(store.prefix, source_db, target_schema, table)
    data = store.get(key)
    if data is None:
        return None
    try:
        return datetime.fromisoformat(json.loads(data)["since"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptStateError(
            f"the repair hold {key} is not readable: {exc}", f"delete {key} if no repair runs"
        ) from None


def release_repair(store: ObjectStore, source_db: str, target_schema: str, table: str) -> None:
    store.delete(repair_hold_key(store.prefix, source_db, target_schema, table))
