"""``verify``'s pure part: ranges and their descent, values compared here, rows compared, the report.

A table is walked by its range key in ranges of a power-of-two width, so that each range splits
exactly into ``FANOUT`` smaller ones; a range whose count and digest sum differ between the source
and the target is split until it holds few enough rows to compare row by row (docs/ARCHITECTURE.md,
"Verify"). No I/O here.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from s3rb_stream.core.schema import SourceColumn, column_converter, narrowed_scale

# Rows per range of the first level, about: a thousand ranges for a million rows cost ~40 KB a side,
# and a few differences spread over the table then mean re-reading few rows, not most of them.
RANGE_ROWS = 1_024
FANOUT = 64  # a differing range splits into this many
# A range this small (on both sides) is compared row by row. Smaller for an integer key: one more
# level is an index range read there, where for a hashed key it is a scan of the table.
LEAF_ROWS = {"integer": 16, "hashed": 256}
SHOWN = 10  # keys shown per kind of difference

Kind = Literal["missing", "extra", "differs"]
KIND_WORDS: dict[str, str] = {
    "missing": "missing in the target",
    "extra": "extra in the target",
    "differs": "values differ",
}


@dataclass(frozen=True)
class RangeSum:
    count: int
    total: int


Sums = dict[int, RangeSum]  # range number → its count and digest sum


@dataclass(frozen=True)
class Level:
    """Ranges of one width: range ``r`` holds range keys in ``[low + r·width, low + (r+1)·width)``."""

    low: int
    width: int

    def span(self, r: int) -> tuple[int, int]:
        return self.low + r * self.width, self.low + (r + 1) * self.width

    def finer(self) -> Level:
        return Level(self.low, max(1, self.width // FANOUT))


def first_level(low: int, high: int, rows: int) -> Level:
    """Ranges over ``[low, high]`` of about :data:`RANGE_ROWS` rows each, their width a power of two."""
    wanted = max(1, rows // RANGE_ROWS)
    width = max(1, (high - low + 1 + wanted - 1) // wanted)
    return Level(low, 1 << (width - 1).bit_length())


def as_int(value: Any) -> int:
    """A count or sum as a database returns it: an int, a Decimal, or text-protocol bytes."""
    if isinstance(value, (bytes, bytearray)):
        return int(value)
    return int(value) if value is not None else 0


def sums_of(rows: Iterable[Sequence[Any]]) -> Sums:
    """``(range, count, sum)`` rows → :data:`Sums`."""
    return {as_int(r): RangeSum(as_int(c), as_int(t)) for r, c, t in rows}


def differing(source: Sums, target: Sums) -> list[int]:
    return sorted(r for r in source.keys() | target.keys() if source.get(r) != target.get(r))


def text(value: Any) -> str | None:
    """A rendered value as text: the source sends bytes, the target str."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def canonical(col: SourceColumn, value: Any) -> str | None:
    """A fetched column's value in one form, from either side: a float by its bits at the column's
    width, JSON parsed and printed again, a fitted DECIMAL as the column's policy fits it."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8")
    dt = col.data_type.lower()
    if dt == "float":
        return repr(struct.unpack("<f", struct.pack("<f", float(value)))[0])
    if dt in ("double", "real"):
        return repr(float(value))
    if dt == "json":
        document = json.loads(value) if isinstance(value, str) else value
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if dt == "decimal":
        fitted = _fitter(col)(value if isinstance(value, Decimal) else Decimal(str(value)))
        if fitted is None:
            return None
        scale = narrowed_scale(col.precision or 10, col.scale or 0)  # every digit, no sign on zero
        return f"{fitted if fitted else fitted.copy_abs():.{scale}f}"
    return str(value)


@lru_cache(maxsize=256)
def _fitter(col: SourceColumn) -> Callable[[Any], Any]:
    """The column's own converter, once per column (it warns once of what its policy did)."""
    return column_converter(col)


def digest(*parts: str | None) -> int:
    """The digest of values compared here (the same on both sides), 60 bits like the databases'."""
    blob = "\x1f".join("\x00N" if p is None else p for p in parts).encode()
    return int(hashlib.md5(blob, usedforsecurity=False).hexdigest()[:15], 16)


@dataclass(frozen=True)
class Row:
    """A row as compared: its range key, its values as text (rendered or canonical), and on the
    target its sequence."""

    range_key: int
    values: tuple[str | None, ...]
    seq: int | None = None
    recent: bool = False  # a source row not yet synced (hybrid): in flight


@dataclass(frozen=True)
class Difference:
    kind: Kind
    key: tuple[str | None, ...]  # the key columns' values, rendered
    range_key: int
    columns: tuple[str, ...] = ()  # for "differs": the columns whose values differ

    def describe(self, key_columns: Sequence[str]) -> str:
        key = ", ".join(f"{c}={v if v is not None else 'NULL'}" for c, v in zip(key_columns, self.key, strict=True))
        return key + (f" (columns: {', '.join(self.columns)})" if self.columns else "")


@dataclass
class Compared:
    differences: list[Difference] = field(default_factory=list)
    in_flight: int = 0  # keys the target holds from a change after the source's position


