"""verify's pure part: power-of-two ranges and their descent, sums that differ, rows compared one by
one (missing, extra, differs, in flight), values compared in Python, the row digest and the report.
No database: each property is checked against a model written here."""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3rb_stream.core.schema import SourceColumn
from s3rb_stream.core.verify import (
    FANOUT,
    RANGE_ROWS,
    SHOWN,
    Difference,
    Level,
    RangeSum,
    Row,
    TableReport,
    as_int,
    canonical,
    compare_rows,
    differing,
    digest,
    first_level,
    rows_bytes,
    sums_of,
)

# ----------------------------------------------------------------------------------- ranges


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def ranges_over(level: Level, high: int) -> int:
    """How many ranges of ``level`` it takes to reach ``high`` (the walk's own count)."""
    return (high - level.low) // level.width + 1


@settings(max_examples=500, deadline=None)
@given(
    low=st.integers(-(2**62), 2**62),
    extent=st.integers(0, 2**48),
    rows=st.integers(0, 10**10),
)
def test_first_level_is_a_power_of_two_covering_low_to_high_in_about_rows_over_range_rows(
    low: int, extent: int, rows: int
) -> None:
    high = low + extent
    level = first_level(low, high, rows)
    assert is_power_of_two(level.width)
    assert level.low == low
    n = ranges_over(level, high)
    assert level.span(0)[0] == low and level.span(n - 1)[0] <= high < level.span(n - 1)[1]
    wanted = max(1, rows // RANGE_ROWS)
    assert n <= wanted  # never more ranges than asked for...
    if extent + 1 >= wanted:
        assert 4 * n > wanted  # ...and never far fewer: the width is at most twice what is needed
    else:
        assert level.width == 1  # fewer keys than ranges wanted: one key per range


@pytest.mark.parametrize(
    ("low", "high", "rows", "width", "ranges"),
    [
        (1, 1_000_000, 1_000_000, 2_048, 489),  # 976 ranges wanted: 1,025 keys each, rounded up to 2^11
        (1, 100, 100, 128, 1),  # fewer rows than one range holds: one range over everything
        (0, 0, 0, 1, 1),
        (-5, 5, 10 * RANGE_ROWS, 2, 6),  # 11 keys in about 10 ranges: width 2
        (0, 2**48 - 1, 10**9, 2**29, 2**19),  # hashed keys: a fixed span of 48 bits
    ],
)
def test_first_level_examples(low: int, high: int, rows: int, width: int, ranges: int) -> None:
    level = first_level(low, high, rows)
    assert level == Level(low, width)
    assert ranges_over(level, high) == ranges


def children(parent: Level, r: int) -> list[int]:
    """The finer level's ranges within range ``r`` of ``parent``, found by the walk's bucket arithmetic."""
    finer = parent.finer()
    start, end = parent.span(r)
    return sorted({(k - finer.low) // finer.width for k in (start, end - 1)})


@settings(max_examples=500, deadline=None)
@given(low=st.integers(-(2**62), 2**62), bits=st.integers(0, 48), r=st.integers(0, 10**6))
def test_finer_splits_a_range_exactly_into_fanout_children_that_tile_it(low: int, bits: int, r: int) -> None:
    parent = Level(low, 1 << bits)
    finer = parent.finer()
    assert finer.low == parent.low
    assert is_power_of_two(finer.width)
    assert finer.width == max(1, parent.width // FANOUT)
    first, last = children(parent, r)[0], children(parent, r)[-1]
    spans = [finer.span(c) for c in range(first, last + 1)]
    assert len(spans) == min(FANOUT, parent.width)  # FANOUT children, or down to width 1
    assert spans[0][0] == parent.span(r)[0] and spans[-1][1] == parent.span(r)[1]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # no gap, no overlap


def test_finer_stops_at_width_one() -> None:
    assert Level(7, 1).finer() == Level(7, 1)
    assert Level(7, 32).finer() == Level(7, 1)
    assert Level(7, FANOUT).finer() == Level(7, 1)
    assert Level(7, FANOUT * 4).finer() == Level(7, 4)


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.integers(0, 2**20), max_size=200),
    bits=st.integers(6, 16),
)
def test_a_key_lands_in_a_child_of_its_parent_range(keys: list[int], bits: int) -> None:
    parent = Level(0, 1 << bits)
    finer = parent.finer()
    for k in keys:
        r = (k - parent.low) // parent.width
        c = (k - finer.low) // finer.width
        assert parent.span(r)[0] <= finer.span(c)[0] <= k < finer.span(c)[1] <= parent.span(r)[1]


# ----------------------------------------------------------------------------------- sums


sums_strategy = st.dictionaries(
    st.integers(0, 50), st.builds(RangeSum, st.integers(0, 5), st.integers(0, 2**64)), max_size=30
)


@settings(max_examples=300, deadline=None)
@given(source=sums_strategy, target=sums_strategy)
def test_differing_is_every_range_one_side_lacks_or_counts_or_sums_otherwise(
    source: dict[int, RangeSum], target: dict[int, RangeSum]
) -> None:
    expected = [
        r
        for r in range(51)
        if (r in source) != (r in target)
        or (r in source and (source[r].count != target[r].count or source[r].total != target[r].total))
    ]
    assert differing(source, target) == expected


def test_differing_examples() -> None:
    same = {0: RangeSum(3, 30), 1: RangeSum(1, 7)}
    assert differing(same, dict(same)) == []
    assert differing(same, {0: RangeSum(3, 30)}) == [1]  # a range only the source has
    assert differing({}, {5: RangeSum(1, 1)}) == [5]  # a range only the target has
    assert differing(same, {0: RangeSum(3, 31), 1: RangeSum(1, 7)}) == [0]  # sums differ
    assert differing(same, {0: RangeSum(2, 30), 1: RangeSum(1, 7)}) == [0]  # counts differ


def test_sums_of_reads_what_each_database_returns() -> None:
    rows = [(b"0", b"2", b"18446744073709551617"), (1, 1, Decimal("5")), (Decimal(2), 0, None)]
    assert sums_of(rows) == {0: RangeSum(2, 2**64 + 1), 1: RangeSum(1, 5), 2: RangeSum(0, 0)}
    assert as_int(bytearray(b"-3")) == -3
    assert as_int(None) == 0


# ----------------------------------------------------------------------------------- rows

COLUMNS = ("id", "name", "body")
KEY = [0]

row_values = st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from(["x", "y"]))


def row(key: int, values: tuple[str | None, str], seq: int | None = None) -> Row:
    return Row(key // 4, (str(key), *values), seq)


@settings(max_examples=400, deadline=None)
@given(
    source=st.dictionaries(st.integers(0, 40), row_values, max_size=25),
    target=st.dictionaries(st.integers(0, 40), st.tuples(row_values, st.integers(1, 20)), max_size=25),
    seq_limit=st.integers(0, 20),
    only=st.none() | st.sets(st.integers(0, 40), max_size=10),
    reverse=st.booleans(),
)
def test_compare_rows_classifies_every_key_as_the_model_does(
    source: dict[int, tuple[str | None, str]],
    target: dict[int, tuple[tuple[str | None, str], int]],
    seq_limit: int,
    only: set[int] | None,
    reverse: bool,
) -> None:
    src = [row(k, v) for k, v in sorted(source.items(), reverse=reverse)]
    tgt = [row(k, v, seq) for k, (v, seq) in sorted(target.items(), reverse=not reverse)]
    only_keys: set[tuple[str | None, ...]] | None = None if only is None else {(str(k),) for k in only}
    found = compare_rows(COLUMNS, KEY, src, tgt, seq_limit, only_keys)

    expected: dict[tuple[str | None, ...], tuple[str, tuple[str, ...]]] = {}
    in_flight = 0
    for k in sorted(source.keys() | target.keys()):
        if only is not None and k not in only:
            continue
        if k in target and target[k][1] > seq_limit:
            in_flight += 1  # a later change on the target: not a difference, counted
        elif k not in target:
            expected[(str(k),)] = ("missing", ())
        elif k not in source:
            expected[(str(k),)] = ("extra", ())
        elif source[k] != target[k][0]:
            changed = tuple(c for c, a, b in zip(COLUMNS[1:], source[k], target[k][0], strict=True) if a != b)
            expected[(str(k),)] = ("differs", changed)

    assert found.in_flight == in_flight
    assert {d.key: (d.kind, d.columns) for d in found.differences} == expected
    assert len(found.differences) == len(expected)
    assert [d.range_key for d in found.differences] == sorted(d.range_key for d in found.differences)
    assert all(d.range_key == int(d.key[0] or 0) // 4 for d in found.differences)


def test_compare_rows_names_exactly_the_columns_that_differ() -> None:
    columns = ("k1", "k2", "a", "b", "c")
    source = [
        Row(2, ("2", "x", "1", "2", "3")),
        Row(1, ("1", "x", "1", None, "3")),
        Row(3, ("3", "x", "1", "2", "3")),
        Row(5, ("5", "x", "same", "same", "same")),
    ]
    target = [
        Row(1, ("1", "x", "1", "N", "3"), seq=5),  # NULL in the source, the text 'N' here
        Row(2, ("2", "x", "9", "2", "9"), seq=5),
        Row(4, ("4", "x", "1", "2", "3"), seq=5),
        Row(5, ("5", "x", "same", "same", "same"), seq=5),
    ]
    found = compare_rows(columns, [0, 1], source, target, seq_limit=10)
    assert found.in_flight == 0
    assert found.differences == [
        Difference("differs", ("1", "x"), 1, ("b",)),
        Difference("differs", ("2", "x"), 2, ("a", "c")),
        Difference("missing", ("3", "x"), 3),
        Difference("extra", ("4", "x"), 4),
    ]


def test_target_rows_from_a_later_change_are_in_flight_not_differences() -> None:
    source = [Row(1, ("1", "old")), Row(2, ("2", "gone"))]
    target = [
        Row(1, ("1", "new"), seq=11),  # updated after the source's position
        Row(3, ("3", "born"), seq=12),  # inserted after it
        Row(4, ("4", "stale"), seq=10),  # at the position itself: compared
    ]
    found = compare_rows(("id", "v"), [0], source, target, seq_limit=10)
    assert found.in_flight == 2
    assert [(d.kind, d.key) for d in found.differences] == [("missing", ("2",)), ("extra", ("4",))]


def test_only_restricts_a_recheck_to_the_keys_named() -> None:
    source = [Row(1, ("1", "a")), Row(2, ("2", "a")), Row(3, ("3", "a"))]
    target = [Row(1, ("1", "b"), seq=1), Row(2, ("2", "b"), seq=1), Row(4, ("4", "a"), seq=1)]
    found = compare_rows(("id", "v"), [0], source, target, 5, only={("2",), ("4",), ("9",)})
    assert [(d.kind, d.key) for d in found.differences] == [("differs", ("2",)), ("extra", ("4",))]
    assert compare_rows(("id", "v"), [0], source, target, 5, only=set()).differences == []


def test_differences_are_ordered_by_range_key_not_by_key_text() -> None:
    source = [Row(int(k), (k, "v")) for k in ("10", "9", "100", "-1")]
    found = compare_rows(("id", "v"), [0], source, [], seq_limit=0)
    assert [d.key for d in found.differences] == [("-1",), ("9",), ("10",), ("100",)]


# ----------------------------------------------------------------------------------- canonical values

FLOAT = SourceColumn("f", "float", "float")
DOUBLE = SourceColumn("g", "double", "double")
JSON = SourceColumn("j", "json", "json")
BIG_TRUNCATE = SourceColumn(
    "d", "decimal", "decimal(65,30)", precision=65, scale=30, decimal_overflow="truncate"
)  # kept as DECIMAL(38,3)
BIG_NULL = SourceColumn("d", "decimal", "decimal(65,30)", precision=65, scale=30, decimal_overflow="null")


def float32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def shortest_float32_text(x: float) -> str:
    """A REAL as a text protocol prints it: the fewest digits that read back as the same float32."""
    for digits in range(1, 10):
        text = f"{x:.{digits}g}"
        try:
            if float32(float(text)) == x:
                return text
        except OverflowError:  # rounded above the largest float32
            continue
    raise AssertionError(x)


def test_a_float_is_the_same_from_the_source_double_text_and_the_target_float() -> None:
    source = b"0.4285714328289032"  # CAST(f AS DOUBLE) of FLOAT 3/7 over the text protocol
    assert canonical(FLOAT, source) == canonical(FLOAT, float32(3 / 7)) == canonical(FLOAT, "0.42857143")
    assert canonical(FLOAT, source) != canonical(FLOAT, float32(3 / 7 + 1e-6))


@settings(max_examples=500, deadline=None)
@given(x=st.floats(width=32, allow_nan=False, allow_infinity=False), y=st.floats(width=32, allow_nan=False))
def test_float32_values_are_equal_however_they_are_sent_and_distinct_when_their_bits_differ(x: float, y: float) -> None:
    as_source = repr(x).encode()  # the double holding the float exactly, as MySQL prints it
    as_target = x  # DuckDB's FLOAT, widened to a Python float
    as_redshift = shortest_float32_text(x)  # a REAL as text
    assert canonical(FLOAT, as_source) == canonical(FLOAT, as_target) == canonical(FLOAT, as_redshift)
    if struct.pack("<f", x) != struct.pack("<f", y):
        assert canonical(FLOAT, x) != canonical(FLOAT, y)


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=False))
def test_a_double_is_the_same_as_text_and_as_a_float(x: float) -> None:
    assert canonical(DOUBLE, repr(x).encode()) == canonical(DOUBLE, x) == canonical(DOUBLE, repr(x))
    assert canonical(DOUBLE, b"1e20") == canonical(DOUBLE, 1e20) == canonical(DOUBLE, "1e+20")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=15,
)


