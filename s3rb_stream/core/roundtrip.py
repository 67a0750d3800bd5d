"""The sample that ``check --warehouse-roundtrip`` sends through a user's own warehouse.

One table with a column of every type of the contract (core.schema), named in mixed case, with a
JSON column; rows at the edges of each type; a second batch that updates, deletes and inserts, and
adds a column; an SCD2 table with a JSON column. Values are what capture would write: Arrow-ready,
so the check exercises the same Parquet, COPY and MERGE as a real load. Pure: no I/O here.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.schema import SourceColumn, SourceTable, arrow_type

TABLE = "RoundTrip"
HISTORY = "RoundTripHistory"
COMMITTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _col(name: str, column_type: str, **kw: Any) -> SourceColumn:
    return SourceColumn(name, column_type.split("(")[0].split()[0].lower(), column_type.lower(), **kw)


COLUMNS = (
    _col("id", "int", nullable=False),
    _col("tinyInt", "tinyint"),
    _col("tinyUnsigned", "tinyint unsigned"),
    _col("smallUnsigned", "smallint unsigned"),
    _col("mediumInt", "mediumint"),
    _col("intUnsigned", "int unsigned"),
    _col("bigInt", "bigint"),
    _col("bigUnsigned", "bigint unsigned"),
    _col("money", "decimal(10,2)", precision=10, scale=2),
    _col("decimal38", "decimal(38,10)", precision=38, scale=10),
    _col("decimal65", "decimal(65,30)", precision=65, scale=30),
    _col("float32", "float"),
    _col("float64", "double"),
    _col("bit1", "bit(1)", precision=1),
    _col("bit64", "bit(64)", precision=64),
    _col("year", "year"),
    _col("day", "date"),
    _col("createdAt", "datetime(6)", datetime_precision=6),
    _col("changedAt", "timestamp(6)", datetime_precision=6),
    _col("duration", "time(6)", datetime_precision=6),
    _col("code", "char(4)", char_length=4),
    _col("name", "varchar(20)", char_length=20),
    _col("body", "text", char_length=65535),
    _col("kind", "enum('a','b')", char_length=1),
    _col("flags", "set('x','y','z')", char_length=5),
    _col("doc", "json"),
    _col("fixed", "binary(4)", char_length=4),
    _col("bytes", "varbinary(10)", char_length=10),
    _col("blob", "blob", char_length=65535),
)
ADDED = _col("addedLater", "varchar(8)", char_length=8)

D38 = "9" * 28 + "." + "9" * 10
D65 = "9" * 35 + "." + "9" * 30


def _f32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


MINIMUM = (
    1, -128, 0, 0, -8388608, 0, -9223372036854775808, Decimal(0), Decimal("-99999999.99"), Decimal("-" + D38),
    "-" + D65, _f32(-3.40282e38), -1.7976931348623157e308, 0, Decimal(0), 1901, date(1000, 1, 1),
    datetime(1000, 1, 1), datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), "-838:59:59.000000", "", "", "", "a", "",
    "[]", b"\x00\x00\x00\x00", b"", b"",
)  # fmt: skip
MAXIMUM = (
    2, 127, 255, 65535, 8388607, 4294967295, 9223372036854775807, Decimal(18446744073709551615),
    Decimal("99999999.99"), Decimal(D38), D65, _f32(3.40282e38), 1.7976931348623157e308, 1, Decimal(2**64 - 1),
    2155, date(9999, 12, 31), datetime(9999, 12, 31, 23, 59, 59, 999999),
    datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC), "838:59:59.000000", "zzzz", "😀" * 20, "ü" * 1000, "b",
    "x,y,z", '{"k": [1, 2.5, null, true], "ü": "😀", "nested": {"a": []}}', b"\xff\xff\xff\xff",
    b"\x00\xff" * 5, bytes(range(256)),
)  # fmt: skip
NULLS = (3, *[None] * (len(COLUMNS) - 1))
UPDATED = (2, *MAXIMUM[1:21], "renamed", *MAXIMUM[22:25], '{"changed": true}', *MAXIMUM[26:])
INSERTED = (4, *[None] * (len(COLUMNS) - 1))


def table() -> SourceTable:
    return SourceTable("s3rb_check", TABLE, COLUMNS, ("id",))


def evolved() -> SourceTable:
    """The table after the source added a column: its second batch carries it."""
    return SourceTable("s3rb_check", TABLE, (*COLUMNS, ADDED), ("id",))


def history() -> SourceTable:
    columns = (_col("id", "int", nullable=False), _col("tier", "varchar(8)", char_length=8), _col("profile", "json"))
    return SourceTable("s3rb_check", HISTORY, columns, ("id",))


def first_batch(seq: int) -> list[Change]:
    return [Change(Op.INSERT, seq + i, COMMITTED, row) for i, row in enumerate((MINIMUM, MAXIMUM, NULLS))]


def second_batch(seq: int) -> list[Change]:
    """An update (MERGE's matched branch), a delete and an insert, with the added column."""
    return [
        Change(Op.UPDATE, seq, COMMITTED, (*UPDATED, "new")),
        Change(Op.DELETE, seq + 1, COMMITTED, (*NULLS, None)),
        Change(Op.INSERT, seq + 2, COMMITTED, (*INSERTED, "ünï")),
    ]


def expected_rows() -> list[tuple[Any, ...]]:
    """The target after both batches, in key order, in table column order."""
    return [(*MINIMUM, None), (*UPDATED, "new"), (*INSERTED, "ünï")]


def history_batches(seq: int) -> list[list[Change]]:
    """Two versions of one key: the tracked JSON changes between them."""
    first = [Change(Op.INSERT, seq, COMMITTED, (1, "gold", '{"since": 2020}'))]
    later = datetime(2026, 1, 3, tzinfo=UTC)
    second = [Change(Op.UPDATE, seq + 1, later, (1, "gold", '{"since": 2021}'))]
    return [first, second]


def normalise(value: Any, column: SourceColumn | None = None) -> Any:
    """A value read back from either warehouse, in the form the sample holds it."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    is_json = column is not None and column.data_type == "json"
    is_binary = column is not None and arrow_type(column) == pa.binary()
    if is_binary and isinstance(value, str):  # the driver may hand VARBYTE over as hex text
        return bytes.fromhex(value[2:] if value.startswith("\\x") else value)
    if is_json and isinstance(value, str):
        return json.loads(value)
    if is_json and value is not None:
        return value  # a driver that parsed it already
    return value


def expected_value(value: Any, column: SourceColumn) -> Any:
    if column.data_type == "json" and isinstance(value, str):
        return json.loads(value)
    return value


def differences(got: list[tuple[Any, ...]], columns: tuple[SourceColumn, ...]) -> list[str]:
    """Every value that did not come back as written: ``row <id>, column <name>: got ..., wrote ...``."""
    want = expected_rows()
    if len(got) != len(want):
        return [f"{len(got)} rows came back, {len(want)} expected"]
    out = []
    for row, expect in zip(got, want, strict=True):
        for column, value, wanted in zip(columns, row, expect, strict=True):
            have, should = normalise(value, column), expected_value(wanted, column)
            if have != should:
                out.append(f"row {expect[0]}, column {column.name}: got {have!r:.80}, wrote {should!r:.80}")
    return out
