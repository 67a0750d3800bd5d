"""State of query-based reads, kept as small JSON objects next to the checkpoint.

- :class:`ExtractState`: a table's latest whole-table extract (a ``snapshot`` or a ``full_sync``).
  While it is ``running`` the loader holds the table's batches back; once ``complete``, the load
  that applies its final part also removes the target rows the extract did not see (the sweep).
  A snapshot's progress (parts written, last key) lets an interrupted snapshot resume.
- :class:`HybridState`: a ``hybrid`` table's watermark, the last (timestamp, id) read.

Key values are kept as the text protocol sent them, base64-encoded, so any key type round-trips.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.errors import CorruptStateError

FORMAT_VERSION = 1
# Sequences of query-based reads: microseconds since the epoch, shifted to leave room for 1024
# rows per microsecond. They sit far above binlog sequences (file index << 32 | offset).
QUERY_SEQ_SHIFT = 10
QUERY_SEQ_FLOOR = 1 << 55

ExtractKind = Literal["snapshot", "full_sync", "truncate"]
Status = Literal["running", "complete"]
Key = tuple[bytes | None, ...]


def next_query_seq(previous: int | None, now_ns: int | None = None) -> int:
    """The first sequence of a new query-based read: above the previous one and above the clock."""
    clock = ((now_ns if now_ns is not None else time.time_ns()) // 1000) << QUERY_SEQ_SHIFT
    return max((previous or 0) + 1, clock)


def next_run(previous: ExtractState | None, now_ns: int | None = None) -> int:
    """A new snapshot run's identity: above the table's previous run and above the clock (in
    microseconds), so that it is new even when the previous state object was deleted. Its objects
    then have keys no earlier run used, and load again even at an unchanged binlog position."""
    clock = (now_ns if now_ns is not None else time.time_ns()) // 1000
    return max((previous.run or 0) + 1 if previous is not None else 0, clock)


def encode_key(key: Key | None) -> list[str | None] | None:
    if key is None:
        return None
    return [base64.b64encode(v).decode() if v is not None else None for v in key]


def decode_key(raw: Any) -> Key | None:
    if raw is None:
        return None
    return tuple(base64.b64decode(v) if v is not None else None for v in raw)


def _load(data: bytes, where: str) -> dict[str, Any]:
    raw = json.loads(data)
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    if raw.get("version") != FORMAT_VERSION:
        raise ValueError(f"unknown state version {raw.get('version')!r}")
    return raw


def _corrupt(where: str, exc: Exception) -> CorruptStateError:
    return CorruptStateError(
        f"state object {where} is unreadable: {exc}",
        "delete it to start that table's extract or watermark over (rows are re-read, never lost)",
    )


@dataclass(frozen=True)
class ExtractState:
    kind: ExtractKind
    status: Status
    first_seq: int  # every row of the extract has a sequence at or above this
    last_seq: int
    started_at: datetime
    position: BinlogPosition | None = None  # snapshot: the binlog position it is consistent with
    exact: bool = True  # snapshot: position read inside the snapshot (MariaDB) or just before it
    parts: int = 0
    rows: int = 0
    last_key: Key | None = None  # the key of the last row written, to resume after it
    final_key: str | None = None  # the object key of the last part written
    run: int | None = None  # snapshot: this run's identity in its object keys (see next_run)

    def wrote(self, part_key: str, rows: int, last_key: Key | None, last_seq: int) -> ExtractState:
        return replace(
            self,
            parts=self.parts + 1,
            rows=self.rows + rows,
            last_key=last_key if last_key is not None else self.last_key,
            last_seq=max(self.last_seq, last_seq),
            final_key=part_key,
        )

    def completed(self) -> ExtractState:
        return replace(self, status="complete")

    def to_json(self) -> bytes:
        raw = asdict(self)
        raw.update(
            version=FORMAT_VERSION,
            started_at=self.started_at.isoformat(),
            position=self.position.to_dict() if self.position else None,
            last_key=encode_key(self.last_key),
        )
        return json.dumps(raw, indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> ExtractState:
        try:
            raw = _load(data, where)
            position = raw.get("position")
            return cls(
                kind=raw["kind"],
                status=raw["status"],
                first_seq=int(raw["first_seq"]),
                last_seq=int(raw["last_seq"]),
                started_at=datetime.fromisoformat(raw["started_at"]),
                position=BinlogPosition.from_dict(position) if position else None,
                exact=bool(raw.get("exact", True)),
                parts=int(raw["parts"]),
                rows=int(raw["rows"]),
                last_key=decode_key(raw.get("last_key")),
                final_key=raw.get("final_key"),
                run=int(raw["run"]) if raw.get("run") is not None else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise _corrupt(where, exc) from None


@dataclass(frozen=True)
class HybridState:
    last_ts: str  # the timestamp column's text, as the server sent it
    last_id: bytes
    last_seq: int
    rows: int = 0
    # The rows of the look-back window as last read: id (base64) → (digest of the row, its timestamp
    # text). A row read again unchanged is not written again (core/hybrid_window.py).
    window: dict[str, tuple[str, str]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": FORMAT_VERSION,
                "last_ts": self.last_ts,
                "last_id": base64.b64encode(self.last_id).decode(),
                "last_seq": self.last_seq,
                "rows": self.rows,
                "window": {key: list(entry) for key, entry in self.window.items()},
            },
            indent=2,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> HybridState:
        try:
            raw = _load(data, where)
            window = {str(k): (str(v[0]), str(v[1])) for k, v in (raw.get("window") or {}).items()}
            return cls(
                str(raw["last_ts"]), base64.b64decode(raw["last_id"]), int(raw["last_seq"]), int(raw["rows"]), window
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise _corrupt(where, exc) from None
