"""The vendored MySQL binlog files (tests/fixtures/binlogs, see NOTICE) replayed through the event
loop with both row decoders, their values asserted: binary JSON with opaque values, partial JSON
updates, VECTOR columns, a functional index's hidden column, invisible columns, a 5.7 file.

Each table's definition is what information_schema would give for it (the statements are in the
files). Where the fixture project's tests state values, those are asserted (in MySQL's notation);
elsewhere the values are the bytes of the events read by hand, cross-checked where the table has
generated columns computed by the server from the same document."""

from __future__ import annotations

import binascii
import json
import shutil
import struct
from pathlib import Path

import pytest

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.sources.binlog import Ddl, RowImages
from s3rb_stream.sources.binlog_file import HEADER, BinlogFileReader
from s3rb_stream.sources.row_decoder import DecoderCache, Implementation
from tests.unit.jsonb_encoding import Int, encode

FIXTURES = Path(__file__).parent.parent / "fixtures" / "binlogs"
BOTH: list[Implementation] = ["python", "compiled"]
both = pytest.mark.parametrize("implementation", BOTH)


def col(name: str, data_type: str, column_type: str | None = None, **extra: object) -> SourceColumn:
    return SourceColumn(name, data_type, column_type or data_type, **extra)  # type: ignore[arg-type]


def replay(path: Path, db: str, tables: dict[str, SourceTable], implementation: Implementation) -> list[RowImages]:
    items = BinlogFileReader([path], db, tables, decoder=implementation).items()
    return [item for item in items if isinstance(item, RowImages)]


def numbered(name: str, tmp_path: Path) -> Path:
    """The fixture under a name with a numeric extension, as a server names its binlog files
    (positions and sequences are numbered by it)."""
    copy = tmp_path / (name.split(".")[0] + ".000001")
    shutil.copy(FIXTURES / name, copy)
    return copy


@both
def test_json_with_opaque_values_prints_as_mysql_prints_it(implementation: Implementation, tmp_path: Path) -> None:
    """json-opaque.binlog (MySQL 9.0.1): rust_mysql_common's expected documents, printed the way
    MySQL prints them (a DECIMAL is a number; its test compares them as strings)."""
    tables = {"test": SourceTable("foo", "test", (col("a", "json"),))}
    rows = replay(numbered("json-opaque.binlog", tmp_path), "foo", tables, implementation)
    assert [r.problem for r in rows] == [None] * 8
    assert [r.rows for r in rows] == [
        [('{"a": "base64:type15:VQ=="}',)],  # binary: MySQL's base64 form, not the bytes as text
        [('{"b": "2012-03-18"}',)],
        [('{"c": "2012-03-18 11:30:45.000000"}',)],
        [('{"c": "87:31:46.654321"}',)],  # a TIME over 24 hours
        [('{"d": 123.456}',)],
        [('{"e": 9.00}',)],
        [('{"e": [0, 1, true, false]}',)],
        [('{"e": null}',)],
    ]


JSON_TABLE = SourceTable(
    "mysql",
    "t",
    (
        col("id", "int", nullable=False),
        col("json_col", "json"),
        col("name", "varchar", "varchar(100)", char_length=100),  # AS (json_col->>'$.name')
        col("age", "int"),  # AS (json_col->'$.age')
    ),
    ("id",),
)


def _consistent(row: tuple[object, ...]) -> None:
    """The generated columns, computed by the server, agree with the decoded document."""
    doc = json.loads(str(row[1]))
    assert (doc["name"], doc["age"]) == (row[2], row[3])


@both
def test_json_documents_and_their_updates_decode(implementation: Implementation) -> None:
    """json.binlog.000001 (MySQL 8.0.22): three inserts, one of three rows, an update of all six
    (FULL images), then a partial JSON update written with binlog_row_image=MINIMAL."""
    rows = replay(FIXTURES / "json.binlog.000001", "mysql", {"t": JSON_TABLE}, implementation)
    assert [(r.kind, r.problem is None) for r in rows] == [("insert", True)] * 4 + [("update", True), ("update", False)]
    assert rows[0].rows == [(1, '{"age": 24, "data": "xxxxxxxxxx", "name": "Joe"}', "Joe", 24)]
    assert [r[0] for r in rows[3].rows] == [4, 5, 6]
    update = rows[4].rows
    assert update[1] == (1, '{"age": 25, "data": "xxxxxxxxxx", "name": "Joe"}', "Joe", 25)
    assert [r[3] for r in update] == [24, 25, 32, 33, 40, 41, 24, 25, 32, 33, 40, 41]
    for row in [r for item in rows[:5] for r in item.rows]:
        _consistent(row)
    # The partial update's before image holds the key alone: the document it changes is not there.
    problem = str(rows[5].problem)
    assert "lacks columns" in problem and "binlog_row_image=FULL" in problem and "json.binlog.000001:3980" in problem


