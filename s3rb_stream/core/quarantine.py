"""A quarantine: one table's capture stopped (and, for a batch object found unreadable, its loads
held) while the other tables go on; lifted by a snapshot of the table taken after it.

The record type, its JSON and its lift rule, in one place; :mod:`s3rb_stream.state.quarantines`
keeps it in the store (docs/ARCHITECTURE.md, "Records").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.query_state import ExtractState
from s3rb_stream.errors import CorruptStateError


def resnapshot_command(source_db: str, target_schema: str, table: str) -> str:
    """The fix every quarantine names, once its cause is fixed."""
    return f"s3rb-stream snapshot --source-db {source_db} --target-schema {target_schema} -t {table} --restart"


@dataclass(frozen=True)
class Quarantine:
    table: str
    reason: str
    # Where capture of the table stopped; None when a load found a batch object unreadable.
    position: BinlogPosition | None
    # Loads of the table are held too, until a snapshot replaces the changes up to this sequence.
    hold_loads_below: int | None = None
    at: datetime | None = field(default_factory=now_utc)  # when it was found (None: a record without it)

    def __post_init__(self) -> None:
        if self.position is None and self.hold_loads_below is None:
            raise ValueError(f"a quarantine of {self.table} needs a position or a sequence to hold loads below")

    @property
    def holds_loads(self) -> bool:
        return self.hold_loads_below is not None

    @property
    def since_seq(self) -> int:
        """A snapshot lifts the quarantine only if it was taken after this sequence."""
        if self.hold_loads_below is not None:
            return self.hold_loads_below
        assert self.position is not None  # __post_init__
        return self.position.seq

    def lifted_by(self, extract: ExtractState | None) -> bool:
        """The lift rule: the table's latest extract is a complete snapshot positioned after the
        quarantine, so everything capture (or the lost object) missed is in it."""
        return (
            extract is not None
            and extract.kind == "snapshot"
            and extract.status == "complete"
            and extract.position is not None
            and extract.position.seq > self.since_seq
        )

    @property
    def where(self) -> str:
        return f"sequence {self.hold_loads_below}" if self.hold_loads_below is not None else str(self.position)

    def describe(self) -> str:
        """The reason with where it happened, as ``run``, ``check`` and the batch commands say it."""
        return f"{self.reason} (quarantined at {self.where})"

    def to_json(self) -> bytes:
        # A record without a position keeps an empty file name, as every release has written it.
        position = self.position or BinlogPosition("", 0)
        record: dict[str, object] = {"table": self.table, "reason": self.reason, "binlog_file": position.file}
        record |= {"binlog_pos": position.pos} | {k: v for k, v in position.to_dict().items() if k.startswith("gtid")}
        if self.hold_loads_below is not None:
            record["hold_loads_below"] = self.hold_loads_below
        if self.at is not None:
            record["at"] = self.at.isoformat()
        return json.dumps(record, indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Quarantine:
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            hold = raw.get("hold_loads_below")
            position = BinlogPosition.from_dict(raw, "binlog_file", "binlog_pos")
            at = raw.get("at")
            found = cls(
                table=str(raw["table"]),
                reason=str(raw["reason"]),
                position=None if hold is not None and not position.file else position,
                hold_loads_below=int(hold) if hold is not None else None,
                at=datetime.fromisoformat(at) if isinstance(at, str) else None,
            )
            _ = found.since_seq  # a position that is no binlog position is refused here, not when lifting
            return found
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptStateError(
                f"quarantine record {where} is unreadable: {exc}", "delete it and re-snapshot the table"
            ) from None
