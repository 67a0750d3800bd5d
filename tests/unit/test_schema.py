from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Context, Decimal

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3rb_stream.core.schema import SourceColumn, SourceTable, arrow_type, column_converter, row_converter
from s3rb_stream.errors import SchemaError


def col(data_type: str, column_type: str | None = None, **kw: object) -> SourceColumn:
    return SourceColumn("c", data_type, column_type or data_type, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (col("tinyint", "tinyint(4)"), pa.int16()),
        (col("tinyint", "tinyint(3) unsigned"), pa.int16()),
        (col("smallint", "smallint(5) unsigned"), pa.int32()),
        (col("mediumint", "mediumint(8) unsigned"), pa.int32()),
        (col("int", "int(11)"), pa.int32()),
        (col("int", "int(10) unsigned"), pa.int64()),
        (col("bigint", "bigint(20)"), pa.int64()),
        (col("bigint", "bigint(20) unsigned"), pa.decimal128(20, 0)),
        (col("decimal", precision=20, scale=6), pa.decimal128(20, 6)),
        (col("decimal", precision=65, scale=10), pa.string()),
        (col("varchar", "varchar(10)"), pa.string()),
        (col("longtext"), pa.string()),
        (col("json"), pa.string()),
        (col("blob"), pa.binary()),
        (col("binary", "binary(4)"), pa.binary()),
        (col("date"), pa.date32()),
        (col("datetime", "datetime(6)"), pa.timestamp("us")),
        (col("timestamp", "timestamp(3)"), pa.timestamp("us", tz="UTC")),
        (col("time"), pa.string()),
        (col("year"), pa.int16()),
        (col("bit", "bit(10)", precision=10), pa.int64()),
        (col("bit", "bit(64)", precision=64), pa.decimal128(20, 0)),
    ],
)
def test_arrow_types(column: SourceColumn, expected: pa.DataType) -> None:
    assert arrow_type(column) == expected


@pytest.mark.parametrize(
    ("column", "maximum", "minimum"),
    [
        (col("tinyint", "tinyint(3) unsigned"), 255, 0),
        (col("smallint", "smallint(5) unsigned"), 65535, 0),
        (col("mediumint", "mediumint(8) unsigned"), 16777215, 0),
        (col("int", "int(10) unsigned"), 4294967295, 0),
        (col("bigint", "bigint(20) unsigned"), 18446744073709551615, 0),
        (col("bigint", "bigint(20)"), 9223372036854775807, -9223372036854775808),
        (col("bit", "bit(64)", precision=64), 2**64 - 1, 0),
    ],
)
def test_integer_extremes_fit_their_signed_parquet_type(column: SourceColumn, maximum: int, minimum: int) -> None:
    convert = column_converter(column)
    values = [convert(maximum), convert(minimum)]
    assert [int(v) for v in pa.array(values, arrow_type(column)).to_pylist()] == [maximum, minimum]


def test_unknown_type_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="not supported"):
        arrow_type(col("inet6", "inet6"))


def test_a_vector_is_its_float32_bytes() -> None:
    """MySQL 9's VECTOR lands as the bytes it is stored as (what a snapshot's SELECT reads)."""
    assert arrow_type(col("vector", "vector(3)")) == pa.binary()
    assert column_converter(col("vector", "vector(3)"))(b"\x00\x00\x80?") == b"\x00\x00\x80?"


def test_binary_is_padded_like_mysql_pads_it() -> None:
    # The binlog drops trailing zero bytes of BINARY(n); SELECT returns them.
    assert column_converter(col("binary", "binary(4)", char_length=4))(b"\x01\x02") == b"\x01\x02\x00\x00"


def test_bit_from_binlog_text_and_driver_bytes_agree() -> None:
    convert = column_converter(col("bit", "bit(10)"))
    assert convert("1000000001") == convert(b"\x02\x01") == 513


def test_time_keeps_sign_hours_over_24_and_fraction() -> None:
    convert = column_converter(col("time", "time(2)", datetime_precision=2))
    assert convert(-timedelta(hours=838, minutes=59, seconds=59)) == "-838:59:59.00"
    assert convert(timedelta(hours=25, microseconds=120000)) == "25:00:00.12"
    assert column_converter(col("time"))(timedelta(seconds=5)) == "00:00:05"


def test_timestamp_is_the_same_instant_in_utc() -> None:
    convert = column_converter(col("timestamp"))
    naive_utc = datetime(2024, 1, 1, 18, 4, 5)
    tokyo = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=9)))
    assert convert(naive_utc) == convert(tokyo) == datetime(2024, 1, 1, 18, 4, 5, tzinfo=UTC)
    assert convert(tokyo).tzinfo is UTC


def test_set_members_come_in_definition_order() -> None:
    convert = column_converter(col("set", "set('b','a','it''s')"))
    assert convert({"a", "b"}) == "b,a"
    assert convert({"it's"}) == "it's"
    assert convert("b,a") == "b,a"


def test_json_objects_become_text_and_text_stays() -> None:
    convert = column_converter(col("json"))
    assert convert({b"k": [1, b"v"]}) == '{"k": [1, "v"]}'
    assert convert('{"a":1}') == '{"a":1}'


