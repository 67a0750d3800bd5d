"""Column values as the MySQL text protocol sends them (bytes) → Arrow arrays of the type contract.

Query-based reads (snapshot, hybrid, full_sync) take this path: whole columns are parsed by
Arrow's casts in C instead of one Python object per value, which is what makes a snapshot fast.
The result must equal what the binlog path (``schema.column_converter``) produces for the same
row; the differential tests hold the two together.

The reading session runs with ``time_zone = '+00:00'``, so TIMESTAMP text is already UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from s3rb_stream import speedups
from s3rb_stream.core.schema import MAX_ARROW_DECIMAL, SourceColumn, arrow_type, column_converter
from s3rb_stream.errors import SchemaError

TextValue = bytes | str | None  # the client decodes text columns to str, leaves the rest bytes

# MySQL's zero dates ('0000-00-00', '2026-00-00', '2026-01-00') are not dates; they arrive as NULL,
# as the binlog reader gives them.
_ZERO_DATE = r"^\d{4}-(00-\d{2}|\d{2}-00)|^0000-"
_PARSED_FROM_TEXT = {
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year", "decimal", "float", "double", "real",
}  # fmt: skip
_DATES = {"date", "datetime", "timestamp"}


def _text(values: Sequence[TextValue]) -> pa.Array:
    return pa.array(values, pa.string())


def as_bytes(value: TextValue) -> bytes | None:
    """A text-protocol value as bytes (text as UTF-8), for keeping it in state objects."""
    return value.encode() if isinstance(value, str) else value


def _without_zero_dates(text: pa.Array) -> pa.Array:
    zero = pc.match_substring_regex(text, _ZERO_DATE)
    return pc.if_else(zero, pa.scalar(None, pa.string()), text)


def _bit(values: Sequence[TextValue]) -> list[int | None]:
    return [int.from_bytes(as_bytes(v) or b"", "big") if v is not None else None for v in values]


def _raw_type(col: SourceColumn) -> pa.DataType:
    """How a column's text-protocol values enter Arrow before conversion: bytes or UTF-8 text."""
    return pa.binary() if col.data_type.lower() == "bit" or pa.types.is_binary(arrow_type(col)) else pa.string()


def convert_array(col: SourceColumn, raw: pa.Array) -> pa.Array:
    """A column of raw values (see :func:`_raw_type`) as an Arrow array of ``arrow_type(col)``."""
    target = arrow_type(col)
    dt = col.data_type.lower()
    try:
        if dt == "bit":
            return pa.array(_bit(raw.to_pylist()), target)
        if dt == "decimal" and pa.types.is_decimal(target) and (col.precision or 10) > MAX_ARROW_DECIMAL:
            fit = column_converter(col)  # the same policy as the binlog path, value by value
            return pa.array([fit(Decimal(v)) if v is not None else None for v in raw.to_pylist()], target)
        if pa.types.is_binary(target) or dt not in _DATES | _PARSED_FROM_TEXT:
            return raw
        if dt in _DATES:
            text = _without_zero_dates(raw)
            if dt == "date":
                return text.cast(pa.date32())
            return text.cast(pa.timestamp("us")).cast(target)  # TIMESTAMP: the session is UTC
        return raw.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(
            f"values of column {col.name} ({col.column_type}) do not convert to {target}: {exc}",
            "this is a bug in the type mapping; please report it with the column definition",
        ) from None


def column_to_arrow(col: SourceColumn, values: Sequence[TextValue]) -> pa.Array:
    """One column of text-protocol values as an Arrow array of ``arrow_type(col)``."""
    return convert_array(col, pa.array(values, _raw_type(col)))


def rows_to_arrays(
    columns: Sequence[SourceColumn], rows: Sequence[Sequence[TextValue]], compiled: bool = True
) -> list[pa.Array]:
    """Rows of text values (in ``columns`` order) as one Arrow array per column.

    Each column's raw values are copied into Arrow buffers in C by the compiled speed-up where it
    is built (``compiled``; see docs/ARCHITECTURE.md, "Throughput"); otherwise, or where it
    declines, the rows go into Arrow as one struct array (the reference), transposed in C++.
    """
    if not rows:
        return [pa.array([], arrow_type(c)) for c in columns]
    fast = speedups.compiled if compiled else None
    raws = _compiled_raws(fast, rows, columns) if fast is not None and isinstance(rows, list) else None
    if raws is None:
        struct = pa.array(rows, pa.struct([pa.field(f"c{i}", _raw_type(c)) for i, c in enumerate(columns)]))
        raws = struct.flatten()
    return [convert_array(c, a) for c, a in zip(columns, raws, strict=True)]


def _compiled_raws(fast: Any, rows: list[Any], columns: Sequence[SourceColumn]) -> list[pa.Array] | None:
    """Every column's raw values as Arrow arrays built in C, or None where any column is declined."""
    types = [_raw_type(c) for c in columns]
    kinds = [fast.COLUMN_KINDS["binary" if pa.types.is_binary(t) else "string"] for t in types]
    built = fast.columns_buffers(rows, list(enumerate(kinds)), False)
    if any(got is None for got in built):
        return None
    arrays = []
    for raw_type, got in zip(types, built, strict=True):
        array = speedups.arrow_array(raw_type, len(rows), got)
        *_, saw_bytes = got
        if saw_bytes:  # bytes in a text column: pyarrow's conversion refuses what is not UTF-8
            try:
                array.validate(full=True)
            except pa.ArrowInvalid:
                return None
        arrays.append(array)
    return arrays
