"""Object keys of batches and state: schema-isolated, deterministic from the change range.

``{prefix}/{source_db}/{target_schema}/{table}/year=YYYY/month=MM/day=DD/{table}_{first}_{last}.parquet``

The date comes from the first change's source commit time, so a replayed range gets the same
key. No ``:`` or spaces are added by us; table names are used as MySQL spells them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

STATE_DIR = "_s3rb_state"
_BATCH = re.compile(
    r"/(?P<table>[^/]+)/year=\d{4}/month=\d{2}/day=\d{2}/(?P=table)_(?P<first>\d+)_(?P<last>\d+)\.parquet$"
)


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def pipeline_prefix(prefix: str, source_db: str, target_schema: str) -> str:
    return join(prefix, source_db, target_schema)


def table_prefix(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    return join(prefix, source_db, target_schema, table) + "/"


def batch_key(
    prefix: str, source_db: str, target_schema: str, table: str, first_seq: int, last_seq: int, first_ts: datetime
) -> str:
    day = f"year={first_ts:%Y}/month={first_ts:%m}/day={first_ts:%d}"
    return join(prefix, source_db, target_schema, table, day, f"{table}_{first_seq}_{last_seq}.parquet")


def checkpoint_key(prefix: str, source_db: str, target_schema: str) -> str:
    return join(prefix, source_db, target_schema, STATE_DIR, "checkpoint.json")


@dataclass(frozen=True, order=True)
class BatchRef:
    """A batch object found in the store; orders by first sequence."""

    first_seq: int
    last_seq: int
    key: str
    table: str


def parse_batch_key(key: str) -> BatchRef | None:
    """The batch a key names, or None for anything that is not a batch object."""
    match = _BATCH.search(key)
    if not match:
        return None
    return BatchRef(int(match["first"]), int(match["last"]), key, match["table"])
