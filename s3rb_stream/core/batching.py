"""Micro-batch buffers per table and the checkpoint they allow (Maxwell's in-flight rule).

Changes enter only at transaction commits, so a batch never holds part of a transaction. Each
buffer remembers the commit boundary before its oldest change; the checkpoint is the lowest such
boundary, or the last commit when nothing is buffered. Restarting there replays exactly what may
not be durable yet. A hold (a prepared XA transaction whose rows wait in memory for its outcome)
keeps the checkpoint at or before the boundary it names, too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from s3rb_stream.core.changes import Change
from s3rb_stream.core.positions import BinlogPosition


@dataclass(frozen=True)
class FlushPolicy:
    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_age_seconds: float = 30.0
    max_total_bytes: int = 256 * 1024 * 1024


@dataclass
class TableBuffer:
    table: str
    resume_from: BinlogPosition
    opened_at: float
    changes: list[Change] = field(default_factory=list)
    size_bytes: int = 0


class BatchBuffers:
    """All open buffers of one capture. Times are monotonic seconds passed in by the caller."""

    def __init__(self, policy: FlushPolicy, start: BinlogPosition) -> None:
        self.policy = policy
        self._buffers: dict[str, TableBuffer] = {}
        self._holds: dict[str, BinlogPosition] = {}
        self._last_commit = start

    @property
    def last_commit(self) -> BinlogPosition:
        return self._last_commit

    def commit(
        self,
        txn_start: BinlogPosition,
        txn_end: BinlogPosition,
        changes: dict[str, tuple[list[Change], int]],
        now: float,
    ) -> None:
        """Add one committed transaction: ``changes`` maps table → (its changes, their approximate
        bytes in memory)."""
        for table, (items, size) in changes.items():
            buf = self._buffers.get(table)
            if buf is None:
                buf = self._buffers[table] = TableBuffer(table, txn_start, now)
            buf.changes.extend(items)
            buf.size_bytes += size
        self._last_commit = txn_end

    def oldest_buffered(self) -> datetime | None:
        """The source time of the oldest change not yet written to an object."""
        return min((b.changes[0].source_ts for b in self._buffers.values() if b.changes), default=None)

    def advance(self, position: BinlogPosition) -> None:
        """Move the commit boundary without changes (heartbeat, other tables' transactions)."""
        if position.at_or_after(self._last_commit):
            self._last_commit = position

    def due(self, now: float) -> list[str]:
        """Tables whose buffer should be flushed now."""
        p = self.policy
        due = [
            b.table
            for b in self._buffers.values()
            if len(b.changes) >= p.max_rows or b.size_bytes >= p.max_bytes or now - b.opened_at >= p.max_age_seconds
        ]
        total = sum(b.size_bytes for b in self._buffers.values())
        if total >= p.max_total_bytes:
            for b in sorted(self._buffers.values(), key=lambda b: -b.size_bytes):
                if b.table not in due:
                    due.append(b.table)
                    total -= b.size_bytes
                if total < p.max_total_bytes:
                    break
        return due

    def tables(self) -> list[str]:
        return list(self._buffers)

    def peek(self, table: str) -> list[Change]:
        return self._buffers[table].changes

    def drop(self, tables: Iterable[str]) -> None:
        """Forget buffers whose batch objects are now durable."""
        for table in tables:
            self._buffers.pop(table, None)

    def hold(self, name: str, position: BinlogPosition) -> None:
        """Keep the checkpoint at or before ``position`` until :meth:`release` of ``name``."""
        self._holds[name] = position

    def release(self, name: str) -> None:
        self._holds.pop(name, None)

    def checkpoint_position(self) -> BinlogPosition:
        if not self._buffers and not self._holds:
            return self._last_commit
        starts = [b.resume_from for b in self._buffers.values()] + list(self._holds.values())
        return min(starts, key=lambda p: p.seq)

    def buffered_rows(self) -> int:
        return sum(len(b.changes) for b in self._buffers.values())
