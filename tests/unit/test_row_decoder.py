"""Both row decoders, the generated Python one (the reference) and the compiled one, on row images
encoded here the way MySQL's server writes them (decimal2bin, my_time_packed_to_binary,
my_datetime_packed_to_binary): any DECIMAL precision and sign, TIME and DATETIME at every
fractional precision, NULLs anywhere; and the two against each other on any bytes of any
fixed-width type. No server: the integration test compares with python-mysql-replication on a
real binlog."""

from __future__ import annotations

import json
import struct
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError
from s3rb_stream.sources import table_map as tm
from s3rb_stream.sources.row_decoder import Implementation, compile_decoder, compiled_decoder_available
from s3rb_stream.sources.table_history import bytes_per_char
from tests.unit.jsonb_encoding import encode

BOTH: list[Implementation] = ["python", "compiled"]
both = pytest.mark.parametrize("implementation", BOTH)

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
    columns: list[tuple[SourceColumn, tm.ColumnLayout]],
    values: list[bytes | None],
    not_null: bool = False,
    implementation: Implementation = "python",
) -> tuple[object, ...]:
    """Decode one image (twice, back to back); ``not_null``: the table map says no column is nullable."""
    table = SourceTable("db", "t", tuple(c for c, _ in columns))
    nullable = (False,) * len(columns) if not_null else None
    tmap = tm.TableMap(1, "db", "t", tuple(layout for _, layout in columns), table.column_names, nullable)
    nulls = sum(1 << i for i, v in enumerate(values) if v is None)
    image = nulls.to_bytes((len(values) + 7) // 8, "little") + b"".join(v for v in values if v is not None)
    rows = compile_decoder(table, tmap, implementation)(image * 2, 0, 2 * len(image))
    assert rows[0] == rows[1]
    return rows[0]


def server_text(digits: int, negative: bool, scale: int) -> str:
    """MySQL's text of a DECIMAL(p, scale) of these digits (``CAST(x AS CHAR)``): no exponent, one
    integer digit at least, exactly ``scale`` fractional digits, no sign on zero."""
    whole, fraction = divmod(digits, 10**scale)
    return f"{'-' if negative and digits else ''}{whole}" + (f".{fraction:0{scale}d}" if scale else "")


@both
@given(data=st.data(), precision=st.integers(1, 65), null_first=st.booleans())
def test_any_decimal_decodes_to_its_exact_value(
    implementation: Implementation, data: st.DataObject, precision: int, null_first: bool
) -> None:
    """Over 38 digits the value is the server's own text (decimal_overflow: widen), as a snapshot
    reads it: zero is ``0.000000000000000000``, not ``0E-18``. A negative zero (the sign bit on
    zero digits, which MariaDB does not write) is zero."""
    scale = data.draw(st.integers(0, min(precision, 30)), label="scale")
    edges = st.sampled_from([0, 1, min(10**scale, 10**precision - 1), 10**precision - 1])  # zero, tiny, one, max
    digits = data.draw(edges | st.integers(0, 10**precision - 1), label="digits")
    negative = data.draw(st.booleans(), label="negative")
    value = Decimal(f"{'-' if negative and digits else ''}{digits}e-{scale}")  # from text: exact at any precision
    image = decimal_bytes(value, precision, scale)
    if negative and not digits:
        image = bytes(b ^ 0xFF for b in image)  # the negative zero: every bit but the sign inverted
    col = SourceColumn("d", "decimal", f"decimal({precision},{scale})", precision=precision, scale=scale)
    other = SourceColumn("n", "int", "int")
    got = decode_one(
        [(other, tm.ColumnLayout(tm.LONG, 0)), (col, tm.ColumnLayout(tm.NEWDECIMAL, precision << 8 | scale))],
        [None if null_first else struct.pack("<i", -5), image],
        implementation=implementation,
    )
    expected = value if precision <= 38 else server_text(digits, negative, scale)
    assert got == (None if null_first else -5, expected)


@both
@given(
    micros=st.integers(-(838 * 3600 + 59 * 60 + 59) * 10**6, (838 * 3600 + 59 * 60 + 59) * 10**6),
    fsp=st.integers(0, 6),
)
def test_any_time_decodes_to_its_text_at_every_precision(implementation: Implementation, micros: int, fsp: int) -> None:
    step = 10 ** (6 - fsp)
    value = timedelta(microseconds=int(micros / step) * step)  # toward zero, as MySQL stores it
    col = SourceColumn("t", "time", f"time({fsp})", datetime_precision=fsp)
    assert decode_one(
        [(col, tm.ColumnLayout(tm.TIME2, fsp))], [time2_bytes(value, fsp)], implementation=implementation
    ) == (time_text(value, fsp),)


@both
@given(value=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
       fsp=st.integers(0, 6))  # fmt: skip
def test_any_datetime_decodes_at_every_precision(implementation: Implementation, value: datetime, fsp: int) -> None:
    value = value.replace(microsecond=value.microsecond // 10 ** (6 - fsp) * 10 ** (6 - fsp))
    col = SourceColumn("dt", "datetime", f"datetime({fsp})", datetime_precision=fsp)
    assert decode_one(
        [(col, tm.ColumnLayout(tm.DATETIME2, fsp))], [datetime2_bytes(value, fsp)], implementation=implementation
    ) == (value,)


@both
def test_zero_dates_are_null(implementation: Implementation) -> None:
    col = SourceColumn("dt", "datetime", "datetime(0)", datetime_precision=0)
    day = SourceColumn("d", "date", "date")
    zero = (0x8000000000).to_bytes(5, "big")
    got = decode_one(
        [(col, tm.ColumnLayout(tm.DATETIME2, 0)), (day, tm.ColumnLayout(tm.DATE, 0))],
        [zero, b"\0\0\0"],
        implementation=implementation,
    )
    assert got == (None, None)


@both
def test_a_table_map_that_does_not_describe_the_table_is_refused(implementation: Implementation) -> None:
    table = SourceTable("db", "t", (SourceColumn("id", "int", "int"), SourceColumn("d", "decimal", "decimal(10,2)",
                                                                                   precision=10, scale=2)))  # fmt: skip
    renamed = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.LONG, 0), tm.ColumnLayout(tm.NEWDECIMAL, 10 << 8 | 2)),
                          ("id", "amount"))  # fmt: skip
    with pytest.raises(SchemaError, match=r"unexpected columns amount, missing columns d"):
        compile_decoder(table, renamed, implementation)
    widened = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.LONGLONG, 0), tm.ColumnLayout(tm.NEWDECIMAL, 10 << 8 | 2)),
                          ("id", "d"))  # fmt: skip
    with pytest.raises(SchemaError, match=r"column id is LONGLONG in the binlog, int in the table definition"):
        compile_decoder(table, widened, implementation)
    rescaled = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.LONG, 0), tm.ColumnLayout(tm.NEWDECIMAL, 12 << 8 | 2)),
                           ("id", "d"))  # fmt: skip
    with pytest.raises(SchemaError, match=r"DECIMAL\(12,2\) in the binlog"):
        compile_decoder(table, rescaled, implementation)


