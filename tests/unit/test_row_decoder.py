"""The generated row decoder on row images encoded here the way MySQL's server writes them
(decimal2bin, my_time_packed_to_binary, my_datetime_packed_to_binary): any DECIMAL precision and
sign, TIME and DATETIME at every fractional precision, NULLs anywhere. No server: the integration
test compares with python-mysql-replication on a real binlog."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError
from s3rb_stream.sources import table_map as tm
from s3rb_stream.sources.row_decoder import compile_decoder

_DIGIT_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def decimal_bytes(value: Decimal, precision: int, scale: int) -> bytes:
    """MySQL's decimal2bin."""
    negative = value < 0
    digits = f"{value.copy_abs():.{scale}f}"  # (abs() would round to the context's 28 digits)
    whole, _, frac = digits.partition(".")
    whole = whole.rjust(precision - scale, "0") if precision > scale else ""
    int_left = (precision - scale) % 9
    out = b""
    if int_left:
        out += int(whole[:int_left]).to_bytes(_DIGIT_BYTES[int_left], "big")
    for i in range(int_left, len(whole), 9):
        out += int(whole[i : i + 9]).to_bytes(4, "big")
    for i in range(0, scale - scale % 9, 9):
        out += int(frac[i : i + 9]).to_bytes(4, "big")
    if scale % 9:
        out += int(frac[scale - scale % 9 :]).to_bytes(_DIGIT_BYTES[scale % 9], "big")
    if negative:
        out = bytes(b ^ 0xFF for b in out)
    return bytes([out[0] ^ 0x80]) + out[1:]


def _c_remainder(n: int, d: int) -> int:
    return -((-n) % d) if n < 0 else n % d


def time2_bytes(value: timedelta, fsp: int) -> bytes:
    """MySQL's my_time_packed_to_binary of a TIME value."""
    micros = value // timedelta(microseconds=1)
    sign = -1 if micros < 0 else 1
    seconds, frac = divmod(abs(micros), 1_000_000)
    hms = (seconds // 3600) << 12 | (seconds // 60 % 60) << 6 | seconds % 60
    packed = sign * ((hms << 24) + frac)
    whole = ((packed >> 24) + 0x800000).to_bytes(3, "big")
    if fsp == 0:
        return whole
    if fsp <= 2:
        return whole + struct.pack(">b", _c_remainder(packed, 1 << 24) // 10000)
    if fsp <= 4:
        return whole + struct.pack(">h", _c_remainder(packed, 1 << 24) // 100)
    return (packed + 0x800000000000).to_bytes(6, "big")


def datetime2_bytes(value: datetime, fsp: int) -> bytes:
    ymd = ((value.year * 13 + value.month) << 5) | value.day
    hms = value.hour << 12 | value.minute << 6 | value.second
    out = (((ymd << 17) | hms) + 0x8000000000).to_bytes(5, "big")
    width = (fsp + 1) // 2
    return out + (value.microsecond // 10 ** (6 - 2 * width)).to_bytes(width, "big") if width else out


def time_text(value: timedelta, fsp: int) -> str:
    micros = value // timedelta(microseconds=1)
    seconds, frac = divmod(abs(micros), 1_000_000)
    text = f"{'-' if micros < 0 else ''}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return text + ("." + f"{frac:06d}"[:fsp] if fsp else "")


def decode_one(
    columns: list[tuple[SourceColumn, tm.ColumnLayout]], values: list[bytes | None], not_null: bool = False
) -> tuple[object, ...]:
    """Decode one image (twice, back to back); ``not_null``: the table map says no column is nullable."""
    table = SourceTable("db", "t", tuple(c for c, _ in columns))
    nullable = (False,) * len(columns) if not_null else None
    tmap = tm.TableMap(1, "db", "t", tuple(layout for _, layout in columns), table.column_names, nullable)
    nulls = sum(1 << i for i, v in enumerate(values) if v is None)
    image = nulls.to_bytes((len(values) + 7) // 8, "little") + b"".join(v for v in values if v is not None)
    rows = compile_decoder(table, tmap)(image * 2, 0, 2 * len(image))
    assert rows[0] == rows[1]
    return rows[0]


@given(data=st.data(), precision=st.integers(1, 65), null_first=st.booleans())
def test_any_decimal_decodes_to_its_exact_value(data: st.DataObject, precision: int, null_first: bool) -> None:
    scale = data.draw(st.integers(0, min(precision, 30)), label="scale")
    digits = data.draw(st.integers(0, 10**precision - 1), label="digits")
    negative = data.draw(st.booleans(), label="negative") and digits > 0  # MySQL has no -0
    value = Decimal(f"{'-' if negative else ''}{digits}e-{scale}")  # from text: exact at any precision
    col = SourceColumn("d", "decimal", f"decimal({precision},{scale})", precision=precision, scale=scale)
    other = SourceColumn("n", "int", "int")
    got = decode_one(
        [(other, tm.ColumnLayout(tm.LONG, 0)), (col, tm.ColumnLayout(tm.NEWDECIMAL, precision << 8 | scale))],
        [None if null_first else struct.pack("<i", -5), decimal_bytes(value, precision, scale)],
    )
    expected = value if precision <= 38 else str(value)  # over 38 digits: exact text (decimal_overflow: widen)
    assert got == (None if null_first else -5, expected)


@given(
    micros=st.integers(-(838 * 3600 + 59 * 60 + 59) * 10**6, (838 * 3600 + 59 * 60 + 59) * 10**6),
    fsp=st.integers(0, 6),
)
def test_any_time_decodes_to_its_text_at_every_precision(micros: int, fsp: int) -> None:
    step = 10 ** (6 - fsp)
    value = timedelta(microseconds=int(micros / step) * step)  # toward zero, as MySQL stores it
    col = SourceColumn("t", "time", f"time({fsp})", datetime_precision=fsp)
    assert decode_one([(col, tm.ColumnLayout(tm.TIME2, fsp))], [time2_bytes(value, fsp)]) == (time_text(value, fsp),)


@given(value=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
       fsp=st.integers(0, 6))  # fmt: skip
def test_any_datetime_decodes_at_every_precision(value: datetime, fsp: int) -> None:
    value = value.replace(microsecond=value.microsecond // 10 ** (6 - fsp) * 10 ** (6 - fsp))
    col = SourceColumn("dt", "datetime", f"datetime({fsp})", datetime_precision=fsp)
    assert decode_one([(col, tm.ColumnLayout(tm.DATETIME2, fsp))], [datetime2_bytes(value, fsp)]) == (value,)


def test_zero_dates_are_null() -> None:
    col = SourceColumn("dt", "datetime", "datetime(0)", datetime_precision=0)
    day = SourceColumn("d", "date", "date")
    zero = (0x8000000000).to_bytes(5, "big")
    got = decode_one([(col, tm.ColumnLayout(tm.DATETIME2, 0)), (day, tm.ColumnLayout(tm.DATE, 0))], [zero, b"\0\0\0"])
    assert got == (None, None)


def test_a_table_map_that_does_not_describe_the_table_is_refused() -> None:
    table = SourceTable("db", "t", (SourceColumn("id", "int", "int"), SourceColumn("d", "decimal", "decimal(10,2)",
                                                                                   precision=10, scale=2)))  # fmt: skip
    renamed = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.LONG, 0), tm.ColumnLayout(tm.NEWDECIMAL, 10 << 8 | 2)),
                          ("id", "amount"))  # fmt: skip
    with pytest.raises(SchemaError, match=r"unexpected columns \['amount'\], missing columns \['d'\]"):
        compile_decoder(table, renamed)
    widened = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.LONGLONG, 0), tm.ColumnLayout(tm.NEWDECIMAL, 10 << 8 | 2)),
                          ("id", "d"))  # fmt: skip
    with pytest.raises(SchemaError, match=r"column id is LONGLONG in the binlog, int in the table definition"):
        compile_decoder(table, widened)
    rescaled = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.LONG, 0), tm.ColumnLayout(tm.NEWDECIMAL, 12 << 8 | 2)),
                           ("id", "d"))  # fmt: skip
    with pytest.raises(SchemaError, match=r"DECIMAL\(12,2\) in the binlog"):
        compile_decoder(table, rescaled)


