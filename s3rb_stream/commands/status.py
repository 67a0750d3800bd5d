"""``status``: per pipeline and table, the checkpoint, lag, batches pending and the last load.

Reads the store and the warehouse only; the source is asked for its position when reachable.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.object_keys import parse_batch_key, pipeline_prefix
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.errors import S3rbError
from s3rb_stream.settings import Settings
from s3rb_stream.sources import mysql_meta
from s3rb_stream.state.checkpoint import load_checkpoint
from s3rb_stream.state.extracts import all_extracts
from s3rb_stream.state.hybrid import all_hybrids
from s3rb_stream.state.pipelines import pipelines as stored_pipelines
from s3rb_stream.state.quarantines import active_quarantines
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import AppliedSummary, open_warehouse


@dataclass
class TableStatus:
    table: str
    batches_written: int
    batches_pending: int
    last_load: datetime | None
    note: str = ""  # snapshot or full_sync progress, hybrid watermark


@dataclass
class PipelineStatus:
    source_db: str
    target_schema: str
    checkpoint: Checkpoint | None  # None when nothing is captured from the binlog
    lag_seconds: float | None
    tables: list[TableStatus] = field(default_factory=list)


@dataclass
class Status:
    pipelines: list[PipelineStatus]
    source_position: BinlogPosition | None
    problems: list[str]


def collect(settings: Settings, source_db: str | None = None, target_schema: str | None = None) -> Status:
    store = open_store(settings)
    problems: list[str] = []
    keys = store.list(store.prefix + "/" if store.prefix else "")
    found = stored_pipelines(store, keys)  # every pipeline that keeps state in the store
    position = _source_position(settings, problems)
    written_by = _written(store, keys, found)
    summaries, applied_keys = _applied(settings, problems, written_by)
    pipelines = []
    for db, schema in found:
        if (source_db and db != source_db) or (target_schema and schema != target_schema):
            continue
        checkpoint = load_checkpoint(store, db, schema)
        written = written_by[(db, schema)]
        notes = _notes(store, db, schema)
        applied = summaries.get(schema, {})
        lag = None
        if checkpoint is not None and checkpoint.last_event_ts is not None:
            lag = (now_utc() - checkpoint.last_event_ts).total_seconds()
        status = PipelineStatus(db, schema, checkpoint, lag)
        for table in sorted(set(written) | set(applied) | set(notes)):
            summary = applied.get(table)
            done = applied_keys.get((schema, table), set())
            status.tables.append(
                TableStatus(
                    table,
                    len(written[table]),
                    len(written[table] - done),  # the loader's own rule: an object whose key the ledger lacks
                    summary.last_applied_at if summary else None,
                    notes.get(table, ""),
                )
            )
        pipelines.append(status)
    return Status(pipelines, position, problems)


def _notes(store: ObjectStore, source_db: str, target_schema: str) -> dict[str, str]:
    """Per table, what its records say: extract progress or the hybrid watermark, and above
    either a quarantine in force (a lifted one is not shown: the snapshot that lifted it is)."""
    notes: dict[str, str] = {}
    for table, extract in all_extracts(store, source_db, target_schema).items():
        at = f" at {extract.position}" if extract.position else ""
        parts = "1 part" if extract.parts == 1 else f"{extract.parts:,} parts"
        notes[table] = f"{extract.kind}{at} {extract.status}: {extract.rows:,} rows in {parts}"
    for table, hybrid in all_hybrids(store, source_db, target_schema).items():
        notes[table] = f"hybrid watermark {hybrid.last_ts} / id {hybrid.last_id.decode(errors='replace')}"
    for table, quarantine in active_quarantines(store, source_db, target_schema).items():
        notes[table] = "QUARANTINED: " + quarantine.reason
    return notes


def _source_position(settings: Settings, problems: list[str]) -> BinlogPosition | None:
    try:
        conn = mysql_meta.connect(settings.mysql())
        try:
            return mysql_meta.current_position(conn)
        finally:
            conn.close()
    except S3rbError as exc:
        problems.append(f"source: {exc}")
        return None


def _written(
    store: ObjectStore, keys: list[str], found: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, set[str]]]:
    """Per pipeline and table, the batch objects in the store (each key once, however often written)."""
    written: dict[tuple[str, str], dict[str, set[str]]] = {}
    for db, schema in found:
        base = pipeline_prefix(store.prefix, db, schema) + "/"
        tables: dict[str, set[str]] = defaultdict(set)
        for ref in (parse_batch_key(k) for k in keys if k.startswith(base)):
            if ref is not None:
                tables[ref.table].add(ref.key)
        written[(db, schema)] = tables
    return written


Applied = tuple[dict[str, dict[str, AppliedSummary]], dict[tuple[str, str], set[str]]]


def _applied(settings: Settings, problems: list[str], written: dict[tuple[str, str], dict[str, set[str]]]) -> Applied:
    """Per target schema the ledger's summary, and per table the keys it records as applied."""
    try:
        warehouse = open_warehouse(settings, read_only=True)
    except S3rbError as exc:
        problems.append(f"warehouse: {exc}")
        return {}, {}
    try:
        summaries = {schema: warehouse.load_summary(schema) for _, schema in written}
        keys = {
            (schema, table): warehouse.applied(schema, table)
            for (_, schema), tables in written.items()
            for table in tables
            if table in summaries.get(schema, {})
        }
        return summaries, keys
    finally:
        warehouse.close()


def render(status: Status) -> list[str]:
    """A readable table for a terminal."""
    lines = []
    if status.source_position:
        lines.append(f"source binlog position: {status.source_position}")
    if not status.pipelines:
        lines.append("no pipelines yet: nothing has been captured to this store")
    for p in status.pipelines:
        behind = ""
        if status.source_position and p.checkpoint and p.checkpoint.position.file == status.source_position.file:
            behind = f", {status.source_position.pos - p.checkpoint.position.pos} bytes behind"
        lag = (
            f"last captured commit {p.lag_seconds:.0f}s ago" if p.lag_seconds is not None else "no change captured yet"
        )
        if p.checkpoint is not None:
            lines.append(f"\n{p.source_db} → {p.target_schema}: checkpoint {p.checkpoint.position}{behind}; {lag}")
        else:
            lines.append(f"\n{p.source_db} → {p.target_schema}: no binlog checkpoint yet")
        lines.append(f"  {'table':30} {'written':>8} {'pending':>8}  {'last load (UTC)':19}  state")
        for t in p.tables:
            last = t.last_load.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if t.last_load else "-"
            lines.append(f"  {t.table:30} {t.batches_written:8d} {t.batches_pending:8d}  {last:19}  {t.note}".rstrip())
    lines.extend(f"warning: {problem}" for problem in status.problems)
    return lines
