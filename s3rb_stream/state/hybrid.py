"""Each hybrid table's watermark: the last (timestamp, id) read, and the last sequence given."""

from __future__ import annotations

from s3rb_stream.core.object_keys import HYBRID, hybrid_state_key, table_of_state_key, table_state_prefix
from s3rb_stream.core.query_state import HybridState
from s3rb_stream.store.base import ObjectStore


def load_hybrid(store: ObjectStore, source_db: str, target_schema: str, table: str) -> HybridState | None:
    key = hybrid_state_key(store.prefix, source_db, target_schema, table)
    data = store.get(key)
    return HybridState.from_json(data, key) if data is not None else None


def save_hybrid(store: ObjectStore, source_db: str, target_schema: str, table: str, state: HybridState) -> None:
    store.put(hybrid_state_key(store.prefix, source_db, target_schema, table), state.to_json())


def all_hybrids(store: ObjectStore, source_db: str, target_schema: str) -> dict[str, HybridState]:
    """Every hybrid table's watermark, by table (``status``)."""
    found = {}
    for key in store.list(table_state_prefix(store.prefix, source_db, target_schema, HYBRID)):
        table, data = table_of_state_key(key), store.get(key)
        if table is not None and data is not None:
            found[table] = HybridState.from_json(data, key)
    return found
