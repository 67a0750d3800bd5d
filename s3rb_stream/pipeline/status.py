"""``status``: per pipeline and table, the checkpoint, lag, batches pending and the last load.

Reads the store and the warehouse only; the source is asked for its position when reachable.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.object_keys import STATE_DIR, parse_batch_key
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.errors import S3rbError
from s3rb_stream.settings import Settings
from s3rb_stream.sources import mysql_meta
from s3rb_stream.store import open_store
from s3rb_stream.targets import AppliedSummary, open_warehouse

CHECKPOINT_SUFFIX = f"/{STATE_DIR}/checkpoint.json"


@dataclass
class TableStatus:
    table: str
    batches_written: int
    batches_pending: int
    last_load: datetime | None


@dataclass
class PipelineStatus:
    source_db: str
    target_schema: str
    checkpoint: Checkpoint
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
    checkpoints = [k for k in keys if k.endswith(CHECKPOINT_SUFFIX)]
    position = _source_position(settings, problems)
    summaries = _applied(settings, problems, {k.split("/")[-3] for k in checkpoints})
    pipelines = []
    for key in checkpoints:
        data = store.get(key)
        if data is None:
            continue
        checkpoint = Checkpoint.from_json(data, key)
        if (source_db and checkpoint.source_db != source_db) or (
            target_schema and checkpoint.target_schema != target_schema
        ):
            continue
        base = key[: -len(CHECKPOINT_SUFFIX)] + "/"
        written: dict[str, set[str]] = defaultdict(set)
        for ref in (parse_batch_key(k) for k in keys if k.startswith(base)):
            if ref is not None:
                written[ref.table].add(ref.key)
        applied = summaries.get(checkpoint.target_schema, {})
        lag = (now_utc() - checkpoint.last_event_ts).total_seconds() if checkpoint.last_event_ts else None
        status = PipelineStatus(checkpoint.source_db, checkpoint.target_schema, checkpoint, lag)
        for table in sorted(set(written) | set(applied)):
            summary = applied.get(table)
            done = summary.batches if summary else 0
            status.tables.append(
                TableStatus(
                    table,
                    len(written[table]),
                    max(len(written[table]) - done, 0),
                    summary.last_applied_at if summary else None,
                )
            )
        pipelines.append(status)
    return Status(pipelines, position, problems)


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
        if status.source_position and p.checkpoint.position.file == status.source_position.file:
            behind = f", {status.source_position.pos - p.checkpoint.position.pos} bytes behind"
        lag = (
            f"last captured commit {p.lag_seconds:.0f}s ago" if p.lag_seconds is not None else "no change captured yet"
        )
        lines.append(f"\n{p.source_db} → {p.target_schema}: checkpoint {p.checkpoint.position}{behind}; {lag}")
        lines.append(f"  {'table':30} {'written':>8} {'pending':>8}  last load (UTC)")
        for t in p.tables:
            last = t.last_load.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if t.last_load else "-"
            lines.append(f"  {t.table:30} {t.batches_written:8d} {t.batches_pending:8d}  {last}")
    lines.extend(f"warning: {problem}" for problem in status.problems)
    return lines
