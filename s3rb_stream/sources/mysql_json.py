"""MySQL's binary JSON, as its binlog carries it, → the text MySQL itself prints for the document.

A MySQL JSON column is stored and logged in a binary form (``json_binary.h`` in the server): a
type byte, then objects and arrays as tables of entries (small ones with 16-bit offsets, large
ones with 32-bit), scalars, and *opaque* values that keep a MySQL type (DECIMAL, DATE, TIME,
DATETIME, TIMESTAMP, binary strings). The pipeline carries JSON as text (the type contract), and
a snapshot reads the server's own text (``SELECT`` of the column), so the binlog's document must
print exactly as MySQL prints it (``Json_wrapper::to_string``):

* objects as ``{"key": value, ...}`` (``", "`` and ``": "``), keys in stored order, which is
  sorted by length, then bytes; arrays as ``[a, b]``;
* strings quoted, ``"`` ``\\`` and the control characters escaped (``\\b \\f \\n \\r \\t``,
  others ``\\u00xx``), nothing else;
* integers as they are; doubles by MySQL's ``my_gcvt`` (the shortest digits that read back, in
  plain notation for exponents -15..15, else ``1e100``-style), with ``.0`` added to a double with
  neither point nor exponent;
* opaque DECIMAL as the number with its scale (``9.00``); DATE, TIME, DATETIME, TIMESTAMP as
  quoted text with six fractional digits (``"2015-01-15 23:24:25.000000"``, ``"87:31:46.654321"``);
  any other opaque value as ``"base64:type<field type>:<base64>"``;
* a top-level scalar as itself (a string keeps its quotes); JSON ``null`` is the text ``null``,
  never SQL NULL; an empty value is ``null`` too (how MySQL reads an empty JSON column).

Partial updates (``binlog_row_value_options=PARTIAL_JSON``) log a list of changes at paths
instead of the new document: :func:`parse_diffs` reads them, :func:`apply_diffs` applies them to
the document's text before the update. See docs/ARCHITECTURE.md, "Schema history".
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Type bytes (json_binary.h).
SMALL_OBJECT, LARGE_OBJECT, SMALL_ARRAY, LARGE_ARRAY, LITERAL = 0x00, 0x01, 0x02, 0x03, 0x04
INT16, UINT16, INT32, UINT32, INT64, UINT64, DOUBLE, STRING, OPAQUE = (
    0x05,
    0x06,
    0x07,
    0x08,
    0x09,
    0x0A,
    0x0B,
    0x0C,
    0x0F,
)
NULL_LITERAL, TRUE_LITERAL, FALSE_LITERAL = 0x00, 0x01, 0x02

# MySQL field types an opaque value may carry (include/field_types.h) that print other than base64.
FIELD_TIMESTAMP, FIELD_DATE, FIELD_TIME, FIELD_DATETIME = 7, 10, 11, 12
FIELD_NEWDECIMAL, FIELD_VAR_STRING = 246, 253

MAX_DEPTH = 100  # MySQL's JSON_DOCUMENT_MAX_DEPTH: a deeper document is not one MySQL wrote

_DECIMAL_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes of 0..8 leftover digits of a binary DECIMAL
_DOUBLE = struct.Struct("<d")
_ENTRY = {False: struct.Struct("<BH"), True: struct.Struct("<BI")}  # value entry: type, offset or value


class JsonDecodeError(ValueError):
    """Bytes that are not a binary JSON document MySQL could have written."""


@dataclass(frozen=True, slots=True)
class Temporal:
    """An opaque DATE, TIME, DATETIME or TIMESTAMP: printed as quoted text."""

    text: str


@dataclass(frozen=True, slots=True)
class Opaque:
    """Any other opaque value: a MySQL field type and its bytes, printed as base64."""

    field_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RawNumber:
    """A number read back from text this module printed: printed again exactly as it was."""

    text: str


# --------------------------------------------------------------------------- binary → values


def to_text(data: bytes) -> str:
    """The text MySQL prints for the binary JSON document ``data`` (a column's value)."""
    return dump(parse(data))


def parse(data: bytes) -> Any:
    """The document in ``data`` as Python values: dict (in stored order), list, str, int, float,
    bool, None (JSON null), Decimal, :class:`Temporal`, :class:`Opaque`."""
    if not data:
        return None  # MySQL reads an empty JSON value as the null literal
    return _value(data[0], data, 1, len(data), 0)


def _value(kind: int, data: bytes, at: int, end: int, depth: int) -> Any:
    """The value of type ``kind`` stored at ``at`` (its container's data ends at ``end``)."""
    if kind in (SMALL_OBJECT, LARGE_OBJECT, SMALL_ARRAY, LARGE_ARRAY):
        if depth >= MAX_DEPTH:
            raise JsonDecodeError(f"a JSON document nested deeper than {MAX_DEPTH} levels")
        return _container(kind, data, at, end, depth + 1)
    if kind == STRING:
        length, at = _varlen(data, at, end)
        return _utf8(data, at, length, end)
    if kind == INT16:
        return int.from_bytes(_take(data, at, 2, end), "little", signed=True)
    if kind == UINT16:
        return int.from_bytes(_take(data, at, 2, end), "little")
    if kind == INT32:
        return int.from_bytes(_take(data, at, 4, end), "little", signed=True)
    if kind == UINT32:
        return int.from_bytes(_take(data, at, 4, end), "little")
    if kind == INT64:
        return int.from_bytes(_take(data, at, 8, end), "little", signed=True)
    if kind == UINT64:
        return int.from_bytes(_take(data, at, 8, end), "little")
    if kind == DOUBLE:
        return _DOUBLE.unpack(_take(data, at, 8, end))[0]
    if kind == LITERAL:
        return _literal(_take(data, at, 1, end)[0])
    if kind == OPAQUE:
        field_type = _take(data, at, 1, end)[0]
        length, at = _varlen(data, at + 1, end)
        return _opaque(field_type, _take(data, at, length, end))
    raise JsonDecodeError(f"unknown JSON value type {kind:#04x}")


def _container(kind: int, data: bytes, start: int, end: int, depth: int) -> Any:
    """An object or array whose data (after its type byte) starts at ``start``."""
    large = kind in (LARGE_OBJECT, LARGE_ARRAY)
    width = 4 if large else 2
    header = _take(data, start, 2 * width, end)
    count = int.from_bytes(header[:width], "little")
    size = int.from_bytes(header[width:], "little")
    if size > end - start:
        raise JsonDecodeError(f"a JSON {'object' if kind < 2 else 'array'} of {size} bytes in {end - start}")
    stop = start + size
    is_object = kind in (SMALL_OBJECT, LARGE_OBJECT)
    entry = _ENTRY[large]
    keys_at = start + 2 * width
    values_at = keys_at + (count * (width + 2) if is_object else 0)
    if values_at + count * entry.size > stop:
        raise JsonDecodeError(f"a JSON container of {size} bytes cannot hold {count} entries")
    values = []
    for i in range(count):
        vtype, field = entry.unpack_from(data, values_at + i * entry.size)
        if vtype == LITERAL:
            values.append(_literal(field & 0xFF))
        elif vtype == INT16:
            values.append(_int16(field))
        elif vtype == UINT16:
            values.append(field & 0xFFFF)
        elif large and vtype == INT32:
            values.append(field - (1 << 32) if field & 0x80000000 else field)
        elif large and vtype == UINT32:
            values.append(field)
        else:
            if field >= size:
                raise JsonDecodeError(f"a JSON value at offset {field} of a container of {size} bytes")
            values.append(_value(vtype, data, start + field, stop, depth))
    if not is_object:
        return values
    members = {}
    for i in range(count):
        offset = int.from_bytes(data[keys_at : keys_at + width], "little")
        length = int.from_bytes(data[keys_at + width : keys_at + width + 2], "little")
        keys_at += width + 2
        if offset + length > size:
            raise JsonDecodeError(f"a JSON key of {length} bytes at offset {offset} of an object of {size} bytes")
        members[_utf8(data, start + offset, length, stop)] = values[i]
    return members


def _int16(field: int) -> int:
    field &= 0xFFFF
    return field - 0x10000 if field & 0x8000 else field


def _literal(value: int) -> Any:
    if value == NULL_LITERAL:
        return None
    if value == TRUE_LITERAL:
        return True
    if value == FALSE_LITERAL:
        return False
    raise JsonDecodeError(f"unknown JSON literal {value:#04x}")


def _take(data: bytes, at: int, length: int, end: int) -> bytes:
    if at + length > end:
        raise JsonDecodeError(f"a JSON value needs {length} bytes at {at}, the document ends at {end}")
    return data[at : at + length]


def _utf8(data: bytes, at: int, length: int, end: int) -> str:
    return _take(data, at, length, end).decode("utf-8")


def _varlen(data: bytes, at: int, end: int) -> tuple[int, int]:
    """A length in 7-bit groups, low first, the high bit set on every byte but the last."""
    value = 0
    for i in range(5):
        if at + i >= end:
            raise JsonDecodeError("a JSON length runs past the end of the document")
        byte = data[at + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, at + i + 1
    raise JsonDecodeError("a JSON length longer than 5 bytes")


def _opaque(field_type: int, data: bytes) -> Any:
    if field_type == FIELD_NEWDECIMAL:
        return _decimal(data)
    if field_type in (FIELD_DATE, FIELD_TIME, FIELD_DATETIME, FIELD_TIMESTAMP):
        if len(data) < 8:
            raise JsonDecodeError(f"an opaque temporal JSON value of {len(data)} bytes, not 8")
        return Temporal(_temporal(field_type, int.from_bytes(data[:8], "little", signed=True)))
    if field_type == FIELD_VAR_STRING:  # MySQL prints these as plain strings
        return data.decode("utf-8")
    return Opaque(field_type, data)


def _temporal(field_type: int, packed: int) -> str:
    """MySQL's packed temporal (TIME_to_longlong_*_packed) as my_TIME_to_str prints it with 6 digits."""
    negative = packed < 0
    packed = abs(packed)
    micros, whole = packed % (1 << 24), packed >> 24
    if field_type == FIELD_TIME:
        hours, minutes, seconds = (whole >> 12) % (1 << 10), (whole >> 6) % 64, whole % 64
        return f"{'-' if negative else ''}{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}"
    ymd, hms = whole >> 17, whole % (1 << 17)
    year_month, day = ymd >> 5, ymd % 32
    year, month = divmod(year_month, 13)
    date = f"{year:04d}-{month:02d}-{day:02d}"
    if field_type == FIELD_DATE:
        return date
    hours, minutes, seconds = hms >> 12, (hms >> 6) % 64, hms % 64
    return f"{date} {hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}"


def _decimal(data: bytes) -> Decimal:
    """An opaque DECIMAL: precision, scale, then MySQL's binary DECIMAL (decimal2bin)."""
    if len(data) < 2:
        raise JsonDecodeError("an opaque JSON DECIMAL without its precision and scale")
    precision, scale = data[0], data[1]
    if not 0 < precision <= 65 or scale > precision:
        raise JsonDecodeError(f"an opaque JSON DECIMAL({precision},{scale})")
    return decode_decimal(data[2:], precision, scale)


def decode_decimal(raw: bytes, precision: int, scale: int) -> Decimal:
    """MySQL's binary DECIMAL(precision, scale): 9 digits per 4 bytes, the leftover digits at
    either end in fewer bytes, the sign in the top bit, a negative number stored inverted."""
    whole_full, whole_left = divmod(precision - scale, 9)
    frac_full, frac_left = divmod(scale, 9)
    widths = [_DECIMAL_BYTES[whole_left]] * bool(whole_left) + [4] * (whole_full + frac_full)
    digits = [whole_left] * bool(whole_left) + [9] * (whole_full + frac_full)
    if frac_left:
        widths.append(_DECIMAL_BYTES[frac_left])
        digits.append(frac_left)
    size = sum(widths)
    if len(raw) < size:
        raise JsonDecodeError(f"a DECIMAL({precision},{scale}) needs {size} bytes, has {len(raw)}")
    negative = not raw[0] & 0x80
    flipped = bytes([raw[0] ^ 0x80]) + raw[1:size]
    if negative:
        flipped = bytes(b ^ 0xFF for b in flipped)
    number, at = 0, 0
    for width, count in zip(widths, digits, strict=True):
        group = int.from_bytes(flipped[at : at + width], "big")
        if group >= 10**count:
            raise JsonDecodeError("a DECIMAL digit group out of range")
        number = number * 10**count + group
        at += width
    sign = "-" if negative and number else ""
    whole, fraction = divmod(number, 10**scale)
    return Decimal(f"{sign}{whole}.{fraction:0{scale}d}" if scale else f"{sign}{whole}")


# --------------------------------------------------------------------------- values → MySQL's text


_quote = json.encoder.encode_basestring  # escapes exactly as MySQL's double_quote(): see the docstring


def dump(value: Any) -> str:
    """``value`` (from :func:`parse`, or :func:`loads`) as MySQL prints it."""
    out: list[str] = []
    _dump(value, out.append)
    return "".join(out)


def _dump(value: Any, put: Any) -> None:
    if isinstance(value, str):
        put(_quote(value))
    elif isinstance(value, dict):
        put("{")
        first = True
        for key, member in value.items():
            if not first:
                put(", ")
            first = False
            put(_quote(key))
            put(": ")
            _dump(member, put)
        put("}")
    elif isinstance(value, list):
        put("[")
        for i, element in enumerate(value):
            if i:
                put(", ")
            _dump(element, put)
        put("]")
    elif value is None:
        put("null")
    elif value is True:
        put("true")
    elif value is False:
        put("false")
    elif isinstance(value, int):
        put(str(value))
    elif isinstance(value, float):
        put(double_text(value))
    elif isinstance(value, Decimal):
        put(f"{value:f}")
    elif isinstance(value, RawNumber):
        put(value.text)
    elif isinstance(value, Temporal):
        put(_quote(value.text))
    elif isinstance(value, Opaque):
        put(_quote(f"base64:type{value.field_type}:{_mysql_base64(value.data)}"))
    else:
        raise JsonDecodeError(f"no JSON text for a {type(value).__name__}")


def _mysql_base64(data: bytes) -> str:
    """MySQL's base64_encode: the standard alphabet, with padding, a newline after every 76 characters."""
    text = base64.b64encode(data).decode("ascii")
    return "\n".join(text[i : i + 76] for i in range(0, len(text), 76))


_MAX_DECPT_FOR_F_FORMAT = 15  # DBL_DIG
_GCVT_WIDTH = 34  # MY_GCVT_MAX_FIELD_WIDTH: DBL_DIG + 4 + max(5, MAX_DECPT_FOR_F_FORMAT)


def double_text(x: float) -> str:
    """A JSON double as MySQL prints it: my_gcvt(x, DOUBLE, 34), then ``.0`` if it has neither a
    point nor an exponent. The digits are the shortest that read back as ``x`` (what ``repr``
    gives, and what dtoa's mode 4 gives with 34 digits allowed)."""
    if not math.isfinite(x):
        return "0.0"  # dtoa's overflow answer; JSON holds no infinities or NaN anyway
    text = _gcvt(x)
    return text if "." in text or "e" in text else text + ".0"


def _gcvt(x: float) -> str:
    negative = math.copysign(1.0, x) < 0
    width = _GCVT_WIDTH - (x < 0)  # -0.0 keeps the full width, as in my_gcvt
    digits, decpt = _shortest(abs(x))
    length = len(digits)
    sign = "-" if negative else ""
    exp_len = 1 + (decpt >= 101 or decpt <= -99) + (decpt >= 11 or decpt <= -9)
    if decpt <= 0:
        f_length = length - decpt + 2
    elif decpt < length:
        f_length = length + 1
    else:
        f_length = decpt
    have_space = f_length <= width
    force_e = decpt <= 0 and width <= 2 - decpt and width >= 3 + exp_len
    f_format = (
        have_space
        or (decpt <= width and (decpt >= -1 or (decpt == -2 and (length > 1 or not force_e))) and not force_e)
    ) and (
        not have_space
        or (decpt >= -_MAX_DECPT_FOR_F_FORMAT + 1 and (decpt <= _MAX_DECPT_FOR_F_FORMAT or length > decpt))
    )
    if f_format:  # 17 digits at most: never cut at this width
        if decpt <= 0:
            return f"{sign}0.{'0' * -decpt}{digits}"
        if decpt < length:
            return f"{sign}{digits[:decpt]}.{digits[decpt:]}"
        return f"{sign}{digits}{'0' * (decpt - length)}"
    exponent = decpt - 1
    mantissa = digits[0] + ("." + digits[1:] if length > 1 else "")
    return f"{sign}{mantissa}e{'-' if exponent < 0 else ''}{abs(exponent)}"


def _shortest(x: float) -> tuple[str, int]:
    """(digits, decpt) of a finite non-negative double: x = 0.digits * 10**decpt, the shortest
    digits that read back as x; zero is ("0", 1), as dtoa gives it."""
    if x == 0:
        return "0", 1
    text = repr(x)
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    raw = whole + fraction
    decpt = len(whole) + (int(exponent) if exponent else 0)
    stripped = raw.lstrip("0")
    decpt -= len(raw) - len(stripped)
    return stripped.rstrip("0"), decpt


# --------------------------------------------------------------------------- partial updates


REPLACE, INSERT, REMOVE = 0, 1, 2
_OPERATIONS = {REPLACE: "REPLACE", INSERT: "INSERT", REMOVE: "REMOVE"}


@dataclass(frozen=True, slots=True)
class JsonDiff:
    """One change of a partial JSON update: an operation at a path, with a value unless REMOVE."""

    operation: int
    path: str
    value: Any = None


def parse_diffs(data: bytes) -> list[JsonDiff]:
    """The changes of a partial JSON update (Json_diff_vector's binary form): each an operation
    byte, a length-encoded path, and for REPLACE and INSERT a length-encoded binary JSON value."""
    diffs = []
    at, end = 0, len(data)
    while at < end:
        operation = data[at]
        if operation not in _OPERATIONS:
            raise JsonDecodeError(f"unknown partial JSON operation {operation}")
        length, at = _lenenc(data, at + 1)
        path = _utf8(data, at, length, end)
        at += length
        value = None
        if operation != REMOVE:
            length, at = _lenenc(data, at)
            value = parse(_take(data, at, length, end))
            at += length
        diffs.append(JsonDiff(operation, path, value))
    return diffs


def _lenenc(data: bytes, at: int) -> tuple[int, int]:
    if at >= len(data):
        raise JsonDecodeError("a partial JSON update ends inside a length")
    first = data[at]
    widths = {0xFC: 2, 0xFD: 3, 0xFE: 8}
    if first < 0xFB:
        return first, at + 1
    if first not in widths:
        raise JsonDecodeError(f"a bad length byte {first:#x} in a partial JSON update")
    width = widths[first]
    return int.from_bytes(_take(data, at + 1, width, len(data)), "little"), at + 1 + width


def loads(text: str) -> Any:
    """A document from the text :func:`dump` printed, numbers kept as their text, so that
    printing it again gives the same text."""
    return json.loads(text, parse_float=RawNumber, parse_int=RawNumber, parse_constant=RawNumber)


def apply_diffs(text: str, diffs: list[JsonDiff]) -> str:
    """The text of the document ``text`` (as MySQL prints it) after the changes ``diffs``: what
    the after image of a partial update holds. A change that does not fit the document (a path
    that is not there, a member that already is) raises :class:`JsonDecodeError`."""
    document = loads(text)
    for diff in diffs:
        document = _apply(document, diff)
    return dump(document)


def _apply(document: Any, diff: JsonDiff) -> Any:
    legs = parse_path(diff.path)
    what = f"{_OPERATIONS[diff.operation]} at {diff.path}"
    if not legs:
        if diff.operation != REPLACE:
            raise JsonDecodeError(f"partial JSON update {what}: only REPLACE applies to the whole document")
        return diff.value
    parent = document
    for leg in legs[:-1]:
        parent = _child(parent, leg, what)
    leg = legs[-1]
    if isinstance(parent, dict) and isinstance(leg, str):
        if diff.operation == REPLACE and leg in parent:
            parent[leg] = diff.value
        elif diff.operation == INSERT and leg not in parent:
            parent[leg] = diff.value
            ordered = sorted(parent.items(), key=lambda item: _key_order(item[0]))
            parent.clear()
            parent.update(ordered)
        elif diff.operation == REMOVE and leg in parent:
            del parent[leg]
        else:
            raise JsonDecodeError(f"partial JSON update {what}: the member is {'not ' * (leg not in parent)}there")
        return document
    if isinstance(parent, list) and isinstance(leg, int):
        index = leg if leg >= 0 else len(parent) + leg  # [last-N] is -1-N
        if diff.operation == INSERT and index >= 0:
            parent.insert(min(index, len(parent)), diff.value)
        elif 0 <= index < len(parent) and diff.operation == REPLACE:
            parent[index] = diff.value
        elif 0 <= index < len(parent) and diff.operation == REMOVE:
            del parent[index]
        else:
            raise JsonDecodeError(f"partial JSON update {what}: no element {leg} in an array of {len(parent)}")
        return document
    raise JsonDecodeError(f"partial JSON update {what}: the path does not lead into an {type(parent).__name__}")


def _key_order(key: str) -> tuple[int, bytes]:
    """MySQL keeps an object's keys sorted by length, then bytes."""
    raw = key.encode("utf-8")
    return len(raw), raw


def _child(parent: Any, leg: str | int, what: str) -> Any:
    if isinstance(parent, dict) and isinstance(leg, str) and leg in parent:
        return parent[leg]
    if isinstance(parent, list) and isinstance(leg, int) and -len(parent) <= leg < len(parent):
        return parent[leg]
    raise JsonDecodeError(f"partial JSON update {what}: the path is not in the document")


def parse_path(path: str) -> list[str | int]:
    """A JSON path of a partial update: ``$``, then ``.member``, ``."quoted member"``, ``[n]``,
    ``[last]`` or ``[last-n]`` (as -1-n). Wildcards and ranges never occur in an update."""
    if not path.startswith("$"):
        raise JsonDecodeError(f"the JSON path {path!r} does not start with $")
    legs: list[str | int] = []
    at = 1
    decoder = json.JSONDecoder()
    while at < len(path):
        if path[at] == ".":
            at += 1
            if at < len(path) and path[at] == '"':
                try:
                    name, at = decoder.raw_decode(path, at)
                except json.JSONDecodeError:
                    raise JsonDecodeError(f"a bad quoted member in the JSON path {path!r}") from None
                legs.append(name)
            else:
                stop = at
                while stop < len(path) and path[stop] not in ".[":
                    stop += 1
                if stop == at:
                    raise JsonDecodeError(f"an empty member in the JSON path {path!r}")
                legs.append(path[at:stop])
                at = stop
        elif path[at] == "[":
            stop = path.find("]", at)
            if stop < 0:
                raise JsonDecodeError(f"an unclosed [ in the JSON path {path!r}")
            legs.append(_index(path[at + 1 : stop].strip(), path))
            at = stop + 1
        elif path[at].isspace():
            at += 1
        else:
            raise JsonDecodeError(f"unexpected {path[at]!r} in the JSON path {path!r}")
    return legs


def _index(text: str, path: str) -> int:
    if text.isdigit():
        return int(text)
    compact = text.replace(" ", "")
    if compact == "last":
        return -1
    if compact.startswith("last-") and compact[5:].isdigit():
        return -1 - int(compact[5:])
    raise JsonDecodeError(f"a bad array index [{text}] in the JSON path {path!r}")