def reordered(doc: Any) -> Any:
    """The same document with every object's members in reverse order."""
    if isinstance(doc, dict):
        return {k: reordered(doc[k]) for k in reversed(list(doc))}
    if isinstance(doc, list):
        return [reordered(v) for v in doc]
    return doc


@settings(max_examples=300, deadline=None)
@given(doc=json_values)
def test_json_documents_are_equal_whatever_their_key_order_and_spacing(doc: Any) -> None:
    mysql = json.dumps(doc, separators=(", ", ": "), ensure_ascii=False)  # MySQL's spaces
    superish = json.dumps(reordered(doc), separators=(",", ":"))  # another order, no spaces, \u escapes
    indented = json.dumps(doc, indent=2)
    assert canonical(JSON, mysql.encode()) == canonical(JSON, superish) == canonical(JSON, indented)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('{"a": 1}', '{"a":2}'),
        ('{"a": 1}', '{"a":"1"}'),
        ('{"a": 1}', '{"b":1}'),
        ("[1, 2]", "[2,1]"),  # an array keeps its order
        ('{"a": null}', "{}"),
        ('{"a": true}', '{"a":1}'),
    ],
)
def test_json_documents_with_different_values_stay_different(a: str, b: str) -> None:
    assert canonical(JSON, a.encode()) != canonical(JSON, b)


