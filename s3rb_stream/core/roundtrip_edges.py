"""The roundtrip check's edge cases: what only a real cluster settles (docs/ARCHITECTURE.md, "The
roundtrip check"), each a small table, its batches and the rows it must end with. Pure: no I/O.

- the cluster: its version (MERGE with a subquery source needs patch 183) and isolation level;
- a table whose name object keys percent-encode (non-ASCII, a space, ``%``), through COPY's manifest;
- a manifest of several objects, one of which updates a row of another;
- the fence: a claim, a fenced load, a newer claim, and a load under the old generation refused;
- DDL that Redshift restricts: a VARCHAR widened, a column renamed, a column added with a default,
  a column that has a default rebuilt wider;
- values at and over the VARCHAR and VARBYTE limits, fitted by the ``truncate`` policy;
- text keys that differ only by trailing blanks, which Redshift's comparison ignores;
- soft deletes: a delete kept as a marked row, and an extract's sweep marking rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.overflow import truncate_utf8
from s3rb_stream.core.roundtrip import normalise
from s3rb_stream.core.schema import SourceColumn, SourceTable

DB = "s3rb_check"
COMMITTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# "Cluster versions for Amazon Redshift": patch 183 (1.0.72982; Serverless 1.0.73016) added
# subqueries as the source of MERGE, which every merge load uses.
MERGE_SUBQUERY_BUILD = 72982
_REDSHIFT_VERSION = re.compile(r"Redshift (\d+)\.(\d+)\.(\d+)")


def col(name: str, column_type: str, **kw: Any) -> SourceColumn:
    return SourceColumn(name, column_type.split("(")[0].split()[0].lower(), column_type.lower(), **kw)


def changes(seq: int, *rows: tuple[Any, ...], op: Op = Op.INSERT) -> list[Change]:
    return [Change(op, seq + i, COMMITTED, row) for i, row in enumerate(rows)]


# --------------------------------------------------------------------------- the cluster


def cluster_version(version_text: str) -> str | None:
    """``1.0.72982`` from what Redshift's ``SELECT version()`` says, or None."""
    match = _REDSHIFT_VERSION.search(version_text)
    return ".".join(match.groups()) if match else None


def version_problem(version_text: str) -> str | None:
    """Why this Redshift cannot run the loads, or None."""
    version = cluster_version(version_text)
    if version is None:
        return f"SELECT version() names no Redshift cluster version: {version_text!r}"
    if int(version.split(".")[2]) < MERGE_SUBQUERY_BUILD:
        return (
            f"cluster version {version} is older than patch 183 (1.0.{MERGE_SUBQUERY_BUILD}), which MERGE with a"
            " subquery source needs: let the cluster take its pending maintenance (or move it to the current track)"
        )
    return None


# --------------------------------------------------------------------------- names COPY must take

ENCODED = SourceTable(
    DB, "Straße 50%", (col("id", "int", nullable=False), col("label", "varchar(8)", char_length=8)), ("id",)
)
ENCODED_ROWS = [(1, "ß"), (2, "50%")]

# --------------------------------------------------------------------------- one manifest, several objects

PARTS = SourceTable(
    DB, "RoundTripParts", (col("id", "int", nullable=False), col("label", "varchar(8)", char_length=8)), ("id",)
)


def parts_batches(seq: int) -> list[list[Change]]:
    """Three objects for one COPY; the third updates a row of the first."""
    return [
        changes(seq, (1, "one"), (2, "two")),
        changes(seq + 10, (3, "three")),
        changes(seq + 20, (1, "uno"), op=Op.UPDATE),
    ]


PARTS_ROWS = [(1, "uno"), (2, "two"), (3, "three")]

# --------------------------------------------------------------------------- the fence

FENCED = SourceTable(DB, "RoundTripFence", (col("id", "int", nullable=False), col("v", "int")), ("id",))
FENCED_ROWS = [(1, 10), (2, 20)]  # the first load and the newer holder's; never the stale one's (1, 99)


def fenced_batches(seq: int) -> tuple[list[Change], list[Change], list[Change]]:
    """A load under the first generation, one under it again after a newer claim, one under the newer."""
    return changes(seq, (1, 10)), changes(seq + 10, (1, 99), op=Op.UPDATE), changes(seq + 20, (2, 20))


# --------------------------------------------------------------------------- DDL Redshift restricts

