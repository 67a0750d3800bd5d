"""A batch's Arrow columns built by the compiled speed-up equal pyarrow's own conversion of the same
values (the reference), for every column type it builds, any values, NULLs anywhere; and where a
value is unusual (another type, out of range, another time zone, text that is not UTF-8) it
declines and pyarrow decides, so the table, or the error, is the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3rb_stream import speedups
from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.core.text_values import rows_to_arrays
from s3rb_stream.errors import SchemaError
from s3rb_stream.store.parquet import changes_to_table

COLUMNS = [
    SourceColumn("tiny", "tinyint", "tinyint"),
    SourceColumn("small", "smallint", "smallint unsigned"),
    SourceColumn("n", "int", "int"),
    SourceColumn("big", "bigint", "bigint"),
    SourceColumn("ubig", "bigint", "bigint unsigned"),
    SourceColumn("f", "float", "float"),
    SourceColumn("d", "double", "double"),
    SourceColumn("day", "date", "date"),
    SourceColumn("at", "datetime", "datetime(6)", datetime_precision=6),
    SourceColumn("ts", "timestamp", "timestamp(6)", datetime_precision=6),
    SourceColumn("name", "varchar", "varchar(40)", char_length=40),
    SourceColumn("raw", "varbinary", "varbinary(40)"),
    SourceColumn("amount", "decimal", "decimal(14,4)", precision=14, scale=4),
]
TABLE = SourceTable("db", "t", tuple(COLUMNS), ("n",))

datetimes = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999))
VALUES: list[st.SearchStrategy[Any]] = [
    st.integers(-128, 127),
    st.integers(0, 65535),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**64 - 1),
    st.floats(width=32),
    st.floats(),
    st.dates(),
    datetimes,
    datetimes.map(lambda d: d.replace(tzinfo=UTC)),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.decimals(min_value=-(10**10) + 1, max_value=10**10 - 1, places=4, allow_nan=False),
]
# What the decoders never produce, but a value could be: declined, and pyarrow decides.
ODD: list[st.SearchStrategy[Any]] = [
    st.booleans(),  # an int subclass
    st.integers(2**15, 2**70),  # too big for the column
    st.integers(-(2**70), -(2**31)),
    st.just(1.5),  # a float in an integer column
    st.just("7"),
    st.datetimes(timezones=st.just(timezone(timedelta(hours=2)))),  # another zone
    st.just("\udc80"),  # a lone surrogate: not UTF-8
    st.just(bytearray(b"x")),
]


@st.composite
def batches(draw: st.DrawFn, odd: bool = False) -> list[Change]:
    rows = draw(st.integers(0, 8))
    out = []
    for i in range(rows):
        values = []
        for column, strategy in enumerate(VALUES):
            if odd and draw(st.integers(0, 15)) == 0:
                strategy = draw(st.sampled_from(ODD))
            values.append(draw(st.none() | strategy) if column != 2 else draw(strategy))
        when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i // 3)
        out.append(Change(draw(st.sampled_from(list(Op))), 1000 + i, when, tuple(values)))
    return out


def both(changes: list[Change]) -> tuple[Any, Any]:
    """The table each way, or the error each raised."""
    out = []
    for compiled in (True, False):
        try:
            out.append(changes_to_table(TABLE, changes, compiled=compiled))
        except Exception as exc:  # the same error each way, whatever it is
            out.append(type(exc))
    return out[0], out[1]


def same(a: Any, b: Any) -> bool:
    """Equal, NaN included (Arrow's equality says NaN differs from itself), and -0.0 not 0.0."""
    if a.type != b.type or a.null_count != b.null_count:
        return False
    if pa.types.is_floating(a.type):
        return [repr(x) for x in a.to_pylist()] == [repr(x) for x in b.to_pylist()]
    return bool(a.equals(b))


def test_the_compiled_speed_ups_are_built_here() -> None:
    assert speedups.built is not None, speedups.missing


@settings(max_examples=200, deadline=None)
@given(changes=batches())
def test_compiled_columns_equal_pyarrow_s(changes: list[Change]) -> None:
    compiled, reference = both(changes)
    assert not isinstance(reference, type), reference
    assert compiled.schema.equals(reference.schema, check_metadata=True)
    for name in reference.column_names:  # column by column: a failure names the column
        assert same(compiled.column(name), reference.column(name)), name


@settings(max_examples=200, deadline=None)
@given(changes=batches(odd=True))
def test_unusual_values_give_the_same_table_or_the_same_error(changes: list[Change]) -> None:
    compiled, reference = both(changes)
    if isinstance(reference, type):
        assert compiled is reference
    else:
        assert not isinstance(compiled, type)
        assert all(same(compiled.column(n), reference.column(n)) for n in reference.column_names)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("tiny", 32768),
        ("n", 2**31),
        ("tiny", True),
        ("ts", datetime(2020, 1, 1)),
        ("ts", datetime(2020, 1, 1, 1, tzinfo=timezone(timedelta(hours=2)))),
        ("at", datetime(2020, 1, 1, 1, tzinfo=UTC)),
        ("amount", Decimal("1e20")),
    ],
)
def test_a_value_that_does_not_fit_is_the_same_named_error(column: str, value: object) -> None:
    row: list[object] = [None] * len(COLUMNS)
    row[2] = 1
    row[[c.name for c in COLUMNS].index(column)] = value
    changes = [Change(Op.INSERT, 1, datetime(2024, 1, 1, tzinfo=UTC), tuple(row))]
    compiled, reference = both(changes)
    assert compiled == reference or (not isinstance(reference, type) and compiled.equals(reference))
    if column in ("tiny", "n") and value is not True:
        assert reference is SchemaError


