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
from functools import lru_cache

from s3rb_stream.core.gtid import boundary_seq

_FILE_INDEX = re.compile(r"\.(\d+)$")
OFFSET_BITS = 32
MAX_FILE_INDEX = (1 << (63 - OFFSET_BITS)) - 1


@lru_cache(maxsize=64)
def file_index(binlog_file: str) -> int:
    """``mariadb-bin.000042`` → 42 (cached: every position comparison asks)."""
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


@dataclass(frozen=True)
class BinlogPosition:
    """A position between two events, ordered by :attr:`seq`.

    With GTID positioning it also carries the GTID state there and its ordinal, and the sequence
    comes from the ordinal (see :mod:`s3rb_stream.core.gtid`): file and offset are then only
    where this server happens to keep it.
    """

    file: str
    pos: int
    gtid: str | None = None
    ordinal: int | None = None

    @property
    def seq(self) -> int:
        if self.ordinal is not None:
            return boundary_seq(self.ordinal)
        return make_seq(self.file, self.pos)

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}" + (f" (GTID {self.gtid or 'empty'})" if self.ordinal is not None else "")

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"file": self.file, "pos": self.pos}
        if self.ordinal is not None:
            out |= {"gtid": self.gtid, "gtid_ordinal": self.ordinal}
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, object], file_key: str = "file", pos_key: str = "pos") -> BinlogPosition:
        ordinal = raw.get("gtid_ordinal")
        return cls(
            str(raw[file_key]),
            int(str(raw[pos_key])),
            str(raw["gtid"] or "") if ordinal is not None else None,
            int(str(ordinal)) if ordinal is not None else None,
        )

    def at_or_after(self, other: BinlogPosition) -> bool:
        return self.seq >= other.seq
