"""Quarantines in the store: written by capture, by the load that finds a batch object unreadable,
and by ``run`` for a table gone from the source (once it holds the lease); read by all of them,
``status`` and the batch commands, always through the lift rule (:meth:`Quarantine.lifted_by`)."""

from __future__ import annotations

from s3rb_stream import metrics
from s3rb_stream.core.object_keys import QUARANTINE, quarantine_key, table_state_prefix
from s3rb_stream.core.quarantine import Quarantine, resnapshot_command
from s3rb_stream.log import get_logger
from s3rb_stream.state.extracts import load_extract
from s3rb_stream.store.base import ObjectStore

log = get_logger(__name__)


def save_quarantine(store: ObjectStore, source_db: str, target_schema: str, quarantine: Quarantine) -> None:
    """Stop capturing the table (and loading it, when the quarantine holds loads), durably, said
    in the log and the metrics."""
    table = quarantine.table
    store.put(quarantine_key(store.prefix, source_db, target_schema, table), quarantine.to_json())
    metrics.QUARANTINED.labels(source_db, target_schema, table).set(1)
    metrics.ERRORS.labels(source_db, target_schema, table, "quarantine").inc()
    log.error(
        "table quarantined: capture of it stopped"
        + (" and its loads held" if quarantine.holds_loads else "")
        + ", the other tables go on",
        table=table,
        reason=quarantine.reason,
        position=quarantine.where,
        fix=resnapshot_command(source_db, target_schema, table),
    )


def active_quarantines(store: ObjectStore, source_db: str, target_schema: str) -> dict[str, Quarantine]:
    """The quarantines in force, by table: a snapshot completed after one lifts it."""
    found: dict[str, Quarantine] = {}
    for key in store.list(table_state_prefix(store.prefix, source_db, target_schema, QUARANTINE)):
        data = store.get(key)
        if data is None:
            continue
        quarantine = Quarantine.from_json(data, key)
        if not quarantine.lifted_by(load_extract(store, source_db, target_schema, quarantine.table)):
            found[quarantine.table] = quarantine
    return found
