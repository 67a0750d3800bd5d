"""The note written beside each batch object, under ``{table}/_pending/``, once the object is
whole: that it waits to be loaded, and what the load needs to know of it without reading it
(docs/ARCHITECTURE.md, "Finding new batches"): its rows and size, the definition it was written
with, and the bytes of its longest value per text or binary column, which say whether it fits
Redshift's limits as it is. The load lists these notes instead of the table's history, and removes
a note once its batch is applied."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from s3rb_stream.core.schema import DEFINITION_KEY
from s3rb_stream.errors import CorruptStateError

SOURCE_TS = "_s3rb_source_ts"


@dataclass(frozen=True)
class BatchNote:
    rows: int | None  # None: not known (a batch written before notes, indexed later)
    size: int  # bytes of the object
    definition: str | None = None  # the table definition's JSON, as in the object's schema metadata
    longest: dict[str, int] | None = None  # bytes of the longest value of each text or binary column
    newest: datetime | None = None  # the newest source commit time of its changes (freshness)

    def to_json(self) -> bytes:
        raw = {
            "rows": self.rows,
            "size": self.size,
            "definition": self.definition,
            "longest": self.longest,
            "newest": self.newest.isoformat() if self.newest else None,
        }
        return json.dumps(raw, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, key: str) -> BatchNote:
        try:
            raw = json.loads(data)
            rows, longest, newest = raw["rows"], raw.get("longest"), raw.get("newest")
            return cls(
                None if rows is None else int(rows),
                int(raw["size"]),
                raw.get("definition"),
                None if longest is None else {str(k): int(v) for k, v in longest.items()},
                datetime.fromisoformat(newest) if newest else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptStateError(f"pending note {key} is unreadable: {exc}") from None


def describe(table: pa.Table, size: int) -> BatchNote:
    """The note of a batch whose rows are ``table``, encoded in ``size`` bytes."""
    longest = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind)
            or (pa.types.is_large_binary(kind))
        ):
            longest[field.name] = int(pc.max(pc.binary_length(column)).as_py() or 0) if len(column) else 0
    meta = table.schema.metadata or {}
    definition = meta[DEFINITION_KEY].decode() if DEFINITION_KEY in meta else None
    names = table.schema.names
    newest = pc.max(table.column(SOURCE_TS)).as_py() if SOURCE_TS in names and table.num_rows else None
    return BatchNote(table.num_rows, size, definition, longest, newest)
