"""Each table's latest whole-table extract (snapshot, full_sync, or the empty one a TRUNCATE is):
while ``running`` its loads are held back; once ``complete`` the load of its final part sweeps."""

from __future__ import annotations

from s3rb_stream.core.object_keys import EXTRACTS, extract_state_key, table_of_state_key, table_state_prefix
from s3rb_stream.core.query_state import ExtractState
from s3rb_stream.store.base import ObjectStore


def load_extract(store: ObjectStore, source_db: str, target_schema: str, table: str) -> ExtractState | None:
    key = extract_state_key(store.prefix, source_db, target_schema, table)
    data = store.get(key)
    return ExtractState.from_json(data, key) if data is not None else None


def save_extract(store: ObjectStore, source_db: str, target_schema: str, table: str, state: ExtractState) -> None:
    store.put(extract_state_key(store.prefix, source_db, target_schema, table), state.to_json())


def all_extracts(store: ObjectStore, source_db: str, target_schema: str) -> dict[str, ExtractState]:
    """Every table's extract state, by table (``status``)."""
    found = {}
    for key in store.list(table_state_prefix(store.prefix, source_db, target_schema, EXTRACTS)):
        table, data = table_of_state_key(key), store.get(key)
        if table is not None and data is not None:
            found[table] = ExtractState.from_json(data, key)
    return found