def _full_image_partial_update(tmp_path: Path) -> Path:
    """json.binlog.000001 with its partial update written as binlog_row_image=FULL writes it: each
    before image whole (the document as the update before it left it), each after image with the
    key too; the after images' JSON changes ("$.age" to 26, 34, 42, ...) and generated columns are
    the fixture's own bytes. The event's size and CRC32 are computed anew."""
    data = (FIXTURES / "json.binlog.000001").read_bytes()
    start = 3750
    size = HEADER.unpack_from(data, start)[3]
    body = data[start + 19 : start + size - 4]
    rows, at = b"", 13
    previous = {1: ("Joe", 25, "x"), 2: ("Sue", 33, "y"), 3: ("Pete", 41, "z")}
    while at < len(body):
        key = body[at + 1 : at + 5]
        at += 5  # NULL bits, id
        options = body[at : at + 3]  # value options (PARTIAL_JSON), partial bits, NULL bits of 3 columns
        at += 3
        length = int.from_bytes(body[at : at + 4], "little")
        diff = body[at : at + 4 + length]
        at += 4 + length
        name = body[at : at + 2 + int.from_bytes(body[at : at + 2], "little")]  # VARCHAR(100) utf8mb4: 2-byte length
        at += len(name)
        age = body[at : at + 4]
        at += 4
        who, years, letter = previous[(int.from_bytes(key, "little") - 1) % 3 + 1]
        doc = encode({"age": Int(years, 5), "data": letter * 10, "name": who})
        before = b"\x00" + key + len(doc).to_bytes(4, "little") + doc + len(who).to_bytes(2, "little") + who.encode()
        before += years.to_bytes(4, "little")
        rows += before + options[:2] + b"\x00" + key + diff + name + age
    new_body = body[:10] + b"\x04\xff\xff" + rows
    header = bytearray(data[start : start + 19])
    struct.pack_into("<I", header, 9, 19 + len(new_body) + 4)
    struct.pack_into("<I", header, 13, start + 19 + len(new_body) + 4)
    event = bytes(header) + new_body
    event += (binascii.crc32(event) & 0xFFFFFFFF).to_bytes(4, "little")
    path = tmp_path / "json.000001"
    path.write_bytes(data[:start] + event + data[start + size :])
    return path


@both
def test_a_partial_json_update_is_applied_to_the_before_image(implementation: Implementation, tmp_path: Path) -> None:
    rows = replay(_full_image_partial_update(tmp_path), "mysql", {"t": JSON_TABLE}, implementation)
    partial = rows[-1]
    assert partial.problem is None and partial.kind == "update"
    assert partial.rows[:2] == [
        (1, '{"age": 25, "data": "xxxxxxxxxx", "name": "Joe"}', "Joe", 25),
        (1, '{"age": 26, "data": "xxxxxxxxxx", "name": "Joe"}', "Joe", 26),
    ]
    assert [r[3] for r in partial.rows[1::2]] == [26, 34, 42, 26, 34, 42]
    for row in partial.rows:
        _consistent(row)  # the server's generated age agrees with the patched document


@both
def test_vector_columns_decode_to_their_float32_bytes(implementation: Implementation, tmp_path: Path) -> None:
    """vector.binlog (MySQL 9.0.1): rust_mysql_common's expected bytes of table foo; bar's by hand
    (VECTOR(2), TEXT, VECTOR(4) side by side, the TEXT's collation in the map's overrides)."""
    tables = {
        "foo": SourceTable("dtb", "foo", (col("id", "bigint", "bigint unsigned", nullable=False),
                                          col("vector_column", "vector", "vector(3)", nullable=False)), ("id",)),
        "bar": SourceTable("dtb", "bar", (col("id", "bigint", "bigint unsigned", nullable=False),
                                          col("vector_column", "vector", "vector(2)", nullable=False),
                                          col("foo", "text"),
                                          col("vector_column2", "vector", "vector(4)", nullable=False)), ("id",)),
    }  # fmt: skip
    rows = replay(numbered("vector.binlog", tmp_path), "dtb", tables, implementation)
    assert all(r.problem is None for r in rows)
    assert rows[0].rows == [
        (1, bytes([205, 204, 140, 63, 205, 204, 12, 64, 51, 51, 83, 64])),
        (2, bytes([0, 0, 128, 63, 0, 0, 128, 191, 0, 0, 0, 0])),
    ]
    assert [round(v, 5) for v in struct.unpack("<3f", rows[0].rows[0][1])] == [1.1, 2.2, 3.3]
    bar = rows[1].rows
    assert [(r[0], r[2], len(r[1]), len(r[3])) for r in bar] == [(1, None, 8, 16), (2, "bar", 8, 16)]
    assert [round(v, 2) for v in struct.unpack("<4f", bar[1][3])] == [42.0, 43.0, 44.0, 45.0]
    assert [r.kind for r in rows] == ["insert", "insert", "insert", "insert", "delete", "insert"]


