"""``status``: per pipeline and table, the checkpoint, lag, batch objects kept (count, size, the
oldest), batches pending, the applied watermark and the last load.

Reads the store and the warehouse only; the source is asked for its position when reachable.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.object_keys import batch_of_pending, parse_batch_key, pipeline_prefix
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.errors import S3rbError
from s3rb_stream.settings import Settings
from s3rb_stream.sources import mysql_meta
from s3rb_stream.state.checkpoint import load_checkpoint
from s3rb_stream.state.extracts import all_extracts
from s3rb_stream.state.hybrid import all_hybrids
from s3rb_stream.state.layout import notes_since
from s3rb_stream.state.pipelines import pipelines as stored_pipelines
from s3rb_stream.state.quarantines import active_quarantines
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore, StoredObject
from s3rb_stream.targets import AppliedSummary, open_warehouse


@dataclass
class TableStatus:
    table: str
    batches_written: int  # batch objects kept in the store (applied ones go after the retention)
    batches_pending: int
    last_load: datetime | None
    note: str = ""  # snapshot or full_sync progress, hybrid watermark
    bytes_kept: int = 0
    oldest_kept: datetime | None = None  # when the oldest batch object kept was written
    watermark: int | None = None  # the highest sequence applied: every change at or below it is in effect


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


@dataclass
class Kept:
    """One table's batch objects in the store, and those with a pending note."""

    objects: dict[str, StoredObject] = field(default_factory=dict)
    noted: set[str] = field(default_factory=set)


def collect(settings: Settings, source_db: str | None = None, target_schema: str | None = None) -> Status:
    store = open_store(settings)
    problems: list[str] = []
    entries = store.entries(store.prefix + "/" if store.prefix else "")
    found = stored_pipelines(store, [e.key for e in entries])  # every pipeline that keeps state in the store
    position = _source_position(settings, problems)
    kept = _kept(store, entries, found)
    waiting = {pipeline: _candidates(store, pipeline, tables) for pipeline, tables in kept.items()}
    summaries, applied_keys = _applied(settings, problems, waiting)
    pipelines = []
    for db, schema in found:
        if (source_db and db != source_db) or (target_schema and schema != target_schema):
            continue
        checkpoint = load_checkpoint(store, db, schema)
        tables = kept[(db, schema)]
        notes = _notes(store, db, schema)
        applied = summaries.get(schema, {})
        lag = None
        if checkpoint is not None and checkpoint.last_event_ts is not None:
            lag = (now_utc() - checkpoint.last_event_ts).total_seconds()
        status = PipelineStatus(db, schema, checkpoint, lag)
        for table in sorted(set(tables) | set(applied) | set(notes)):
            summary = applied.get(table)
            objects = tables[table].objects if table in tables else {}
            done = applied_keys.get((schema, table), set())
            status.tables.append(
                TableStatus(
                    table,
                    len(objects),
                    len(waiting[(db, schema)].get(table, set()) - done),  # the loader's own rule
                    summary.last_applied_at if summary else None,
                    notes.get(table, ""),
                    sum(o.size for o in objects.values()),
                    min((o.modified for o in objects.values()), default=None),
                    summary.max_seq if summary else None,
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


def _kept(
    store: ObjectStore, entries: list[StoredObject], found: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Kept]]:
    """Per pipeline and table, the batch objects in the store and those with a pending note."""
    kept: dict[tuple[str, str], dict[str, Kept]] = {}
    for db, schema in found:
        base = pipeline_prefix(store.prefix, db, schema) + "/"
        tables: dict[str, Kept] = defaultdict(Kept)
        for entry in entries:
            if not entry.key.startswith(base):
                continue
            ref = parse_batch_key(entry.key)
            if ref is not None:
                tables[ref.table].objects[entry.key] = entry
            elif (noted := batch_of_pending(entry.key)) is not None and (ref := parse_batch_key(noted)) is not None:
                tables[ref.table].noted.add(noted)
        kept[(db, schema)] = tables
    return kept


def _candidates(store: ObjectStore, pipeline: tuple[str, str], tables: dict[str, Kept]) -> dict[str, set[str]]:
    """Per table, the batches that may wait: those with a note, or, before the pipeline's batches
    were indexed (a store written by an older version), every one kept."""
    indexed = notes_since(store, *pipeline) is not None
    return {table: kept.noted & set(kept.objects) if indexed else set(kept.objects) for table, kept in tables.items()}


Applied = tuple[dict[str, dict[str, AppliedSummary]], dict[tuple[str, str], set[str]]]


def _applied(settings: Settings, problems: list[str], waiting: dict[tuple[str, str], dict[str, set[str]]]) -> Applied:
    """Per target schema the ledger's summary, and per table which of the batches that may wait
    it records as applied (asked about those alone)."""
    try:
        warehouse = open_warehouse(settings, read_only=True)
    except S3rbError as exc:
        problems.append(f"warehouse: {exc}")
        return {}, {}
    try:
        summaries = {schema: warehouse.load_summary(schema) for _, schema in waiting}
        keys = {
            (schema, table): warehouse.applied_among(schema, table, sorted(candidates))
            for (_, schema), tables in waiting.items()
            for table, candidates in tables.items()
            if table in summaries.get(schema, {}) and candidates
        }
        return summaries, keys
    finally:
        warehouse.close()


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


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
        lines.append(
            f"  {'table':30} {'kept':>8} {'size':>9} {'oldest kept':>11} {'pending':>8} {'watermark':>20}"
            f"  {'last load (UTC)':19}  state"
        )
        for t in p.tables:
            last = t.last_load.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if t.last_load else "-"
            oldest = t.oldest_kept.astimezone(UTC).strftime("%Y-%m-%d") if t.oldest_kept else "-"
            mark = str(t.watermark) if t.watermark is not None else "-"
            lines.append(
                f"  {t.table:30} {t.batches_written:8d} {_size(t.bytes_kept):>9} {oldest:>11} {t.batches_pending:8d}"
                f" {mark:>20}  {last:19}  {t.note}".rstrip()
            )
    lines.extend(f"warning: {problem}" for problem in status.problems)
    return lines