NUMBERS = [
    (SourceColumn("a", "tinyint", "tinyint"), tm.TINY, "<b"),
    (SourceColumn("b", "smallint", "smallint unsigned"), tm.SHORT, "<H"),
    (SourceColumn("c", "int", "int"), tm.LONG, "<i"),
    (SourceColumn("d", "bigint", "bigint unsigned"), tm.LONGLONG, "<Q"),
    (SourceColumn("e", "double", "double"), tm.DOUBLE, "<d"),
    (SourceColumn("f", "tinyint", "tinyint unsigned"), tm.TINY, "<B"),
]


@given(values=st.tuples(st.none() | st.integers(-128, 127), st.none() | st.integers(0, 65535),
                        st.none() | st.integers(-(2**31), 2**31 - 1), st.none() | st.integers(0, 2**64 - 1),
                        st.none() | st.floats(allow_nan=False), st.none() | st.integers(0, 255)))  # fmt: skip
def test_adjacent_numbers_decode_with_nulls_anywhere(values: tuple[int | float | None, ...]) -> None:
    """Adjacent fixed-width numbers are read with one unpack when none is NULL, one by one otherwise."""
    columns = [(col, tm.ColumnLayout(t, 8 if t == tm.DOUBLE else 0)) for col, t, _ in NUMBERS]
    images = [None if v is None else struct.pack(fmt, v) for v, (_, _, fmt) in zip(values, NUMBERS, strict=True)]
    assert decode_one(columns, images) == values
    if None not in values:  # NOT NULL columns: no null checks at all, same values
        assert decode_one(columns, images, not_null=True) == values


def test_text_in_a_character_set_python_cannot_decode_is_refused_when_the_decoder_is_built() -> None:
    col = SourceColumn("name", "varchar", "varchar(10)", char_length=10)
    known = tm.ColumnLayout(tm.VARCHAR, 40, collation=8)  # latin1_swedish_ci: Python's cp1252
    assert decode_one([(col, known)], [b"\x04d\xe9j\xe0"]) == ("déjà",)
    unknown = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.VARCHAR, 40, collation=9999),), ("name",))
    with pytest.raises(SchemaError, match=r"column name .* collation id 9999"):
        compile_decoder(SourceTable("db", "t", (col,)), unknown)