NUMBERS = [
    (SourceColumn("a", "tinyint", "tinyint"), tm.TINY, "<b"),
    (SourceColumn("b", "smallint", "smallint unsigned"), tm.SHORT, "<H"),
    (SourceColumn("c", "int", "int"), tm.LONG, "<i"),
    (SourceColumn("d", "bigint", "bigint unsigned"), tm.LONGLONG, "<Q"),
    (SourceColumn("e", "double", "double"), tm.DOUBLE, "<d"),
    (SourceColumn("f", "tinyint", "tinyint unsigned"), tm.TINY, "<B"),
]


@both
@given(values=st.tuples(st.none() | st.integers(-128, 127), st.none() | st.integers(0, 65535),
                        st.none() | st.integers(-(2**31), 2**31 - 1), st.none() | st.integers(0, 2**64 - 1),
                        st.none() | st.floats(allow_nan=False), st.none() | st.integers(0, 255)))  # fmt: skip
def test_adjacent_numbers_decode_with_nulls_anywhere(
    implementation: Implementation, values: tuple[int | float | None, ...]
) -> None:
    """Adjacent fixed-width numbers are read with one unpack when none is NULL, one by one otherwise."""
    columns = [(col, tm.ColumnLayout(t, 8 if t == tm.DOUBLE else 0)) for col, t, _ in NUMBERS]
    images = [None if v is None else struct.pack(fmt, v) for v, (_, _, fmt) in zip(values, NUMBERS, strict=True)]
    assert decode_one(columns, images, implementation=implementation) == values
    if None not in values:  # NOT NULL columns: no null checks at all, same values
        assert decode_one(columns, images, not_null=True, implementation=implementation) == values


