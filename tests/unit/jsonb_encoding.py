"""MySQL's binary JSON written here the way the server serializes a document (json_binary.h): the
keys of an object sorted by length, then bytes; small containers (16-bit offsets) unless asked
for large ones (32-bit) or too big; literals and 16-bit integers inlined in the value entries,
32-bit ones too in large containers. Used to test the decoder on any document."""

from __future__ import annotations

import base64
import json
import random
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from s3rb_stream.sources import mysql_json as mj


@dataclass(frozen=True)
class Int:
    """An integer with the binary type it is stored as (INT16 ... UINT64)."""

    value: int
    kind: int


_RANGES = {
    mj.INT16: (-(2**15), 2**15 - 1),
    mj.UINT16: (0, 2**16 - 1),
    mj.INT32: (-(2**31), 2**31 - 1),
    mj.UINT32: (0, 2**32 - 1),
    mj.INT64: (-(2**63), 2**63 - 1),
    mj.UINT64: (0, 2**64 - 1),
}
_WIDTH = {mj.INT16: 2, mj.UINT16: 2, mj.INT32: 4, mj.UINT32: 4, mj.INT64: 8, mj.UINT64: 8}
_DIGIT_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def int_kinds(value: int) -> list[int]:
    return [kind for kind, (low, high) in _RANGES.items() if low <= value <= high]


def varlen(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def decimal2bin(value: Decimal, precision: int, scale: int) -> bytes:
    negative = value < 0
    digits = f"{value.copy_abs():.{scale}f}"
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


def decimal_opaque(value: Decimal) -> bytes:
    """The opaque payload MySQL writes for a DECIMAL: precision, scale, decimal2bin."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    precision = max(1, len(f"{value.copy_abs():f}".replace(".", "").lstrip("0")), scale)
    return bytes([precision, scale]) + decimal2bin(value, precision, scale)


def datetime_packed(year: int, month: int, day: int, hour: int, minute: int, second: int, micros: int) -> int:
    """TIME_to_longlong_datetime_packed."""
    ymd = ((year * 13 + month) << 5) | day
    hms = (hour << 12) | (minute << 6) | second
    return (((ymd << 17) | hms) << 24) + micros


def time_packed(negative: bool, hours: int, minutes: int, seconds: int, micros: int) -> int:
    """TIME_to_longlong_time_packed."""
    packed = (((hours << 12) | (minutes << 6) | seconds) << 24) + micros
    return -packed if negative else packed


@dataclass(frozen=True)
class Packed:
    """An opaque temporal value: its field type, packed number, and the text MySQL prints for it."""

    field_type: int
    packed: int
    text: str


def encode(doc: Any, rng: random.Random | None = None, large: bool | None = None) -> bytes:
    """A whole document: type byte and value. ``rng`` picks small or large containers at random
    (``large`` forces one form) and one of the binary types that hold each integer."""
    kind, payload = _value(doc, rng or random.Random(0), large)
    return bytes([kind]) + payload


def _value(doc: Any, rng: random.Random, large: bool | None) -> tuple[int, bytes]:
    if isinstance(doc, dict | list):
        want = rng.random() < 0.3 if large is None else large
        small = None if want else _container(doc, rng, large, False)
        if small is not None:
            return (mj.SMALL_OBJECT if isinstance(doc, dict) else mj.SMALL_ARRAY), small
        encoded = _container(doc, rng, large, True)
        assert encoded is not None
        return (mj.LARGE_OBJECT if isinstance(doc, dict) else mj.LARGE_ARRAY), encoded
    if doc is None or isinstance(doc, bool):
        return mj.LITERAL, bytes([{None: 0, True: 1, False: 2}[doc]])
    if isinstance(doc, Int):
        return doc.kind, doc.value.to_bytes(_WIDTH[doc.kind], "little", signed=doc.kind in (5, 7, 9))
    if isinstance(doc, int):
        return _value(Int(doc, rng.choice(int_kinds(doc))), rng, large)
    if isinstance(doc, float):
        return mj.DOUBLE, struct.pack("<d", doc)
    if isinstance(doc, str):
        raw = doc.encode()
        return mj.STRING, varlen(len(raw)) + raw
    if isinstance(doc, Decimal):
        data = decimal_opaque(doc)
        return mj.OPAQUE, bytes([mj.FIELD_NEWDECIMAL]) + varlen(len(data)) + data
    if isinstance(doc, Packed):
        return mj.OPAQUE, bytes([doc.field_type]) + varlen(8) + doc.packed.to_bytes(8, "little", signed=True)
    if isinstance(doc, mj.Opaque):
        return mj.OPAQUE, bytes([doc.field_type]) + varlen(len(doc.data)) + doc.data
    raise TypeError(type(doc))


def _inlined(kind: int, payload: bytes, large: bool) -> bool:
    return kind in (mj.LITERAL, mj.INT16, mj.UINT16) or (large and kind in (mj.INT32, mj.UINT32))


def _container(doc: dict[str, Any] | list[Any], rng: random.Random, large: bool | None, big: bool) -> bytes | None:
    """The container's bytes after its type byte, or None if it does not fit the small form."""
    width = 4 if big else 2
    is_object = isinstance(doc, dict)
    if is_object:
        assert isinstance(doc, dict)
        keys = sorted((k.encode() for k in doc), key=lambda k: (len(k), k))
        values = [doc[k.decode()] for k in keys]
    else:
        assert isinstance(doc, list)
        keys, values = [], list(doc)
    count = len(values)
    header = 2 * width + count * ((width + 2) if is_object else 0) + count * (1 + width)
    encoded = [_value(v, rng, large) for v in values]
    body = bytearray()
    key_entries = bytearray()
    at = header
    for key in keys:
        key_entries += at.to_bytes(width, "little") + len(key).to_bytes(2, "little")
        body += key
        at += len(key)
    value_entries = bytearray()
    for kind, payload in encoded:
        if _inlined(kind, payload, big):
            value_entries += bytes([kind]) + payload.ljust(width, b"\0")[:width]
        else:
            if at >= 1 << (8 * width):
                return None
            value_entries += bytes([kind]) + at.to_bytes(width, "little")
            body += payload
            at += len(payload)
    size = header + len(body)
    if size >= 1 << (8 * width) or count >= 1 << (8 * width):
        return None
    return count.to_bytes(width, "little") + size.to_bytes(width, "little") + key_entries + value_entries + body


# --------------------------------------------------------------------------- the expected text


def mysql_text(doc: Any) -> str:
    """How MySQL prints ``doc`` (Json_wrapper::to_string), written out independently of the
    module under test except for doubles (tested on their own)."""
    if isinstance(doc, dict):
        keys = sorted(doc, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {mysql_text(doc[k])}" for k in keys) + "}"
    if isinstance(doc, list):
        return "[" + ", ".join(mysql_text(v) for v in doc) + "]"
    if doc is None:
        return "null"
    if isinstance(doc, bool):
        return "true" if doc else "false"
    if isinstance(doc, Int):
        return str(doc.value)
    if isinstance(doc, int):
        return str(doc)
    if isinstance(doc, float):
        return mj.double_text(doc)
    if isinstance(doc, str):
        return json.dumps(doc, ensure_ascii=False)
    if isinstance(doc, Decimal):
        return f"{doc:f}"
    if isinstance(doc, Packed):
        return f'"{doc.text}"'
    if isinstance(doc, mj.Opaque):
        encoded = base64.b64encode(doc.data).decode()
        lines = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        return json.dumps(f"base64:type{doc.field_type}:{lines}")
    raise TypeError(type(doc))
