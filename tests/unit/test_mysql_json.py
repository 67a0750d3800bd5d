"""MySQL's binary JSON → the text MySQL prints (s3rb_stream.sources.mysql_json): any document
encoded here as the server serializes it (tests/unit/jsonb_encoding.py), small and large
containers, every scalar type, opaque values; doubles by MySQL's my_gcvt rules; partial updates.
The printing rules are MySQL's Json_wrapper::to_string (docs/mysql.md says what was verified how)."""

from __future__ import annotations

import contextlib
import json
import math
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3rb_stream.sources import mysql_json as mj
from tests.unit.jsonb_encoding import Int, Packed, datetime_packed, encode, int_kinds, mysql_text, time_packed


@st.composite
def integers(draw: st.DrawFn) -> Int:
    value = draw(st.integers(-(2**63), 2**64 - 1) | st.integers(-70000, 70000))
    return Int(value, draw(st.sampled_from(int_kinds(value))))


@st.composite
def temporals(draw: st.DrawFn) -> Packed:
    micros = draw(st.integers(0, 999_999))
    kind = draw(st.sampled_from([mj.FIELD_DATE, mj.FIELD_TIME, mj.FIELD_DATETIME, mj.FIELD_TIMESTAMP]))
    if kind == mj.FIELD_TIME:
        negative, hours = draw(st.booleans()), draw(st.integers(0, 838))
        minutes, seconds = draw(st.integers(0, 59)), draw(st.integers(0, 59))
        negative = negative and (hours, minutes, seconds, micros) != (0, 0, 0, 0)  # a packed TIME has no -0
        text = f"{'-' if negative else ''}{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}"
        return Packed(kind, time_packed(negative, hours, minutes, seconds, micros), text)
    year, month, day = draw(st.integers(0, 9999)), draw(st.integers(0, 12)), draw(st.integers(0, 31))
    if kind == mj.FIELD_DATE:
        return Packed(kind, datetime_packed(year, month, day, 0, 0, 0, 0), f"{year:04d}-{month:02d}-{day:02d}")
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    text = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}.{micros:06d}"
    return Packed(kind, datetime_packed(year, month, day, hour, minute, second, micros), text)


def _decimal(digits: int, scale: int) -> Decimal:
    value = Decimal(digits).scaleb(-scale)
    return value.copy_abs() if not digits else value  # MySQL's DECIMAL has no negative zero


decimals = st.builds(_decimal, st.integers(-(10**30), 10**30), st.integers(0, 30))
scalars = (
    st.none()
    | st.booleans()
    | integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | decimals
    | temporals()
    | st.builds(mj.Opaque, st.sampled_from([15, 16, 252, 254, 255]), st.binary(max_size=120))
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(doc=documents, seed=st.integers(0, 2**32))
def test_any_document_prints_as_mysql_prints_it(doc: Any, seed: int) -> None:
    """decode(encode(doc)) is MySQL's text of doc, in any mix of small and large containers."""
    assert mj.to_text(encode(doc, random.Random(seed))) == mysql_text(doc)


@given(doc=documents)
def test_small_and_large_forms_print_alike(doc: Any) -> None:
    assert mj.to_text(encode(doc, large=True)) == mj.to_text(encode(doc, large=False)) == mysql_text(doc)


@given(doc=st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
                        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner,
                                                                                    max_size=5)))  # fmt: skip
def test_documents_without_doubles_are_json_with_mysql_s_separators(doc: Any) -> None:
    """What any JSON library writes, with ", " and ": " and the keys in MySQL's order, reads back equal."""
    text = mj.to_text(encode(doc))
    assert json.loads(text) == doc
    assert text == json.dumps(_mysql_ordered(doc), ensure_ascii=False, separators=(", ", ": "))


def _mysql_ordered(doc: Any) -> Any:
    if isinstance(doc, dict):
        keys = sorted(doc, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _mysql_ordered(doc[k]) for k in keys}
    if isinstance(doc, list):
        return [_mysql_ordered(v) for v in doc]
    return doc


