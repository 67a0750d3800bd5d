"""Binlog files built event by event, for layouts no vendored file holds (MySQL's XA events, a
compressed transaction of many rows). Event layouts as MySQL documents them (the source's
libbinlogevents); the format description and table map are taken from a real MySQL 8.0 file."""

from __future__ import annotations

import binascii
import struct
from pathlib import Path

import pyarrow as pa

from tests.unit.test_binlog_file import FIXTURES

HEADER = struct.Struct("<IBIIIH")
QUERY, XID, TABLE_MAP, WRITE_ROWS, XA_PREPARE, PAYLOAD = 0x02, 0x10, 0x13, 0x1E, 0x26, 0x28
TS = 1_700_000_000


def lenenc(n: int) -> bytes:
    if n < 0xFB:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little")
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little")
    return b"\xfe" + n.to_bytes(8, "little")


def inner(etype: int, body: bytes, flags: int = 0) -> bytes:
    """An event as a compressed transaction holds it: no checksum, no next position."""
    return HEADER.pack(TS, etype, 1, HEADER.size + len(body), 0, flags) + body


def query(sql: str, schema: str = "test") -> bytes:
    """A QUERY body: thread id, seconds, schema length, error code, no status variables."""
    return struct.pack("<IIBHH", 7, 0, len(schema), 0, 0) + schema.encode() + b"\0" + sql.encode()


def xa_prepare(gtrid: bytes, one_phase: bool = False, format_id: int = 1) -> bytes:
    return struct.pack("<BiII", one_phase, format_id, len(gtrid), 0) + gtrid


def int_rows(table_id: int, values: list[int]) -> bytes:
    """A WRITE_ROWS v2 body for a one-INT-column table (the spare bits of the bitmap set, as MySQL writes)."""
    rows = b"".join(b"\0" + v.to_bytes(4, "little", signed=True) for v in values)
    return table_id.to_bytes(6, "little") + struct.pack("<HH", 1, 2) + lenenc(1) + b"\xff" + rows


def payload(events: list[bytes], zstd: bool = True) -> bytes:
    """A TRANSACTION_PAYLOAD body: (type, length, value) header fields, the end mark, the payload."""
    raw = b"".join(events)
    data = pa.compress(raw, codec="zstd", asbytes=True) if zstd else raw

    def field(kind: int, value: int) -> bytes:
        encoded = lenenc(value)
        return lenenc(kind) + lenenc(len(encoded)) + encoded

    return field(2, 0 if zstd else 255) + field(3, len(raw)) + field(1, len(data)) + b"\0" + data


class Template:
    """transaction_compression.000001 (MySQL 8.0.32, rust_mysql_common): its format description,
    and the table map of test.tb1 (one INT column) from inside its compressed transaction."""

    def __init__(self) -> None:
        data = (FIXTURES / "transaction_compression.000001").read_bytes()
        size = HEADER.unpack_from(data, 4)[3]
        self.head = data[: 4 + size]
        body = data[274 + HEADER.size : 274 + 157 - 4]
        pos = 0
        while body[pos]:  # (type, length, value) fields up to the end mark; here every number is one byte
            pos += 2 + body[pos + 1]
        pos += 1
        raw = pa.CompressedInputStream(pa.BufferReader(body[pos:]), "zstd").read()
        at = HEADER.unpack_from(raw, 0)[3]  # skip BEGIN
        self.table_map = raw[at + HEADER.size : at + HEADER.unpack_from(raw, at)[3]]
        self.table_id = int.from_bytes(self.table_map[:6], "little")


def write_file(path: Path, head: bytes, events: list[tuple[int, bytes]]) -> list[int]:
    """A binlog file of ``head`` and then ``events`` (type, body), each with its position and CRC32;
    returns where each event starts."""
    out = bytearray(head)
    starts = []
    for etype, body in events:
        starts.append(len(out))
        size = HEADER.size + len(body) + 4
        event = HEADER.pack(TS, etype, 1, size, len(out) + size, 0) + body
        out += event + struct.pack("<I", binascii.crc32(event) & 0xFFFFFFFF)
    path.write_bytes(bytes(out))
    return starts
