"""Binlog positions and the source sequence ``_s3rb_seq`` (invariant 1).

``_s3rb_seq`` packs (binlog file index, byte offset) into one signed 64-bit integer:
``file_index << 32 | offset``. For a row change the offset is the rows event's start position
plus the row's index inside the event. Every row image takes at least one byte of its event, so
``start + index`` stays below the next event's start and the sequence is strictly increasing in
commit order. A snapshot row carries the sequence of the snapshot's binlog position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FILE_INDEX = re.compile(r"\.(\d+)$")
OFFSET_BITS = 32
MAX_FILE_INDEX = (1 << (63 - OFFSET_BITS)) - 1


def file_index(binlog_file: str) -> int:
    """``mariadb-bin.000042`` → 42."""
    match = _FILE_INDEX.search(binlog_file)
    if not match:
        raise ValueError(f"binlog file name {binlog_file!r} has no numeric extension")
    index = int(match.group(1))
    if index > MAX_FILE_INDEX:
        raise ValueError(f"binlog file index {index} exceeds {MAX_FILE_INDEX}")
    return index


def make_seq(binlog_file: str, offset: int) -> int:
    if not 0 <= offset < (1 << OFFSET_BITS):
        raise ValueError(f"binlog offset {offset} out of range")
    return (file_index(binlog_file) << OFFSET_BITS) | offset


@dataclass(frozen=True, order=True)
class BinlogPosition:
    """A position between two events. Ordered by (file index, offset)."""

    file: str
    pos: int

    @property
    def seq(self) -> int:
        return make_seq(self.file, self.pos)

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}"

    def at_or_after(self, other: BinlogPosition) -> bool:
        return self.seq >= other.seq
