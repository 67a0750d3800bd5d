"""The note written beside each batch object, under ``{table}/_pending/``, once the object is
whole: that it waits to be loaded, and what the load needs to know of it without reading it.
The load lists these notes instead of the table's history, and removes a note once its batch is
applied (docs/ARCHITECTURE.md, "Finding new batches")."""

from __future__ import annotations

import json
from dataclasses import dataclass

from s3rb_stream.errors import CorruptStateError


@dataclass(frozen=True)
class BatchNote:
    rows: int | None  # None: not known (a batch written before notes, indexed later)
    size: int  # bytes of the object

    def to_json(self) -> bytes:
        return json.dumps({"rows": self.rows, "size": self.size}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, key: str) -> BatchNote:
        try:
            raw = json.loads(data)
            rows = raw["rows"]
            return cls(None if rows is None else int(rows), int(raw["size"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptStateError(f"pending note {key} is unreadable: {exc}") from None
