"""Which pipelines keep state in a store: every (source_db, target_schema) with ``_s3rb_state/``."""

from __future__ import annotations

from s3rb_stream.core.object_keys import pipeline_of_state_key, pipeline_prefix
from s3rb_stream.store.base import ObjectStore


def pipelines(store: ObjectStore, keys: list[str] | None = None) -> list[tuple[str, str]]:
    """In the order of their folders; ``keys``: the store's listing when the caller has it already."""
    listed = keys if keys is not None else store.list(store.prefix + "/" if store.prefix else "")
    found = {p for p in (pipeline_of_state_key(store.prefix, key) for key in listed) if p is not None}
    return sorted(found, key=lambda p: pipeline_prefix(store.prefix, *p))