@both
def test_text_in_a_character_set_python_cannot_decode_is_refused_when_the_decoder_is_built(
    implementation: Implementation,
) -> None:
    col = SourceColumn("name", "varchar", "varchar(10)", char_length=10)
    known = tm.ColumnLayout(tm.VARCHAR, 40, collation=8)  # latin1_swedish_ci: Python's cp1252
    assert decode_one([(col, known)], [b"\x04d\xe9j\xe0"], implementation=implementation) == ("déjà",)
    unknown = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.VARCHAR, 40, collation=9999),), ("name",))
    with pytest.raises(SchemaError, match=r"column name .* collation id 9999"):
        compile_decoder(SourceTable("db", "t", (col,)), unknown)


@both
def test_text_under_a_mariadb_no_pad_collation_is_decoded_by_its_character_set(
    implementation: Implementation,
) -> None:
    """MariaDB numbers a NO PAD collation as its PAD SPACE twin plus 1024 (utf8mb4_nopad_bin: 1070,
    latin1_nopad_bin: 1071); the driver knows only the twins. Trailing blanks stay."""
    col = SourceColumn("code", "varchar", "varchar(8)", char_length=8)
    utf8 = tm.ColumnLayout(tm.VARCHAR, 32, collation=1070)
    assert decode_one([(col, utf8)], [b"\x03\xc3\xbc "], implementation=implementation) == ("ü ",)
    latin1 = tm.ColumnLayout(tm.VARCHAR, 8, collation=1071)
    assert decode_one([(col, latin1)], [b"\x02\xe9 "], implementation=implementation) == ("é ",)
    assert bytes_per_char(1070) == 4 and bytes_per_char(46) == 4


@both
def test_mysql_json_is_mysql_s_text_and_json_null_is_not_sql_null(implementation: Implementation) -> None:
    """A MySQL JSON column (binary) decodes to the text MySQL prints; the JSON null literal and an
    empty value are the text null, only the NULL bit is SQL NULL."""
    col = (SourceColumn("doc", "json", "json"), tm.ColumnLayout(tm.JSON, 4))

    def image(doc: bytes) -> bytes:
        return len(doc).to_bytes(4, "little") + doc

    assert decode_one([col], [image(encode({"a": Decimal("1.50"), "b": [1, 2.5]}))], implementation=implementation) == (
        '{"a": 1.50, "b": [1, 2.5]}',
    )
    assert decode_one([col], [image(encode("abc"))], implementation=implementation) == ('"abc"',)
    assert decode_one([col], [image(encode(None))], implementation=implementation) == ("null",)
    assert decode_one([col], [image(b"")], implementation=implementation) == ("null",)
    assert decode_one([col], [None], implementation=implementation) == (None,)


@both
def test_a_vector_decodes_to_its_float32_bytes(implementation: Implementation) -> None:
    """MySQL 9's VECTOR: a 4-byte length, then little-endian float32 values, kept as they are."""
    col = SourceColumn("v", "vector", "vector(3)")
    raw = struct.pack("<3f", 1.5, -2.0, 0.25)
    image = len(raw).to_bytes(4, "little") + raw
    assert decode_one([(col, tm.ColumnLayout(tm.VECTOR, 4))], [image], implementation=implementation) == (raw,)


def test_the_compiled_decoder_is_built_here() -> None:
    """The suite must exercise both decoders: an install that failed to build the extension would
    otherwise pass on the reference alone."""
    assert compiled_decoder_available()