@both
def test_a_functional_index_s_hidden_column_is_left_out(implementation: Implementation) -> None:
    """rpl_unfiltered_hidden_gcol.000001 (MySQL 8.0.17): t (a INT, INDEX i((a+1))), then ADD b TEXT.
    The table map lists the index's hidden BIGINT; the row image leaves it out; information_schema
    does not show it. The row: a=1, b='1'."""
    table = SourceTable("test", "t", (col("a", "int"), col("b", "text")))
    rows = replay(FIXTURES / "rpl_unfiltered_hidden_gcol.000001", "test", {"t": table}, implementation)
    assert [(r.problem, r.rows) for r in rows] == [(None, [(1, "1")])]


@both
def test_invisible_columns_are_captured_like_any_other(implementation: Implementation) -> None:
    """binlog-invisible-columns.000001 (MySQL 8.0.26): t1 (f1 INT UNSIGNED INVISIBLE, f2 INT UNSIGNED
    INVISIBLE, f3 INT, f4 TEXT, f5 BLOB, f6 BIGINT UNSIGNED INVISIBLE). Invisible columns are in
    the binlog and in information_schema (a snapshot selects them by name): two inserts, an update."""
    table = SourceTable("mysql", "t1", (
        col("f1", "int", "int unsigned"), col("f2", "int", "int unsigned"), col("f3", "int"), col("f4", "text"),
        col("f5", "blob"), col("f6", "bigint", "bigint unsigned"),
    ))  # fmt: skip
    rows = replay(FIXTURES / "binlog-invisible-columns.000001", "mysql", {"t1": table}, implementation)
    assert [(r.kind, r.problem, r.rows) for r in rows] == [
        ("insert", None, [(1, 2, -3, "4", b"\x05", 6_000_000_000)]),
        ("insert", None, [(None, None, -33, "44", b"U", None)]),
        ("update", None, [(None, None, -33, "44", b"U", None), (111, 222, -333, "444", b"U", None)]),
    ]


def test_a_mysql_5_7_file_with_utf8mb4_statements_replays() -> None:
    """rpl_cross_version_default_utf8mb4_collation.000001 (MySQL 5.7.22): statement-based, so no
    rows to decode; its DDL arrives as statements."""
    table = SourceTable("test", "foobar", (col("id", "int", "int unsigned"), col("foo", "varchar", "varchar(100)")))
    items = list(BinlogFileReader([FIXTURES / "rpl_cross_version_default_utf8mb4_collation.000001"], "test",
                                  {"foobar": table}).items())  # fmt: skip
    assert not [i for i in items if isinstance(i, RowImages)]
    statements = [i.statement.split("(")[0].split()[:3] for i in items if isinstance(i, Ddl)]
    assert statements == [
        ["CREATE", "TABLE", "`foobar`"],
        ["ALTER", "TABLE", "`foobar`"],
        ["DROP", "TABLE", "`foobar`"],
    ]


@both
def test_any_failure_to_decode_quarantines_the_table_with_the_position(
    implementation: Implementation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a decoder raises on a value (a TypeError here, as the library's JSON decoder raised
    on opaque DECIMALs), the rows become a problem that names the position; capture goes on."""

    def broken(data: bytes) -> str:
        raise TypeError("unsupported operand type(s)")

    monkeypatch.setattr("s3rb_stream.sources.row_decoder._json_value", broken)
    monkeypatch.setattr("s3rb_stream.sources.row_decoder.DECODERS", DecoderCache())  # none built before the break
    tables = {"test": SourceTable("foo", "test", (col("a", "json"),))}
    rows = replay(numbered("json-opaque.binlog", tmp_path), "foo", tables, implementation)
    assert len(rows) == 8 and all(r.rows == [] for r in rows)
    assert "json-opaque.000001:792 cannot be decoded: TypeError: unsupported operand" in str(rows[0].problem)


def test_only_hidden_columns_may_be_left_out_of_an_image() -> None:
    """Named columns: a column left out must be a functional index's hidden one (``!hidden!...``);
    any other is a MINIMAL or NOBLOB image, refused with the columns it lacks."""
    from s3rb_stream.errors import SchemaError
    from s3rb_stream.sources import table_map as tm

    reader = BinlogFileReader([FIXTURES / "binlog-invisible-columns.000001"], "db", {})
    table = SourceTable("db", "t", (col("a", "int"),))
    layouts = (tm.ColumnLayout(tm.LONG, 0), tm.ColumnLayout(tm.LONGLONG, 0))
    hidden = tm.TableMap(1, "db", "t", layouts, ("a", "!hidden!i!0!0"), (False, True), (0,))
    held = reader._held_columns(hidden, table, [0b01, 0b01])
    assert (held.names, held.columns, held.nullable, held.primary_key) == (("a",), layouts[:1], (False,), (0,))
    plain = tm.TableMap(1, "db", "t", layouts, ("a", "b"))
    with pytest.raises(SchemaError, match=r"lacks columns b in its after image.*binlog_row_image=FULL"):
        reader._held_columns(plain, SourceTable("db", "t", (col("a", "int"), col("b", "int"))), [0b11, 0b01])