def compare_rows(
    columns: Sequence[str],
    key_indexes: Sequence[int],
    source: Iterable[Row],
    target: Iterable[Row],
    seq_limit: int,
    only: set[tuple[str | None, ...]] | None = None,
) -> Compared:
    """Rows of one stretch of ranges on both sides → their differences. A target row whose
    sequence is above ``seq_limit`` (the source's position) came from a later change: it is in
    flight, not a difference. ``only``: compare these keys alone (a re-check)."""

    result = Compared()

    def keyed(rows: Iterable[Row]) -> dict[tuple[str | None, ...], Row]:
        out: dict[tuple[str | None, ...], Row] = {}
        for row in rows:
            key = tuple(row.values[i] for i in key_indexes)
            if only is not None and key not in only:
                continue
            if key in out:  # a second row of one key (two current versions): one too many
                result.differences.append(Difference("extra", key, row.range_key))
            out[key] = row
        return out

    src, tgt = keyed(source), keyed(target)

    def order(key: tuple[str | None, ...]) -> tuple[int, tuple[str, ...]]:  # by range: an integer key by value
        row = src.get(key) or tgt[key]
        return row.range_key, tuple("" if v is None else v for v in key)

    for key in sorted(src.keys() | tgt.keys(), key=order):
        s, t = src.get(key), tgt.get(key)
        if (t is not None and t.seq is not None and t.seq > seq_limit) or (s is not None and s.recent):
            result.in_flight += 1
        elif t is None and s is not None:
            result.differences.append(Difference("missing", key, s.range_key))
        elif s is None and t is not None:
            result.differences.append(Difference("extra", key, t.range_key))
        elif s is not None and t is not None and s.values != t.values:
            changed = tuple(c for c, a, b in zip(columns, s.values, t.values, strict=True) if a != b)
            result.differences.append(Difference("differs", key, s.range_key, changed))
    return result


@dataclass
class TableReport:
    """What verify found for one table."""

    table: str
    key_columns: tuple[str, ...]
    rows_source: int = 0
    rows_target: int = 0
    ranges: int = 0  # ranges compared, at every level
    rows_compared: int = 0  # rows fetched to be compared one by one
    in_flight: int = 0
    rounds: int = 0  # re-checks of what differed at a later position
    differences: list[Difference] = field(default_factory=list)
    repaired: int | None = None  # keys written by --repair
    not_repaired: str = ""  # why --repair left the differences
    kept_deleted: int = 0  # hybrid: rows deleted at the source, which it cannot see, still in the target
    bytes_source: int = 0
    bytes_target: int = 0
    seconds: float = 0.0
    seconds_source: float = 0.0  # in the source's queries
    seconds_target: float = 0.0  # in the target's queries (beside the source's)
    seconds_waiting: float = 0.0  # for the target to be complete up to each round's position
    position: str = ""
    skipped: str = ""  # why the table was not verified
    sampled: str = ""  # a scheduled verify's share of the ranges ("" : all of them)

    def by_kind(self) -> dict[str, list[Difference]]:
        out: dict[str, list[Difference]] = {k: [] for k in KIND_WORDS}
        for d in self.differences:
            out[d.kind].append(d)
        return out

    def to_json(self) -> dict[str, Any]:
        kinds = self.by_kind()
        return {
            "table": self.table,
            "equal": not self.differences and not self.skipped,
            "skipped": self.skipped or None,
            "position": self.position,
            "rows_source": self.rows_source,
            "rows_target": self.rows_target,
            "ranges_compared": self.ranges,
            "rows_compared": self.rows_compared,
            "in_flight": self.in_flight,
            "kept_after_delete_at_source": self.kept_deleted,
            "rechecks": self.rounds,
            "sampled": self.sampled or None,
            "repaired": self.repaired,
            "not_repaired": self.not_repaired or None,
            "bytes_read": {"source": self.bytes_source, "target": self.bytes_target},
            "seconds": {
                "total": round(self.seconds, 3),
                "source_queries": round(self.seconds_source, 3),
                "target_queries": round(self.seconds_target, 3),
                "waiting_for_the_target": round(self.seconds_waiting, 3),
            },
            "differences": {
                kind: {
                    "count": len(found),
                    "first": [
                        {"key": dict(zip(self.key_columns, d.key, strict=True)), "columns": list(d.columns)}
                        for d in found[:SHOWN]
                    ],
                }
                for kind, found in kinds.items()
            },
        }

    def lines(self) -> list[str]:
        if self.skipped:
            return [f"{self.table}: not verified: {self.skipped}"]
        out = [f"  not repaired: {self.not_repaired}"] if self.not_repaired else []
        for kind, found in self.by_kind().items():
            if found:
                out.append(f"  {KIND_WORDS[kind]}: {len(found):,}")
                out += [f"    {d.describe(self.key_columns)}" for d in found[:SHOWN]]
                if len(found) > SHOWN:
                    out.append(f"    … and {len(found) - SHOWN:,} more")
        return out


def rows_bytes(rows: Iterable[Sequence[Any]]) -> int:
    """About what a result set weighs on the wire: its text and bytes, 8 per other value."""
    total = 0
    for row in rows:
        for v in row:
            total += len(v) if isinstance(v, (bytes, str, bytearray)) else 8
    return total