# Fixed-width columns on which any bytes are a value (or NULL, for impossible dates) to both decoders.
ANY_BYTES: list[tuple[SourceColumn, tm.ColumnLayout, int]] = [
    (SourceColumn("i1", "tinyint", "tinyint"), tm.ColumnLayout(tm.TINY, 0), 1),
    (SourceColumn("u1", "tinyint", "tinyint unsigned"), tm.ColumnLayout(tm.TINY, 0), 1),
    (SourceColumn("i2", "smallint", "smallint"), tm.ColumnLayout(tm.SHORT, 0), 2),
    (SourceColumn("u2", "smallint", "smallint unsigned"), tm.ColumnLayout(tm.SHORT, 0), 2),
    (SourceColumn("i3", "mediumint", "mediumint"), tm.ColumnLayout(tm.INT24, 0), 3),
    (SourceColumn("u3", "mediumint", "mediumint unsigned"), tm.ColumnLayout(tm.INT24, 0), 3),
    (SourceColumn("i4", "int", "int"), tm.ColumnLayout(tm.LONG, 0), 4),
    (SourceColumn("u4", "int", "int unsigned"), tm.ColumnLayout(tm.LONG, 0), 4),
    (SourceColumn("i8", "bigint", "bigint"), tm.ColumnLayout(tm.LONGLONG, 0), 8),
    (SourceColumn("u8", "bigint", "bigint unsigned"), tm.ColumnLayout(tm.LONGLONG, 0), 8),
    (SourceColumn("f4", "float", "float"), tm.ColumnLayout(tm.FLOAT, 4), 4),
    (SourceColumn("f8", "double", "double"), tm.ColumnLayout(tm.DOUBLE, 8), 8),
    (SourceColumn("y", "year", "year(4)"), tm.ColumnLayout(tm.YEAR, 0), 1),
    (SourceColumn("d", "date", "date"), tm.ColumnLayout(tm.DATE, 0), 3),
    *[
        (
            SourceColumn(f"dt{f}", "datetime", f"datetime({f})", datetime_precision=f),
            tm.ColumnLayout(tm.DATETIME2, f),
            5 + (f + 1) // 2,
        )
        for f in range(7)
    ],
    *[
        (
            SourceColumn(f"ts{f}", "timestamp", f"timestamp({f})", datetime_precision=f),
            tm.ColumnLayout(tm.TIMESTAMP2, f),
            4 + (f + 1) // 2,
        )
        for f in range(7)
    ],
    *[
        (
            SourceColumn(f"t{f}", "time", f"time({f})", datetime_precision=f),
            tm.ColumnLayout(tm.TIME2, f),
            3 + (f + 1) // 2,
        )
        for f in range(7)
    ],
    (SourceColumn("b", "bit", "bit(12)"), tm.ColumnLayout(tm.BIT, 12), 2),
]


def _text_column(i: int) -> tuple[SourceColumn, tm.ColumnLayout]:
    return SourceColumn(f"s{i}", "varchar", "varchar(100)", char_length=100), tm.ColumnLayout(tm.VARCHAR, 400)


def _decimal_image(digits: int, precision: int, scale: int) -> bytes:
    return decimal_bytes(Decimal(f"{digits}e-{scale}"), precision, scale)


