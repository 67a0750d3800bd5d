"""Column definitions compared by what they hold, not by how the server spells them.

A column described from a table map says ``int``; information_schema says ``int(11)`` on MariaDB
and ``int`` on MySQL 8. ``tinyint(1)`` and ``tinyint(4)``, ``int(10) unsigned`` and ``int unsigned``,
``int unsigned zerofill`` hold the same values: display widths and ZEROFILL change only how a
client shows them. So every comparison of definitions (DDL following, capture, the loader) goes
through :func:`type_key`, and :func:`widens` says which changes of type lose nothing, so that
the target follows them by widening its column (docs/ARCHITECTURE.md, "Schema history").
"""

from __future__ import annotations

import pyarrow as pa

from s3rb_stream.core.schema import MAX_ARROW_DECIMAL, SourceColumn, SourceTable, arrow_type
from s3rb_stream.errors import SchemaError

_ALIASES = {"integer": "int", "real": "double", "numeric": "decimal"}
_INT_BYTES = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 8}
_LENGTH = {"char", "varchar", "binary", "varbinary"}  # the declared length is part of the type
_FRACTION = {"datetime", "timestamp", "time"}  # so are the fractional digits
_FLOATS = ("float", "double")
_DIGITS_OF_BITS = {8: 3, 16: 5, 32: 10, 64: 19}  # decimal digits a signed Arrow integer holds in full


def kind(col: SourceColumn) -> str:
    """The column's data type, one spelling per type (``integer`` is ``int``, ``real`` is ``double``)."""
    data_type = col.data_type.lower()
    return _ALIASES.get(data_type, data_type)


def type_key(col: SourceColumn) -> tuple[object, ...]:
    """What a column holds: its data type, signedness, and the properties that change its values
    (length, precision and scale, fractional digits, members, bits); never display widths."""
    k = kind(col)
    if k in _INT_BYTES or k in _FLOATS:
        return (k, col.unsigned)
    if k == "decimal":
        precision, scale = col.precision or 10, col.scale or 0
        overflow = (col.decimal_overflow or "widen") if precision > MAX_ARROW_DECIMAL else None
        return (k, col.unsigned, precision, scale, overflow)
    if k in _LENGTH:
        return (k, col.char_length)
    if k in _FRACTION:
        return (k, col.datetime_precision or 0)
    if k in ("enum", "set"):
        return (k, col.set_members)
    if k == "bit":
        return (k, col.precision)
    return (k,)


def same_type(a: SourceColumn, b: SourceColumn) -> bool:
    return type_key(a) == type_key(b)


def same_definition(a: SourceTable, b: SourceTable) -> bool:
    """The same columns by name, type (:func:`type_key`) and nullability, and the same key."""
    return (
        a.column_names == b.column_names
        and a.key_columns == b.key_columns
        and all(x.nullable == y.nullable and same_type(x, y) for x, y in zip(a.columns, b.columns, strict=True))
    )


def _int_range(col: SourceColumn) -> tuple[int, int]:
    bits = 8 * _INT_BYTES[kind(col)]
    return (0, 2**bits - 1) if col.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _widens_source(old: SourceColumn, new: SourceColumn) -> bool:
    """Whether every value of ``old`` is a value of ``new``, unchanged, at the source."""
    a, b = kind(old), kind(new)
    sign_kept = old.unsigned or not new.unsigned  # signed to unsigned loses the negative values
    if a in _INT_BYTES and b in _INT_BYTES:
        (low, high), (new_low, new_high) = _int_range(old), _int_range(new)
        return new_low <= low and high <= new_high
    if a == b == "decimal":
        precision, scale = old.precision or 10, old.scale or 0
        new_precision, new_scale = new.precision or 10, new.scale or 0
        return sign_kept and new_scale >= scale and new_precision - new_scale >= precision - scale
    if (a, b) == _FLOATS:
        return sign_kept
    if a == b and a in _FRACTION:
        return (new.datetime_precision or 0) >= (old.datetime_precision or 0)
    if (a, b) in (("char", "varchar"), ("char", "char"), ("varchar", "varchar")):
        return (new.char_length or 0) >= (old.char_length or 0)
    return False


def arrow_holds(old: pa.DataType, new: pa.DataType) -> bool:
    """Whether Arrow type ``new`` holds every value of ``old``, so that a target column of ``new``'s
    type can take ``old``'s values and batches of both load (the types of core.schema.arrow_type)."""
    if old == new:
        return True
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        return bool(new.bit_width >= old.bit_width)
    if pa.types.is_integer(old) and pa.types.is_decimal(new):
        return bool(new.precision - new.scale >= _DIGITS_OF_BITS.get(old.bit_width, MAX_ARROW_DECIMAL))
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return bool(new.scale >= old.scale and new.precision - new.scale >= old.precision - old.scale)
    if pa.types.is_decimal(old) and pa.types.is_string(new):
        return True  # a DECIMAL wider than 38 digits is its exact text
    return bool(pa.types.is_float32(old) and pa.types.is_float64(new))


def widens(old: SourceColumn, new: SourceColumn) -> bool:
    """Whether a change of ``old``'s type to ``new``'s loses nothing, at the source and in the
    target: an integer to a wider one (signedness permitting), a DECIMAL to one with no fewer
    integer or fractional digits, FLOAT to DOUBLE, more fractional seconds, CHAR to VARCHAR."""
    if same_type(old, new) or not _widens_source(old, new):
        return False
    try:
        return arrow_holds(arrow_type(old), arrow_type(new))
    except SchemaError:  # a type with no Arrow mapping: nothing to widen it to
        return False