def test_top_level_scalars_keep_their_json_form_and_json_null_is_not_sql_null() -> None:
    assert mj.to_text(encode("abc")) == '"abc"'  # a string keeps its quotes: abc is not JSON
    assert mj.to_text(encode(None)) == "null"  # the JSON null literal, a value (SQL NULL is None)
    assert mj.to_text(b"") == "null"  # how MySQL reads an empty JSON value
    assert mj.to_text(encode(True)) == "true"
    assert mj.to_text(encode(Int(-5, mj.INT64))) == "-5"
    assert mj.to_text(encode(2.5)) == "2.5"
    assert mj.to_text(encode(Decimal("1.50"))) == "1.50"


def test_strings_escape_what_mysql_escapes() -> None:
    """double_quote(): ", \\ and the control characters (\\b \\f \\n \\r \\t, others \\u00xx in lower case);
    /, DEL and non-ASCII stay as they are."""
    text = '"\\/\b\f\n\r\t\x00\x1f\x7f é 😀'
    assert mj.to_text(encode(text)) == '"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f é 😀"'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),  # ".0" added: a double with neither point nor exponent would read as an integer
        (-3.0, "-3.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1e200, "1e200"),  # my_gcvt: "1e200" and "0.00001" rather than digits and zeros
        (0.00001, "0.00001"),
        (1e15, "1e15"),  # decpt 16 > DBL_DIG: the e format for a large whole number
        (123456789012345.0, "123456789012345.0"),
        (1234567890123456.7, "1234567890123456.8"),  # more digits than the point's place: plain
        (1e-15, "0.000000000000001"),
        (1e-16, "1e-16"),
        (1.2345678901234568e17, "1.2345678901234568e17"),
        (-2.5e-300, "-2.5e-300"),
        (1.7976931348623157e308, "1.7976931348623157e308"),
        (5e-324, "5e-324"),
    ],
)
def test_doubles_print_as_my_gcvt_prints_them(value: float, text: str) -> None:
    assert mj.double_text(value) == text
    assert mj.to_text(encode(value)) == text


@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_any_double_reads_back_and_has_no_plus_sign_or_padding(value: float) -> None:
    text = mj.double_text(value)
    assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
    assert "+" not in text and "e0" not in text and "e-0" not in text
    assert "." in text or "e" in text


def test_opaque_values_print_as_mysql_prints_them() -> None:
    """The values of tests/fixtures/binlogs/json-opaque.binlog (rust_mysql_common's expectations,
    in MySQL's own notation: a DECIMAL is a number, temporal values are quoted text)."""
    assert mj.to_text(encode({"a": mj.Opaque(15, b"U")})) == '{"a": "base64:type15:VQ=="}'
    date = Packed(mj.FIELD_DATE, datetime_packed(2012, 3, 18, 0, 0, 0, 0), "")
    assert mj.to_text(encode({"b": date})) == '{"b": "2012-03-18"}'
    stamp = Packed(mj.FIELD_DATETIME, datetime_packed(2012, 3, 18, 11, 30, 45, 0), "")
    assert mj.to_text(encode({"c": stamp})) == '{"c": "2012-03-18 11:30:45.000000"}'
    time = Packed(mj.FIELD_TIME, time_packed(False, 87, 31, 46, 654321), "")
    assert mj.to_text(encode({"c": time})) == '{"c": "87:31:46.654321"}'  # over 24 hours: text, no error
    assert mj.to_text(encode({"d": Decimal("123.456")})) == '{"d": 123.456}'
    assert mj.to_text(encode({"e": Decimal("9.00")})) == '{"e": 9.00}'