@st.composite
def images(draw: st.DrawFn) -> tuple[SourceTable, tm.TableMap, bytes]:
    """A table of random columns (fixed-width ones, text, bytes, BINARY, DECIMAL of any width,
    TEXT, JSON as MariaDB's text and MySQL's binary) and 1-3 row images of it, values drawn for each, NULLs anywhere."""
    kinds = st.sampled_from(["fixed"] * 6 + ["text", "varbinary", "binary", "decimal", "blob", "json", "jsonb"])
    columns: list[tuple[SourceColumn, tm.ColumnLayout]] = []
    makers: list[st.SearchStrategy[bytes]] = []
    for i, kind in enumerate(draw(st.lists(kinds, min_size=1, max_size=8))):
        if kind == "fixed":
            col, layout, width = draw(st.sampled_from(ANY_BYTES))
            columns.append((SourceColumn(f"{col.name}_{i}", col.data_type, col.column_type,
                                         datetime_precision=col.datetime_precision), layout))  # fmt: skip
            edgy = st.lists(st.sampled_from([0, 0, 0, 1, 0x7F, 0x80, 0xFF]), min_size=width, max_size=width)
            makers.append(st.binary(min_size=width, max_size=width) | edgy.map(bytes))  # zeros, signs, maxima
        elif kind == "text":
            columns.append(_text_column(i))
            makers.append(st.text(max_size=12).map(lambda t: len(t.encode()).to_bytes(2, "little") + t.encode()))
        elif kind == "varbinary":
            columns.append((SourceColumn(f"vb{i}", "varbinary", "varbinary(200)"), tm.ColumnLayout(tm.VARCHAR, 200)))
            makers.append(st.binary(max_size=12).map(lambda b: bytes([len(b)]) + b))
        elif kind == "binary":
            columns.append(
                (SourceColumn(f"bn{i}", "binary", "binary(4)", char_length=4), tm.ColumnLayout(tm.STRING, 4))
            )
            makers.append(st.binary(max_size=4).map(lambda b: bytes([len(b.rstrip(b"\0"))]) + b.rstrip(b"\0")))
        elif kind == "decimal":
            precision = draw(st.integers(1, 65))
            scale = draw(st.integers(0, min(precision, 30)))
            col = SourceColumn(f"n{i}", "decimal", f"decimal({precision},{scale})", precision=precision, scale=scale)
            columns.append((col, tm.ColumnLayout(tm.NEWDECIMAL, precision << 8 | scale)))
            makers.append(st.builds(_decimal_image, st.integers(-(10**precision) + 1, 10**precision - 1),
                                    st.just(precision), st.just(scale)))  # fmt: skip
        elif kind == "blob":
            columns.append((SourceColumn(f"tx{i}", "text", "text"), tm.ColumnLayout(tm.BLOB, 2)))
            makers.append(st.text(max_size=12).map(lambda t: len(t.encode()).to_bytes(2, "little") + t.encode()))
        elif kind == "jsonb":  # MySQL's binary JSON
            columns.append((SourceColumn(f"jb{i}", "json", "json"), tm.ColumnLayout(tm.JSON, 4)))
            makers.append(
                st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
                         | st.text(max_size=5),
                             lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                          max_size=3), max_leaves=6)
                .map(encode)
                .map(lambda b: len(b).to_bytes(4, "little") + b)
            )  # fmt: skip
        else:
            columns.append((SourceColumn(f"j{i}", "json", "longtext"), tm.ColumnLayout(tm.BLOB, 4)))
            makers.append(
                st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)
                .map(lambda d: json.dumps(d).encode())
                .map(lambda b: len(b).to_bytes(4, "little") + b)
            )
    table = SourceTable("db", "t", tuple(c for c, _ in columns))
    tmap = tm.TableMap(1, "db", "t", tuple(layout for _, layout in columns), table.column_names)
    body = b""
    for _ in range(draw(st.integers(1, 3))):
        values = [draw(st.none() | maker) for maker in makers]
        nulls = sum(1 << i for i, v in enumerate(values) if v is None)
        body += nulls.to_bytes((len(values) + 7) // 8, "little") + b"".join(v for v in values if v is not None)
    return table, tmap, body


def _same(a: object, b: object) -> bool:
    """Equal and of one type, exponent of a Decimal and sign of a zero or NaN float included."""
    return type(a) is type(b) and repr(a) == repr(b)


@settings(max_examples=1500, deadline=None)  # many column kinds, each with its edge bytes
@given(case=images())
def test_the_compiled_decoder_gives_the_reference_s_values_on_any_rows(
    case: tuple[SourceTable, tm.TableMap, bytes],
) -> None:
    table, tmap, body = case
    data = b"header" + body + b"csum"  # the images sit inside an event, as in the binlog
    want = compile_decoder(table, tmap, "python")(data, 6, 6 + len(body))
    got = compile_decoder(table, tmap, "compiled")(data, 6, 6 + len(body))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert all(_same(x, y) for x, y in zip(g, w, strict=True)), f"{g!r} != {w!r}"


@given(case=images(), cut=st.integers(1, 40))
def test_a_torn_image_is_an_error_in_both_decoders(case: tuple[SourceTable, tm.TableMap, bytes], cut: int) -> None:
    """An event that ends inside an image raises in both (the reader reports the rows as undecodable)."""
    table, tmap, body = case
    end = max(0, len(body) - cut)
    for implementation in BOTH:
        try:
            compile_decoder(table, tmap, implementation)(body, 0, end)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            continue
        # A cut at an image boundary is a shorter event, not a torn one: both read it whole.
        assert end == 0 or compile_decoder(table, tmap, "python")(body, 0, end)
