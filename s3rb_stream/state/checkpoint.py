"""The checkpoint record: where capture resumes (invariant 3; the rule itself is capture's)."""

from __future__ import annotations

from s3rb_stream.core.checkpoint import Checkpoint
from s3rb_stream.core.object_keys import checkpoint_key
from s3rb_stream.store.base import ObjectStore


def load_checkpoint(store: ObjectStore, source_db: str, target_schema: str) -> Checkpoint | None:
    key = checkpoint_key(store.prefix, source_db, target_schema)
    data = store.get(key)
    return Checkpoint.from_json(data, key) if data is not None else None


def save_checkpoint(store: ObjectStore, checkpoint: Checkpoint) -> None:
    store.put(checkpoint_key(store.prefix, checkpoint.source_db, checkpoint.target_schema), checkpoint.to_json())
