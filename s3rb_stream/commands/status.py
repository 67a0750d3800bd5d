"""``status``: per pipeline and table, the checkpoint, lag, batches pending and the last load.

Reads the store and the warehouse only; the source is asked for its position when reachable.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.object_keys import STATE_DIR, parse_batch_key
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.query_state import ExtractState, HybridState
from s3rb_stream.errors import S3rbError
from s3rb_stream.settings import Settings
from s3rb_stream.sources import mysql_meta
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import AppliedSummary, open_warehouse

STATE_MARK = f"/{STATE_DIR}/"
CHECKPOINT_SUFFIX = f"/{STATE_DIR}/checkpoint.json"


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
    # Every pipeline keeps state under {prefix}/{source_db}/{target_schema}/_s3rb_state/.
    bases = sorted({k.split(STATE_MARK)[0] for k in keys if STATE_MARK in k and k.count("/") >= 3})
    position = _source_position(settings, problems)
    summaries = _applied(settings, problems, {unquote(b.split("/")[-1]) for b in bases})
    pipelines = []
    for base in bases:
        db, schema = (unquote(part) for part in base.split("/")[-2:])
        if (source_db and db != source_db) or (target_schema and schema != target_schema):
            continue
        data = store.get(base + CHECKPOINT_SUFFIX)
        checkpoint = Checkpoint.from_json(data, base + CHECKPOINT_SUFFIX) if data is not None else None
        written: dict[str, set[str]] = defaultdict(set)
        for ref in (parse_batch_key(k) for k in keys if k.startswith(base + "/")):
            if ref is not None:
                written[ref.table].add(ref.key)
        notes = _notes(store, base, keys)
        applied = summaries.get(schema, {})
        lag = None
        if checkpoint is not None and checkpoint.last_event_ts is not None:
            lag = (now_utc() - checkpoint.last_event_ts).total_seconds()
        status = PipelineStatus(db, schema, checkpoint, lag)
        for table in sorted(set(written) | set(applied) | set(notes)):
            summary = applied.get(table)
            done = summary.batches if summary else 0
            status.tables.append(
                TableStatus(
                    table,
                    len(written[table]),
                    max(len(written[table]) - done, 0),
                    summary.last_applied_at if summary else None,
                    notes.get(table, ""),
                )
            )
        pipelines.append(status)
    return Status(pipelines, position, problems)


def _notes(store: ObjectStore, base: str, keys: list[str]) -> dict[str, str]:
    """Per table, what its query-based state says: extract progress or the hybrid watermark."""
    notes: dict[str, str] = {}
    for key in keys:
        if not key.startswith(base + STATE_MARK) or not key.endswith(".json"):
            continue
        kind, _, name = key[len(base + STATE_MARK) :].partition("/")
        table = unquote(name.removesuffix(".json"))
        data = store.get(key) if kind in ("extracts", "hybrid", "quarantine") and table else None
        if data is None:
            continue
        if kind == "quarantine":
            notes[table] = "QUARANTINED: " + str(json.loads(data).get("reason", "?"))
        elif kind == "extracts":
            extract = ExtractState.from_json(data, key)
            at = f" at {extract.position}" if extract.position else ""
            notes[table] = f"{extract.kind}{at} {extract.status}: {extract.rows:,} rows in {extract.parts} parts"
        else:
            hybrid = HybridState.from_json(data, key)
            notes[table] = f"hybrid watermark {hybrid.last_ts} / id {hybrid.last_id.decode(errors='replace')}"
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


def _applied(settings: Settings, problems: list[str], schemas: set[str]) -> dict[str, dict[str, AppliedSummary]]:
    try:
        warehouse = open_warehouse(settings, read_only=True)
    except S3rbError as exc:
        problems.append(f"warehouse: {exc}")
        return {}
    try:
        return {schema: warehouse.load_summary(schema) for schema in schemas}
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