def test_a_fitted_decimal_from_the_source_equals_the_value_the_target_holds() -> None:
    source = b"12345.123456789012345678901234567890"  # DECIMAL(65,30) as MySQL prints it
    assert canonical(BIG_TRUNCATE, source) == canonical(BIG_TRUNCATE, Decimal("12345.123"))  # DECIMAL(38,3)
    assert canonical(BIG_TRUNCATE, source) == canonical(BIG_TRUNCATE, "12345.123")  # Redshift over text
    assert canonical(BIG_TRUNCATE, source) != canonical(BIG_TRUNCATE, Decimal("12345.124"))
    assert canonical(BIG_TRUNCATE, b"-7.999999") == canonical(BIG_TRUNCATE, Decimal("-7.999"))  # toward zero
    assert canonical(BIG_NULL, b"1" + b"0" * 40) is canonical(BIG_NULL, None) is None  # too wide: NULL


def test_a_negative_decimal_truncated_to_zero_equals_the_zero_the_target_holds() -> None:
    assert canonical(BIG_TRUNCATE, b"-0.000000000000000000000000000001") == canonical(BIG_TRUNCATE, Decimal("0.000"))


def test_fitted_decimals_that_differ_in_their_38th_digit_stay_different() -> None:
    a = Decimal("12345678901234567890123456789012345.678")
    assert canonical(BIG_TRUNCATE, a) != canonical(BIG_TRUNCATE, a + Decimal("0.001"))


