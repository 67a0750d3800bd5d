"""Source table definitions and the one MySQL → Arrow type contract.

The binlog path and (later) the snapshot path both turn values into Arrow-ready Python values
through :func:`column_converter`, so both land identical values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from s3rb_stream.errors import CorruptStateError, SchemaError, listed
from s3rb_stream.log import get_logger

log = get_logger(__name__)

META_COLUMNS: tuple[str, ...] = ("_s3rb_seq", "_s3rb_op", "_s3rb_source_ts")
# The target's own column on soft-delete tables, after the source's and the META_COLUMNS (never in
# a batch object): the source's delete time, NULL while the row lives (docs/ARCHITECTURE.md, "Deletes").
DELETED_AT = "_s3rb_deleted_at"
MAX_ARROW_DECIMAL = 38
MAX_DECIMAL_DIGITS = 65  # MySQL's DECIMAL precision limit

MAX_BIT_IN_BIGINT = 63
# (signed, unsigned) → Arrow. Parquet objects carry only signed types wide enough for the column's
# whole range, each the exact type of the Redshift column it is copied into: Redshift has no
# unsigned or 1-byte integers, and its COPY maps Parquet columns by position and physical type,
# so an unsigned annotation is nothing to rely on (4294967295 must not arrive as -1).
_INT_TYPES = {
    "tinyint": (pa.int16(), pa.int16()),
    "smallint": (pa.int16(), pa.int32()),
    "mediumint": (pa.int32(), pa.int32()),
    "int": (pa.int32(), pa.int64()),
    "integer": (pa.int32(), pa.int64()),
    "bigint": (pa.int64(), pa.decimal128(20, 0)),
}
_STRING_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json", "time"}
_BINARY_TYPES = {
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "vector",  # MySQL 9: its float32 values as stored, little-endian (docs/mysql.md)
}


@dataclass(frozen=True)
class SourceColumn:
    """A column as ``information_schema.COLUMNS`` describes it."""

    name: str
    data_type: str  # lower case, e.g. "int", "varchar"
    column_type: str  # full, e.g. "int(10) unsigned", "enum('a','b')"
    nullable: bool = True
    char_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    datetime_precision: int | None = None
    default: str | None = field(default=None, compare=False)  # COLUMN_DEFAULT as the server shows it
    renamed_from: str | None = field(default=None, compare=False)  # set when capture followed a rename
    # DECIMAL wider than 38 digits: "widen" (exact text) or, to keep a number, "fail", "truncate"
    # (toward zero, to the scale that fits) or "null" for a value that does not fit DECIMAL(38, s).
    decimal_overflow: str | None = None

    @property
    def unsigned(self) -> bool:
        """From the words after the type's parentheses (not ENUM members); ZEROFILL implies UNSIGNED."""
        attributes = self.column_type.lower().rsplit(")", 1)[-1]
        return "unsigned" in attributes or "zerofill" in attributes

    @property
    def set_members(self) -> tuple[str, ...]:
        """Members of an ENUM or SET, in definition order."""
        inner = self.column_type[self.column_type.index("(") + 1 : self.column_type.rindex(")")]
        return tuple(m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", inner))


@dataclass(frozen=True)
class SourceTable:
    """A configured source table: columns in ordinal order and the key used to merge."""

    database: str
    name: str
    columns: tuple[SourceColumn, ...]
    key_columns: tuple[str, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({c.name: i for i, c in enumerate(self.columns)})

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def position(self, column: str) -> int:
        return self._index[column]

    def with_key(self, key_columns: Sequence[str]) -> SourceTable:
        missing = [k for k in key_columns if k not in self._index]
        if missing:
            raise SchemaError(
                f"key_columns {listed(missing)} of {self.database}.{self.name} are not columns of the table",
                f"columns are: {', '.join(self.column_names)}",
            )
        return SourceTable(self.database, self.name, self.columns, tuple(key_columns))


def arrow_type(col: SourceColumn) -> pa.DataType:
    """The Arrow/Parquet type that holds every value of ``col`` exactly."""
    dt = col.data_type.lower()
    if dt in _INT_TYPES:
        signed, unsigned = _INT_TYPES[dt]
        return unsigned if col.unsigned else signed
    if dt == "decimal":
        precision, scale = col.precision or 10, col.scale or 0
        if precision <= MAX_ARROW_DECIMAL:
            return pa.decimal128(precision, scale)
        if col.decimal_overflow in (None, "widen"):
            return pa.string()  # exact text
        return pa.decimal128(MAX_ARROW_DECIMAL, narrowed_scale(precision, scale))
    if dt == "float":
        return pa.float32()
    if dt == "double" or dt == "real":
        return pa.float64()
    if dt == "bit":
        return pa.int64() if (col.precision or 1) <= MAX_BIT_IN_BIGINT else pa.decimal128(20, 0)
    if dt == "year":
        return pa.int16()
    if dt == "date":
        return pa.date32()
    if dt == "datetime":
        return pa.timestamp("us")
    if dt == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if dt in _STRING_TYPES:
        return pa.string()
    if dt in _BINARY_TYPES:
        return pa.binary()
    raise SchemaError(f"column {col.name} has type {col.column_type}, which is not supported yet")


DEFINITION_KEY = b"s3rb.table"


def arrow_schema(table: SourceTable) -> pa.Schema:
    """The batch schema; its metadata carries the table definition the batch was written with."""
    fields = [pa.field(c.name, arrow_type(c), nullable=True) for c in table.columns]
    fields += [
        pa.field("_s3rb_seq", pa.int64(), nullable=False),
        pa.field("_s3rb_op", pa.string(), nullable=False),
        pa.field("_s3rb_source_ts", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
    return pa.schema(fields, metadata={DEFINITION_KEY: table_to_json(table).encode()})


def definition_of(data: pa.Table, where: str = "a batch object") -> SourceTable | None:
    """The definition a batch was written with, or None for batches written before it was kept."""
    meta = data.schema.metadata or {}
    return table_from_json(meta[DEFINITION_KEY], f"the table definition in {where}") if DEFINITION_KEY in meta else None


# --------------------------------------------------------------------------- value conversion

Converter = Callable[[Any], Any]


def _format_time(fsp: int) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, timedelta):
            return str(value)
        micros = value // timedelta(microseconds=1)
        sign = "-" if micros < 0 else ""
        micros = abs(micros)
        seconds, frac = divmod(micros, 1_000_000)
        text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if fsp:
            text += "." + f"{frac:06d}"[:fsp]
        return text

    return convert


def _pad_binary(length: int) -> Converter:
    def convert(value: Any) -> Any:
        data = value.encode() if isinstance(value, str) else bytes(value)
        return data.ljust(length, b"\x00")

    return convert


def _to_bytes(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else bytes(value)


def _bit_to_int(value: Any) -> Any:
    if isinstance(value, str):  # the binlog reader renders BIT as '0101'
        return int(value, 2) if value else 0
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(value, "big")
    return int(value)


_ZERO_TIMESTAMP = datetime(1970, 1, 1)  # naive UTC, as the binlog reader gives it


def _utc(value: Any) -> Any:
    """The binlog reader gives naive UTC; a driver may give aware values. Both → aware UTC.

    The binlog stores the zero TIMESTAMP ('0000-00-00 00:00:00') as second 0, which the reader
    turns into 1970-01-01 00:00:00; no real TIMESTAMP has that value (they start one second
    later), so it is the zero date, and arrives as NULL like every zero date.
    """
    if value == _ZERO_TIMESTAMP:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _json_text(value: Any) -> Any:
    if isinstance(value, (dict, list, int, float, bool)):
        return json.dumps(_decode_keys(value), ensure_ascii=False, separators=(", ", ": "))
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _decode_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {(k.decode() if isinstance(k, bytes) else k): _decode_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_keys(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _set_text(members: tuple[str, ...]) -> Converter:
    order = {m: i for i, m in enumerate(members)}

    def convert(value: Any) -> Any:
        if isinstance(value, (set, frozenset, list, tuple)):
            return ",".join(sorted(value, key=lambda m: order.get(m, len(order))))
        return value

    return convert


def narrowed_scale(precision: int, scale: int) -> int:
    """The scale a DECIMAL(precision, scale) keeps in DECIMAL(38): its integer digits come first."""
    return max(0, scale - (precision - MAX_ARROW_DECIMAL))


def _decimal_fit(col: SourceColumn) -> Converter:
    """A DECIMAL over 38 digits fitted to DECIMAL(38, s) by the column's policy; never silently."""
    scale = narrowed_scale(col.precision or 10, col.scale or 0)
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (MAX_ARROW_DECIMAL - scale)
    seen: set[str] = set()

    def convert(value: Any) -> Any:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        with localcontext() as ctx:
            ctx.prec = 2 * MAX_DECIMAL_DIGITS  # MySQL's 65 digits and then some: quantize never rounds
            fitted = number.quantize(quantum, rounding=ROUND_DOWN)
        if abs(fitted) < limit and (fitted == number or col.decimal_overflow == "truncate"):
            if fitted != number and "truncated" not in seen:
                seen.add("truncated")
                log.warning("DECIMAL values truncated to fit DECIMAL(38)", column=col.name, scale=scale)
            return fitted
        if col.decimal_overflow == "null":
            if "nulled" not in seen:
                seen.add("nulled")
                log.warning("DECIMAL values that do not fit DECIMAL(38) set to NULL", column=col.name)
            return None
        raise SchemaError(
            f"value {number} of column {col.name} ({col.column_type}) does not fit DECIMAL(38,{scale})",
            "set decimal_overflow: widen (exact text), truncate or null for the table",
        )

    return convert


def _decimal_text(scale: int) -> Converter:
    """A DECIMAL over 38 digits as the server's own text (``CAST(x AS CHAR)``, what a snapshot
    reads): no exponent, every declared fractional digit, no sign on zero. ``str(Decimal)`` would
    write ``0E-18`` for ``0.000000000000000000``."""

    def convert(value: Any) -> Any:
        if not isinstance(value, Decimal):
            return value
        return f"{value if value else value.copy_abs():.{scale}f}"

    return convert


def _identity(value: Any) -> Any:
    return value


def column_converter(col: SourceColumn) -> Converter:
    """A function that turns one decoded value (binlog or driver) into its Arrow-ready form.

    ``None`` is handled by the caller; converters see non-null values only.
    """
    dt = col.data_type.lower()
    if dt == "binary":
        return _pad_binary(col.char_length or 0)
    if dt in _BINARY_TYPES:
        return _to_bytes
    if dt == "bit":
        return _bit_to_int
    if dt == "timestamp":
        return _utc
    if dt == "time":
        return _format_time(col.datetime_precision or 0)
    if dt == "json":
        return _json_text
    if dt == "set":
        return _set_text(col.set_members)
    if dt == "decimal" and (col.precision or 10) > MAX_ARROW_DECIMAL:
        return _decimal_text(col.scale or 0) if col.decimal_overflow in (None, "widen") else _decimal_fit(col)
    return _identity


def row_converter(table: SourceTable) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """Build a function mapping a ``{column: value}`` row to a tuple in table column order.

    A row whose column names differ from the table's raises :class:`SchemaError`: decoding it
    against the wrong definition would put values in the wrong columns.
    """
    names = table.column_names
    converters = [column_converter(c) for c in table.columns]
    expected = set(names)

    def convert(row: dict[str, Any]) -> tuple[Any, ...]:
        if len(row) != len(names) or row.keys() != expected:
            extra = sorted(set(row) - expected)
            missing = sorted(expected - set(row))
            raise SchemaError(
                f"a row read from {table.database}.{table.name} does not match the table definition"
                f" (unexpected columns {listed(extra)}, missing columns {listed(missing)})",
                "the table was altered while it was read: run the command again, which reads its definition anew",
            )
        out = []
        for name, conv in zip(names, converters, strict=True):
            value = row[name]
            out.append(None if value is None else conv(value))
        return tuple(out)

    return convert


# --------------------------------------------------------------------------- definitions as data


def table_to_json(table: SourceTable) -> str:
    """The definition a batch object was written with, kept in its Parquet metadata."""
    columns = [{k: v for k, v in vars(c).items() if v is not None} for c in table.columns]
    raw = {"database": table.database, "name": table.name, "key": list(table.key_columns), "columns": columns}
    return json.dumps(raw)


class _StoredColumn(BaseModel):
    """A column as stored (checkpoint, batch metadata): exactly these keys, each of its type."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1)
    data_type: str = Field(pattern=r"^[a-z]+$")
    column_type: str
    nullable: bool = True
    char_length: int | None = Field(default=None, ge=0)
    precision: int | None = Field(default=None, ge=0, le=MAX_DECIMAL_DIGITS)
    scale: int | None = Field(default=None, ge=0, le=MAX_DECIMAL_DIGITS)
    datetime_precision: int | None = Field(default=None, ge=0, le=6)
    default: str | None = None
    renamed_from: str | None = None
    decimal_overflow: Literal["widen", "fail", "truncate", "null"] | None = None


class _StoredTable(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    database: str
    name: str = Field(min_length=1)
    key: list[str]
    columns: list[_StoredColumn] = Field(min_length=1)


def table_from_json(text: str | bytes, where: str = "a stored table definition") -> SourceTable:
    """A definition read back from the store. It is data: anything but the exact keys and types
    :func:`table_to_json` writes is refused, never passed on (the row decoder compiles code from it)."""
    try:
        raw = _StoredTable.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise CorruptStateError(
            f"{where} is not a valid table definition ({problems})",
            "it was not written by s3rb-stream: restore the object, or delete it and re-snapshot the table",
        ) from None
    columns = tuple(SourceColumn(**c.model_dump()) for c in raw.columns)
    table = SourceTable(raw.database, raw.name, columns)
    return table.with_key(raw.key) if raw.key else table
