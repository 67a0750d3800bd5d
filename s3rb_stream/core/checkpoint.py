"""The capture checkpoint: where to resume reading the binlog (invariant 3).

It is written only after every change before it is in a completely written batch object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.errors import CorruptStateError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    position: BinlogPosition
    source_db: str
    target_schema: str
    saved_at: datetime
    last_event_ts: datetime | None = None
    # Tables captured up to ``position``; None in checkpoints written before it was recorded.
    tables: tuple[str, ...] | None = None
    # The table definitions in effect at ``position`` (JSON, see schema.table_to_json): a restart
    # replays the binlog from here with these, and follows each ALTER ahead as it comes.
    definitions: dict[str, str] | None = None
    # Tables that start later than ``position`` (a snapshot's position, or --start-position): the
    # sequence below which each one's rows are already complete, so a restart still skips them.
    skip_below: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": FORMAT_VERSION,
                "binlog_file": self.position.file,
                "binlog_pos": self.position.pos,
                "gtid": self.position.gtid,
                "gtid_ordinal": self.position.ordinal,
                "source_db": self.source_db,
                "target_schema": self.target_schema,
                "saved_at": self.saved_at.isoformat(),
                "last_event_ts": self.last_event_ts.isoformat() if self.last_event_ts else None,
                "tables": list(self.tables) if self.tables is not None else None,
                "definitions": self.definitions,
                "skip_below": self.skip_below,
            },
            indent=2,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Checkpoint:
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            if raw.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown checkpoint version {raw.get('version')!r}")
            last = raw.get("last_event_ts")
            return cls(
                position=BinlogPosition.from_dict(raw, "binlog_file", "binlog_pos"),
                source_db=str(raw["source_db"]),
                target_schema=str(raw["target_schema"]),
                saved_at=datetime.fromisoformat(raw["saved_at"]),
                last_event_ts=datetime.fromisoformat(last) if last else None,
                tables=tuple(str(t) for t in raw["tables"]) if raw.get("tables") is not None else None,
                definitions={str(k): str(v) for k, v in raw["definitions"].items()} if raw.get("definitions") else None,
                skip_below={str(k): int(v) for k, v in (raw.get("skip_below") or {}).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptStateError(
                f"checkpoint {where} is unreadable: {exc}",
                "restore it from a backup, or delete it and re-snapshot the tables",
            ) from None


def now_utc() -> datetime:
    return datetime.now(UTC)