def test_long_binary_values_wrap_their_base64_every_76_characters() -> None:
    """MySQL's base64_encode breaks lines; the newline is escaped in the JSON string."""
    text = mj.to_text(encode(mj.Opaque(252, bytes(range(60)))))
    assert text.startswith('"base64:type252:AAECAwQF') and text.count("\\n") == 1
    assert json.loads(text).split(":", 2)[2].split("\n")[0].__len__() == 76
    assert mj.to_text(encode(mj.Opaque(253, "déjà".encode()))) == '"déjà"'  # VAR_STRING: a plain string


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=80))
def test_any_bytes_give_text_or_a_value_error_never_another_exception(data: bytes) -> None:
    with contextlib.suppress(ValueError):  # JsonDecodeError, or UnicodeDecodeError: the reader quarantines
        assert isinstance(mj.to_text(data), str)


@given(doc=documents, cut=st.integers(1, 20))
def test_a_torn_document_is_an_error(doc: Any, cut: int) -> None:
    data = encode(doc)
    if isinstance(doc, dict | list) and len(data) > cut:
        with pytest.raises(ValueError):
            mj.to_text(data[:-cut])


def test_a_document_nested_deeper_than_mysql_allows_is_refused() -> None:
    doc: Any = 1
    for _ in range(mj.MAX_DEPTH + 1):
        doc = [doc]
    with pytest.raises(mj.JsonDecodeError, match="deeper than 100"):
        mj.to_text(encode(doc))
    assert mj.to_text(encode(doc[0])).startswith("[[[")


# --------------------------------------------------------------------------- partial updates


def diff_bytes(operation: int, path: str, value: Any = None) -> bytes:
    raw = path.encode()
    out = bytes([operation, len(raw)]) + raw
    if operation != mj.REMOVE:
        doc = encode(value)
        out += bytes([len(doc)]) + doc
    return out


def test_partial_updates_apply_to_the_document_s_text() -> None:
    before = mj.to_text(encode({"a": 1, "name": "Joe", "list": [1, 2, 3], "d": Decimal("1.50"), "f": 1e100}))
    diffs = mj.parse_diffs(
        diff_bytes(mj.REPLACE, "$.a", 2)
        + diff_bytes(mj.INSERT, "$.zz", "new")  # a new key goes where MySQL keeps it: by length, then bytes
        + diff_bytes(mj.INSERT, "$.b", True)
        + diff_bytes(mj.REMOVE, "$.list[0]")
        + diff_bytes(mj.INSERT, "$.list[5]", 9)  # past the end: appended
        + diff_bytes(mj.REPLACE, '$."name"', {"first": "Jo"})
        + diff_bytes(mj.REPLACE, "$.list[last]", 4)
    )
    after = mj.apply_diffs(before, diffs)
    assert (
        after == '{"a": 2, "b": true, "d": 1.50, "f": 1e100, "zz": "new", "list": [2, 3, 4], "name": {"first": "Jo"}}'
    )


def test_a_partial_update_of_the_whole_document_replaces_it() -> None:
    assert mj.apply_diffs('{"a": 1}', mj.parse_diffs(diff_bytes(mj.REPLACE, "$", [1.5]))) == "[1.5]"


@pytest.mark.parametrize(
    ("diff", "problem"),
    [
        (diff_bytes(mj.REPLACE, "$.missing", 1), "not there"),
        (diff_bytes(mj.INSERT, "$.a", 1), "is there"),
        (diff_bytes(mj.REMOVE, "$.a.b"), "does not lead"),
        (diff_bytes(mj.REPLACE, "$.x[7]", 1), "no element 7"),
        (diff_bytes(mj.INSERT, "$", 1), "only REPLACE"),
        (diff_bytes(mj.REPLACE, "a", 1), "does not start with"),
        (b"\x07\x01$", "unknown partial JSON operation"),
    ],
)
def test_a_partial_update_that_does_not_fit_the_document_is_an_error(diff: bytes, problem: str) -> None:
    with pytest.raises(mj.JsonDecodeError, match=problem):
        mj.apply_diffs('{"a": 1, "x": [0]}', mj.parse_diffs(diff))


def test_paths_of_partial_updates() -> None:
    assert mj.parse_path('$.a."b c"[3].d[last][last-2]') == ["a", "b c", 3, "d", -1, -3]
    assert mj.parse_path("$") == []