def test_canonical_keeps_null_and_other_values_as_text() -> None:
    for col in (FLOAT, DOUBLE, JSON, BIG_TRUNCATE):
        assert canonical(col, None) is None
    assert canonical(SourceColumn("v", "varchar", "varchar(5)"), b"h\xc3\xa9") == "hé"


# ----------------------------------------------------------------------------------- digest


def test_digest_is_stable_across_processes_and_60_bits() -> None:
    # A constant, not a call: Python's own hash() of text changes from one process to the next.
    assert digest("a", None, "bc") == int(hashlib.md5(b"a\x1f\x00N\x1fbc").hexdigest()[:15], 16)
    assert digest("a", None, "bc") == 0x1E36A3DDC0A4274
    assert digest("a", None, "bc") == digest("a", None, "bc")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((None,), ("N",)),
        ((None,), ("",)),
        (("",), ("N",)),
        (("a", "bc"), ("ab", "c")),
        (("a", None), (None, "a")),
        (("a", ""), ("", "a")),
    ],
)
def test_digest_tells_null_from_text_and_one_column_from_the_next(
    a: tuple[str | None, ...], b: tuple[str | None, ...]
) -> None:
    assert digest(*a) != digest(*b)


# Values as compared here never hold U+001F or U+0000 (nor lone surrogates: drivers decode valid UTF-8):
# canonical floats, decimals and JSON (control characters escaped) cannot, and the key text leads, its
# pieces carrying their lengths.
plain_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x1f\x00"), max_size=6)