EVOLVE_BEFORE = SourceTable(
    DB,
    "RoundTripEvolve",
    (
        col("id", "int", nullable=False),
        col("name", "varchar(4)", char_length=4),
        col("oldName", "varchar(4)", char_length=4),
    ),
    ("id",),
)
# A column an older release added with a DEFAULT, which Redshift never lets ALTER COLUMN TYPE widen.
LEGACY = "legacy"
LEGACY_TYPE = "VARCHAR(16)"
LEGACY_DEFAULT = "old"
EVOLVE_AFTER = SourceTable(
    DB,
    "RoundTripEvolve",
    (
        col("id", "int", nullable=False),
        col("name", "varchar(40)", char_length=40),  # widened: ALTER COLUMN TYPE, outside a transaction
        col("newName", "varchar(4)", char_length=4, renamed_from="oldName"),  # renamed
        col(LEGACY, "varchar(40)", char_length=40),  # has a default in the target: rebuilt wider
        col("added", "varchar(8)", char_length=8, default="'dflt'"),  # added with a default: backfilled
    ),
    ("id",),
)
EVOLVE_FIRST = (1, "abcd", "ab")
EVOLVE_SECOND = (2, "ü" * 40, "cd", "ü" * 40, "x")
EVOLVE_ROWS = [(1, "abcd", "ab", LEGACY_DEFAULT, "dflt"), (2, "ü" * 40, "cd", "ü" * 40, "x")]

# --------------------------------------------------------------------------- values at the limits

LIMITS = SourceTable(
    DB,
    "RoundTripLimits",
    (
        col("id", "int", nullable=False),
        col("text", "longtext", char_length=4294967295),
        col("bytes", "longblob", char_length=4294967295),
    ),
    ("id",),
)
VARCHAR_LIMIT, VARBYTE_LIMIT = 65535, 1_024_000  # as sql.redshift creates them
LIMITS_WRITTEN = [
    (1, "ü" * 32767 + "a", b"\x01" * VARBYTE_LIMIT),  # exactly at both limits
    (2, "ü" * 32768, b"\x02" * (VARBYTE_LIMIT + 1)),  # one byte over each: cut, the text on a character
]


def limits_expected(limits: Mapping[str, int]) -> list[tuple[Any, ...]]:
    """The rows as a target with these byte ``limits`` holds them under the ``truncate`` policy."""
    text, data = limits.get("text"), limits.get("bytes")
    return [
        (
            i,
            truncate_utf8(t, text) if text is not None else t,
            b[:data] if data is not None else b,
        )
        for i, t, b in LIMITS_WRITTEN
    ]


# --------------------------------------------------------------------------- trailing blanks

BLANKS = SourceTable(
    DB,
    "RoundTripBlanks",
    (col("code", "varchar(8)", nullable=False, char_length=8), col("n", "int")),
    ("code",),
)


def blanks_batches(seq: int) -> tuple[list[Change], list[Change]]:
    """Two keys a NO PAD collation tells apart; then an update of the one with the blank."""
    return changes(seq, ("a", 1), ("a ", 2)), changes(seq + 10, ("a ", 20), op=Op.UPDATE)


BLANKS_ROWS = [("a", 1), ("a ", 20)]


# --------------------------------------------------------------------------- soft deletes

SOFT = SourceTable(
    DB, "RoundTripSoft", (col("id", "int", nullable=False), col("label", "varchar(8)", char_length=8)), ("id",)
)
SWEPT_AT = datetime(2026, 1, 3, tzinfo=UTC)  # when the extract read the table


def soft_batches(seq: int) -> tuple[list[Change], list[Change], list[Change], tuple[int, datetime]]:
    """Three rows; a delete of the second; an extract that sees the first only, and its sweep
    (below its sequence, at its read time)."""
    extract = [Change(Op.SNAPSHOT, seq + 100, SWEPT_AT, (1, "a"))]
    return (
        changes(seq, (1, "a"), (2, "b"), (3, "c")),
        changes(seq + 10, (2, "b"), op=Op.DELETE),
        extract,
        (seq + 100, SWEPT_AT),
    )


def soft_problem(got: Sequence[tuple[Any, ...]]) -> str | None:
    """What is wrong with (id, _s3rb_op, _s3rb_deleted_at) after :func:`soft_batches`, or None."""
    want = [(1, "r", None), (2, "d", COMMITTED), (3, "d", SWEPT_AT)]
    have = [(int(i), str(op), _utc(at)) for i, op, at in got]
    return None if have == want else f"got {have!r}, expected {want!r}"


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


# --------------------------------------------------------------------------- comparing


def row_differences(
    got: Sequence[tuple[Any, ...]], want: Sequence[tuple[Any, ...]], columns: tuple[SourceColumn, ...]
) -> list[str]:
    """Every value that did not come back as expected, briefly: ``row 2, column text: got 65534
    bytes ..., expected ...``."""
    if len(got) != len(want):
        return [f"{len(got)} rows came back, {len(want)} expected: {got!r:.200}"]
    out = []
    for row, expect in zip(got, want, strict=True):
        for column, value, wanted in zip(columns, row, expect, strict=True):
            have = normalise(value, column)
            if have != wanted:
                out.append(f"row {expect[0]!r}, column {column.name}: got {_brief(have)}, expected {_brief(wanted)}")
    return out


def _brief(value: Any) -> str:
    if isinstance(value, (str, bytes)) and len(value) > 40:
        size = len(value.encode()) if isinstance(value, str) else len(value)
        return f"{size} bytes ({value[:12]!r}...)"
    return repr(value)