# --------------------------------------------------------------------------- snapshot pages

TEXT_COLUMNS = [
    SourceColumn("id", "int", "int", nullable=False),
    SourceColumn("amount", "decimal", "decimal(12,2)", precision=12, scale=2),
    SourceColumn("day", "date", "date"),
    SourceColumn("at", "datetime", "datetime(6)", datetime_precision=6),
    SourceColumn("name", "varchar", "varchar(40)", char_length=40),
    SourceColumn("raw", "varbinary", "varbinary(40)"),
    SourceColumn("score", "double", "double"),
]
TEXT_VALUES: list[st.SearchStrategy[Any]] = [
    st.integers(-(2**31), 2**31 - 1).map(lambda n: str(n).encode()),
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False).map(lambda d: f"{d:.2f}".encode()),
    st.dates().map(lambda d: d.isoformat().encode()) | st.just(b"0000-00-00"),
    datetimes.map(lambda d: d.isoformat(sep=" ").encode()),
    st.text(max_size=12),  # the client decodes text columns
    st.binary(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
]
ODD_TEXT: list[st.SearchStrategy[Any]] = [
    st.just(b"\xff\xfe"),  # not UTF-8, in any column
    st.just("\udc80"),
    st.just(7),  # not text at all
    st.text(max_size=3),  # text where bytes come, and the reverse
    st.binary(max_size=3),
]


@st.composite
def pages(draw: st.DrawFn, odd: bool = False) -> list[tuple[Any, ...]]:
    out = []
    for _ in range(draw(st.integers(1, 12))):
        row = []
        for column, strategy in enumerate(TEXT_VALUES):
            if odd and draw(st.integers(0, 20)) == 0:
                strategy = draw(st.sampled_from(ODD_TEXT))
            row.append(draw(strategy) if column == 0 else draw(st.none() | strategy))
        out.append(tuple(row))
    return out


def both_pages(rows: list[tuple[Any, ...]]) -> list[Any]:
    out: list[Any] = []
    for compiled in (True, False):
        try:
            out.append(rows_to_arrays(TEXT_COLUMNS, rows, compiled=compiled))
        except Exception as exc:  # the same error each way, whatever it is
            out.append(type(exc))
    return out


@settings(max_examples=200, deadline=None)
@given(rows=pages())
def test_compiled_page_columns_equal_pyarrow_s(rows: list[tuple[Any, ...]]) -> None:
    compiled, reference = both_pages(rows)
    assert not isinstance(reference, type), reference
    assert len(compiled) == len(reference)
    for column, got, want in zip(TEXT_COLUMNS, compiled, reference, strict=True):
        assert same(pa.chunked_array([got]), pa.chunked_array([want])), column.name


@settings(max_examples=200, deadline=None)
@given(rows=pages(odd=True))
def test_unusual_page_values_give_the_same_columns_or_the_same_error(rows: list[tuple[Any, ...]]) -> None:
    compiled, reference = both_pages(rows)
    if isinstance(reference, type):
        assert compiled is reference
    else:
        assert not isinstance(compiled, type)
        assert all(same(pa.chunked_array([a]), pa.chunked_array([b])) for a, b in zip(compiled, reference, strict=True))


def test_a_page_with_rows_that_are_not_tuples_is_left_to_pyarrow() -> None:
    rows: list[Any] = [[b"1", None, None, None, "x", b"y", b"1.5"]]  # lists, not the client's tuples
    compiled, reference = both_pages(rows)
    assert isinstance(reference, type) and compiled is reference  # pyarrow's own error, both ways


def test_a_change_with_the_wrong_number_of_values_is_a_named_error_both_ways() -> None:
    short = [Change(Op.INSERT, 1, datetime(2024, 1, 1, tzinfo=UTC), (1, 2))]
    for compiled in (True, False):
        with pytest.raises(SchemaError, match=r"has 2 values, the table 13 columns"):
            changes_to_table(TABLE, short, compiled=compiled)


def test_a_short_page_row_is_pyarrow_s_error_both_ways() -> None:
    rows: list[Any] = [(b"1", None, None, None, "x", b"y", b"1.5"), (b"2",)]
    compiled, reference = both_pages(rows)
    assert isinstance(reference, type) and compiled is reference


def test_the_compiled_module_refuses_a_plan_or_a_kind_it_cannot_read_safely() -> None:
    """It reads memory in C: a step, a kind or a row it was not built for is an error or a decline,
    never a read past a buffer."""
    fast = speedups.built
    assert fast is not None
    for bad in [("datetime2", 9, 0, True, None), ("int", 9, 1, True, None), ("text", 0, 0, True, None),
                ("decimal", 19, 2, True, None), ("decimal", 0, 0, True, None), ("decimal", 4, 5, True, None),
                ("call", 0, 0, True, None)]:  # fmt: skip
        with pytest.raises(ValueError):
            fast.CompiledDecoder([bad])
    with pytest.raises(ValueError, match="no column kind 12"):
        fast.columns_buffers([], [(0, 12)], True)
    short: list[Any] = [(Op.INSERT, 1, None)]  # a tuple, but not a change
    assert fast.columns_buffers(short, [(0, fast.COLUMN_KINDS["int64"])], True) == [None]