@settings(max_examples=500, deadline=None)
@given(a=st.lists(st.none() | plain_text, min_size=1, max_size=4), data=st.data())
def test_digest_of_rows_as_wide_differs_when_their_values_do(a: list[str | None], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.none() | plain_text, min_size=len(a), max_size=len(a)))
    assert 0 <= digest(*a) < 2**60
    assert (digest(*a) == digest(*b)) == (a == b)


# ----------------------------------------------------------------------------------- the report


def report() -> TableReport:
    missing = [Difference("missing", (str(i), "x"), i) for i in range(SHOWN + 2)]
    differs = [Difference("differs", ("7", None), 7, ("a", "b"))]
    return TableReport("orders", ("id", "region"), rows_source=20, rows_target=9, differences=missing + differs)


def test_to_json_has_the_documented_shape() -> None:
    out = report().to_json()
    assert out["table"] == "orders"
    assert out["equal"] is False and out["skipped"] is None
    assert set(out["differences"]) == {"missing", "extra", "differs"}
    assert out["differences"]["missing"]["count"] == SHOWN + 2
    assert len(out["differences"]["missing"]["first"]) == SHOWN
    assert out["differences"]["missing"]["first"][0] == {"key": {"id": "0", "region": "x"}, "columns": []}
    assert out["differences"]["extra"] == {"count": 0, "first": []}
    assert out["differences"]["differs"] == {
        "count": 1,
        "first": [{"key": {"id": "7", "region": None}, "columns": ["a", "b"]}],
    }
    assert out["bytes_read"] == {"source": 0, "target": 0}
    assert json.loads(json.dumps(out)) == out  # plain JSON all through


def test_equal_only_without_differences_and_when_verified() -> None:
    assert TableReport("t", ("id",)).to_json()["equal"] is True
    skipped = TableReport("t", ("id",), skipped="no key: rows cannot be matched")
    assert skipped.to_json()["equal"] is False and skipped.to_json()["skipped"] == "no key: rows cannot be matched"
    assert skipped.lines() == ["t: not verified: no key: rows cannot be matched"]


def test_lines_show_the_first_keys_and_how_many_more() -> None:
    lines = report().lines()
    assert lines[0] == f"  missing in the target: {SHOWN + 2}"
    assert lines[1] == "    id=0, region=x"
    assert lines[SHOWN + 1] == "    … and 2 more"
    assert lines[-2:] == ["  values differ: 1", "    id=7, region=NULL (columns: a, b)"]
    assert report().by_kind()["extra"] == []


def test_rows_bytes_weighs_text_and_bytes_by_length_and_other_values_as_8() -> None:
    assert rows_bytes([(b"abc", "de", 5, None), (Decimal(1), bytearray(b"xy"))]) == 3 + 2 + 8 + 8 + 8 + 2
    assert rows_bytes([]) == 0
