"""Object keys of batches and state: schema-isolated, deterministic from the change range.

``{prefix}/{source_db}/{target_schema}/{table}/year=YYYY/month=MM/day=DD/{table}_{first}_{last}.parquet``

The date comes from the first change's source commit time, so a replayed range gets the same
key. No ``:`` or spaces are added by us; table names are used as MySQL spells them.

A snapshot stamps every row with the one binlog position it is consistent with, so its chunks
share a range and are told apart by a part number: ``{table}_{seq}_{seq}_{part:06d}.parquet``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

STATE_DIR = "_s3rb_state"
_BATCH = re.compile(
    r"/(?P<table>[^/]+)/year=\d{4}/month=\d{2}/day=\d{2}/(?P=table)_(?P<first>\d+)_(?P<last>\d+)"
    r"(?:_(?P<part>\d+))?\.parquet$"
)


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def pipeline_prefix(prefix: str, source_db: str, target_schema: str) -> str:
    return join(prefix, source_db, target_schema)


def table_prefix(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    return join(prefix, source_db, target_schema, table) + "/"


def batch_key(
    prefix: str,
    source_db: str,
    target_schema: str,
    table: str,
    first_seq: int,
    last_seq: int,
    first_ts: datetime,
    part: int | None = None,
) -> str:
    day = f"year={first_ts:%Y}/month={first_ts:%m}/day={first_ts:%d}"
    suffix = f"_{part:06d}" if part is not None else ""
    return join(prefix, source_db, target_schema, table, day, f"{table}_{first_seq}_{last_seq}{suffix}.parquet")


def checkpoint_key(prefix: str, source_db: str, target_schema: str) -> str:
    return join(prefix, source_db, target_schema, STATE_DIR, "checkpoint.json")


def extract_state_key(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """Progress of a table's latest snapshot or full_sync extract."""
    return join(prefix, source_db, target_schema, STATE_DIR, "extracts", f"{table}.json")


def quarantine_key(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """Why and where capture of a table stopped while the others go on."""
    return join(prefix, source_db, target_schema, STATE_DIR, "quarantine", f"{table}.json")


def hybrid_state_key(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """A hybrid table's watermark: the last (timestamp, id) read."""
    return join(prefix, source_db, target_schema, STATE_DIR, "hybrid", f"{table}.json")


@dataclass(frozen=True)
class BatchRef:
    """A batch object found in the store."""

    first_seq: int
    last_seq: int
    key: str
    table: str
    part: int | None = None  # the page of a whole-table extract

    def load_order(self) -> tuple[int, int, int, str]:
        """Apply order: by last sequence, so a batch that spans a snapshot's position comes after it."""
        return (self.last_seq, self.first_seq, -1 if self.part is None else self.part, self.key)


def parse_batch_key(key: str) -> BatchRef | None:
    """The batch a key names, or None for anything that is not a batch object."""
    match = _BATCH.search(key)
    if not match:
        return None
    return BatchRef(
        int(match["first"]), int(match["last"]), key, match["table"], int(match["part"]) if match["part"] else None
    )


def source_db_of(key: str) -> str:
    """The source database a batch key belongs to (the segment before target schema and table)."""
    match = _BATCH.search(key)
    if not match:
        return ""
    parts = key[: match.start()].split("/")
    return parts[-2] if len(parts) >= 2 else ""