def test_wide_decimal_is_exact_text() -> None:
    convert = column_converter(col("decimal", precision=50, scale=3))
    assert convert(Decimal("12345678901234567890123456789012345678901234567.123")) == (
        "12345678901234567890123456789012345678901234567.123"
    )


@given(
    precision=st.integers(39, 65),
    data=st.data(),
    negative=st.booleans(),
)
def test_wide_decimal_text_is_the_server_s_whatever_the_decimal_s_exponent(
    precision: int, data: st.DataObject, negative: bool
) -> None:
    """Whatever exponent the Decimal carries (the decoder's, another reader's, an integer's), the
    text has no exponent and exactly the declared scale, as ``CAST(x AS CHAR)``: ``0E-18`` is
    ``0.000000000000000000``, ``1E-18`` is ``0.000000000000000001``, a negative zero is zero."""
    scale = data.draw(st.integers(0, 30), label="scale")
    digits = data.draw(st.sampled_from([0, 1, 10**precision - 1]) | st.integers(0, 10**precision - 1))
    value = Decimal(f"{'-' if negative else ''}{digits}e-{scale}")
    whole, fraction = divmod(digits, 10**scale)
    expected = f"{'-' if negative and digits else ''}{whole}" + (f".{fraction:0{scale}d}" if scale else "")
    convert = column_converter(col("decimal", precision=precision, scale=scale))
    forms = [value, Decimal(f"{value:.{scale + 2}f}"), value.normalize(Context(prec=100))]
    assert [convert(v) for v in forms] == [expected] * 3
    assert convert(expected) == expected  # text (a snapshot's, the roundtrip sample's) stays


def test_wide_decimal_zero_and_tiny_values_keep_every_fractional_digit() -> None:
    convert = column_converter(col("decimal", precision=65, scale=18))
    assert convert(Decimal("0E-18")) == "0.000000000000000000"
    assert convert(Decimal("1E-18")) == "0.000000000000000001"
    assert convert(Decimal("-0E-18")) == "0.000000000000000000"
    assert convert(Decimal(0)) == "0.000000000000000000"
    assert column_converter(col("decimal", precision=40, scale=0))(Decimal("1E+39")) == "1" + "0" * 39


def test_row_converter_orders_values_and_refuses_other_shapes() -> None:
    table = SourceTable("db", "t", (SourceColumn("a", "int", "int"), SourceColumn("b", "varchar", "varchar(3)")))
    convert = row_converter(table)
    assert convert({"b": "x", "a": 1}) == (1, "x")
    assert convert({"a": None, "b": None}) == (None, None)
    with pytest.raises(SchemaError, match=r"unexpected columns c, missing columns b"):
        convert({"a": 1, "c": 2})


def test_key_columns_must_exist() -> None:
    table = SourceTable("db", "t", (SourceColumn("a", "int", "int"),))
    assert table.with_key(["a"]).key_columns == ("a",)
    with pytest.raises(SchemaError, match="not columns"):
        table.with_key(["zz"])


def test_the_zero_timestamp_from_the_binlog_is_null_like_every_zero_date() -> None:
    convert = column_converter(col("timestamp"))
    assert convert(datetime(1970, 1, 1)) is None
    assert convert(datetime(1970, 1, 1, 0, 0, 1)) == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def wide(policy: str) -> SourceColumn:
    return SourceColumn("d", "decimal", "decimal(65,30)", precision=65, scale=30, decimal_overflow=policy)


def test_decimals_over_38_digits_are_exact_text_by_default_or_fitted_by_policy() -> None:
    assert arrow_type(wide("widen")) == pa.string()
    assert arrow_type(wide("truncate")) == pa.decimal128(38, 3)  # 35 integer digits kept, 3 decimals
    exact, cut = Decimal("12.125"), Decimal("12.1259")
    for policy in ("fail", "truncate", "null"):
        assert column_converter(wide(policy))(exact) == exact
    assert column_converter(wide("truncate"))(cut) == Decimal("12.125")
    assert column_converter(wide("truncate"))(Decimal("-12.1259")) == Decimal("-12.125")  # toward zero
    assert column_converter(wide("null"))(cut) is None
    with pytest.raises(SchemaError, match=r"value 12\.1259 of column d .* does not fit DECIMAL\(38,3\)"):
        column_converter(wide("fail"))(cut)
    huge = Decimal("9" * 36)  # more integer digits than DECIMAL(38,3) holds: nothing to truncate
    assert column_converter(wide("null"))(huge) is None
    with pytest.raises(SchemaError, match="does not fit"):
        column_converter(wide("truncate"))(huge)


def test_the_snapshot_path_fits_wide_decimals_by_the_same_policy() -> None:
    from s3rb_stream.core.text_values import column_to_arrow

    values = column_to_arrow(wide("truncate"), ["12.125000000000000000000000000000", "-1.99999", None])
    assert values.type == pa.decimal128(38, 3)
    assert values.to_pylist() == [Decimal("12.125"), Decimal("-1.999"), None]
