"""``s3rb-stream inspect-binlog`` on the vendored MySQL and MariaDB files (tests/fixtures/binlogs,
see NOTICE): the values, positions and GTIDs each prints, and where each expectation comes from;
and the value formats, as a pure function."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from s3rb_stream.commands.inspect_binlog import EXIT_DAMAGED, EXIT_OK, EXIT_UNDECODED, inspect, json_value
from s3rb_stream.core.schema import SourceColumn
from tests.unit import synthetic_binlog as syn
from tests.unit.test_binlog_file import FIXTURES, event_offsets

LONG = (  # mysql-enum-string-set.000001's VARCHAR(300) and TEXT value, as rust_mysql_common's test spells it
    "012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678"
    "901234567890123456789012345678012345678901234567890123456789012345678901234567890123456789012345678"
    "901234567890123456789012345678901234567890123456789012345678012345678901234567890123456789012345678"
    "9"
)


def run(*names: str, table: str | None = None) -> tuple[list[dict[str, Any]], str, int]:
    out, err = io.StringIO(), io.StringIO()
    code = inspect([FIXTURES / n if not Path(n).is_absolute() else n for n in names], table, out, err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue(), code


def changes(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "op" in line]


# --------------------------------------------------------------------------- values


def col(data_type: str, fsp: int = 0) -> SourceColumn:
    return SourceColumn("c", data_type, data_type, datetime_precision=fsp)


@pytest.mark.parametrize(
    ("value", "column", "printed"),
    [
        (None, col("int"), None),
        (-5, col("int"), -5),
        (18446744073709551615, col("bigint"), 18446744073709551615),
        (0.10000000149011612, col("float"), 0.1),  # a FLOAT holds float32: its shortest decimal
        (1.5e300, col("double"), 1.5e300),
        (Decimal("-12.3456"), col("decimal"), "-12.3456"),
        (Decimal(1).scaleb(-10), col("decimal"), "0.0000000001"),  # never exponent notation
        ("123456789012345678901234567890123456789.5", col("decimal"), "123456789012345678901234567890123456789.5"),
        (date(2020, 2, 29), col("date"), "2020-02-29"),
        (datetime(1999, 12, 31, 23, 59, 59, 123000), col("datetime", 3), "1999-12-31T23:59:59.123"),
        (datetime(2020, 1, 1, 0, 0, 0), col("datetime", 1), "2020-01-01T00:00:00.0"),
        (datetime(2001, 1, 1, 0, 0, 0, 100000, tzinfo=UTC), col("timestamp", 1), "2001-01-01T00:00:00.1Z"),
        (datetime(22, 4, 20, 22, 18, 4, tzinfo=UTC), col("timestamp"), "0022-04-20T22:18:04Z"),
        ("-838:59:59.999", col("time", 3), "-838:59:59.999"),
        ('{"a": [1, true, null]}', col("json"), {"a": [1, True, None]}),
        ("plain", col("json"), "plain"),  # a JSON string document, loaded unquoted
        ("déjà vu", col("varchar"), "déjà vu"),
        (b"\x00\x01\x02", col("binary"), "AAEC"),
        ("a,c", col("set"), "a,c"),
        (32, col("bit"), 32),
    ],
)
def test_each_value_prints_in_its_documented_format(value: Any, column: SourceColumn, printed: Any) -> None:
    assert json_value(value, column) == printed
    json.dumps(json_value(value, column), allow_nan=False)  # valid JSON


# --------------------------------------------------------------------------- fixtures


def test_enum_set_and_text_of_mysql_8_0() -> None:
    """mysql-enum-string-set.000001 (MySQL 8.0.28): rust_mysql_common's test asserts each image:
    ENUM index 1 and 2, SET bits 0b101 and 0b1010 of t(f3 ENUM('var1','variant2','foo'),
    f4 SET('one','two','three','four')), per its CREATE TABLE; positions and GTIDs as mysqlbinlog prints them."""
    lines, _, code = run("mysql-enum-string-set.000001")
    assert code == EXIT_OK
    first = {"f1": "0123456789" * 10, "f2": LONG, "f3": "var1", "f4": "one,three", "f5": "0123456789"}
    second = {"f1": "field1", "f2": "field_2", "f3": "variant2", "f4": "two,four", "f5": LONG}
    gtid = "93e95066-a2f4-11ec-9b69-9657f0ae95e2"
    assert changes(lines) == [
        {"position": "mysql-enum-string-set.000001:1077", "gtid": f"{gtid}:3", "table": "mysql.t", "op": "insert",
         "before": None, "after": first},
        {"position": "mysql-enum-string-set.000001:1855", "gtid": f"{gtid}:4", "table": "mysql.t", "op": "update",
         "before": first, "after": second},
        {"position": "mysql-enum-string-set.000001:2945", "gtid": f"{gtid}:5", "table": "mysql.t", "op": "delete",
         "before": second, "after": None},
    ]  # fmt: skip
    ddl = [line for line in lines if "ddl" in line]
    assert ddl[-1] == {"position": "mysql-enum-string-set.000001:572", "gtid": f"{gtid}:2", "schema": "mysql",
                       "ddl": "CREATE TABLE t(f1 CHAR(128), f2 VARCHAR(300), f3 ENUM('var1', 'variant2', 'foo'),"
                              " f4 SET('one', 'two', 'three', 'four'), f5 TEXT)"}  # fmt: skip


def test_bit_columns_are_integers() -> None:
    """mysql_type_bit.000001 (MySQL 8.0.26): rust_mysql_common asserts a = 0b100, b = 'foo', c = 0b100000."""
    lines, _, code = run("mysql_type_bit.000001")
    assert code == EXIT_OK
    gtid = "fbda2ad0-7c46-11ec-ae30-4ef7efc81a2a:3"
    assert changes(lines) == [{"position": "mysql_type_bit.000001:927", "gtid": gtid,
                               "table": "mysql.foo", "op": "insert", "before": None,
                               "after": {"a": 4, "b": "foo", "c": 32}}]  # fmt: skip


def test_a_negative_time_of_many_hours_and_columns_without_names() -> None:
    """time_issue.000001 (MySQL 8.0.40, binlog_row_metadata=MINIMAL: no names, so col_1):
    rust_mysql_common asserts TIME negative 21 days 3:48:27, which mysqlbinlog prints -507:48:27."""
    lines, _, code = run("time_issue.000001")
    assert code == EXIT_OK
    assert changes(lines) == [{"position": "time_issue.000001:358", "gtid": None, "table": "noria.t", "op": "insert",
                               "before": None, "after": {"col_1": "-507:48:27"}}]  # fmt: skip


def test_a_row_image_lacking_columns_stops_where_capture_would() -> None:
    """minimal_row_metadata.000001 (MySQL 8.0.40): the image at 374 holds columns 1, 3 and 5 of 5
    (mysqlbinlog prints @1, @3, @5; rust_mysql_common reads @5 = 3230202323): binlog_row_image=MINIMAL,
    which capture quarantines the table for, so inspect-binlog prints an error line for that event
    with the position, the columns it lacks and the fix, and exits 1 (some rows undecoded)."""
    lines, err, code = run("minimal_row_metadata.000001")
    assert code == EXIT_UNDECODED and changes(lines) == []
    [error] = [line for line in lines if "error" in line]
    assert error["position"] == "minimal_row_metadata.000001:374" and error["table"] == "noria.t1"
    assert "lacks columns @2, @4" in error["error"] and "binlog_row_image=FULL" in error["error"]
    assert "could not be decoded" in err


def test_a_compressed_transaction_prints_its_rows_at_the_payload_s_position() -> None:
    """transaction_compression.000001 (MySQL 8.0.32, rust_mysql_common: a payload of QUERY,
    TABLE_MAP, WRITE_ROWS, XID; id 1 as mysqlbinlog prints the decompressed events)."""
    lines, _, code = run("transaction_compression.000001")
    assert code == EXIT_OK
    assert changes(lines) == [{"position": "transaction_compression.000001:274", "gtid": None, "table": "test.tb1",
                               "op": "insert", "before": None, "after": {"col_1": 1}}]  # fmt: skip


def test_aurora_padding_is_skipped() -> None:
    """mysql-bin.aurora-padding (mysql-binlog-connector-java): an ignorable padding event, then a BEGIN."""
    lines, _, code = run("mysql-bin.aurora-padding")
    assert (lines, code) == ([], EXIT_OK)


def test_a_tagged_gtid_names_its_transaction() -> None:
    """binlog_transaction_with_GTID_TAG.000001 (MySQL 9.6): rust_mysql_common asserts the GTID
    55778904-0299-11f1-b1b8-4ef0c4956feb, tag mytag, gno 3; the row as mysqlbinlog -v prints it."""
    lines, _, code = run("binlog_transaction_with_GTID_TAG.000001")
    assert code == EXIT_OK
    assert changes(lines) == [{"position": "binlog_transaction_with_GTID_TAG.000001:461",
                               "gtid": "55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3", "table": "test.orders",
                               "op": "insert", "before": None,
                               "after": {"col_1": 3, "col_2": 100, "col_3": "250.00"}}]  # fmt: skip


def test_a_mariadb_file_with_full_metadata() -> None:
    """mariadb-bin.000001 (MariaDB 10.5.15): rust_mysql_common asserts the names id, topic,
    event_type, event, created (event binary); mysqlbinlog -v prints @1=62 and 63, 'foo', ENUM index 2,
    '{"foo":1}', TIMESTAMP 1650493084 and 1650493195 (2022-04-20 22:18:04 and 22:19:55 UTC)."""
    lines, _, code = run("mariadb-bin.000001")
    assert code == EXIT_OK
    got = changes(lines)
    assert [(c["position"], c["gtid"], c["table"], c["op"]) for c in got] == [
        ("mariadb-bin.000001:612", "0-1-1", "toddy_test.outbox", "insert"),
        ("mariadb-bin.000001:984", "0-1-2", "toddy_test.outbox", "insert"),
    ]
    event = "eyJmb28iOjF9"  # base64 of {"foo":1}
    assert [c["after"] for c in got] == [
        {"id": 62, "topic": "foo", "event_type": "JSON", "event": event, "created": "2022-04-20T22:18:04Z"},
        {"id": 63, "topic": "foo", "event_type": "JSON", "event": event, "created": "2022-04-20T22:19:55Z"},
    ]


def test_ddl_of_a_statement_based_mysql_5_7_file() -> None:
    """rpl_cross_version_default_utf8mb4_collation.000001 (MySQL 5.7.22, statement-based: no rows
    events): the CREATE, ALTER and DROP TABLE at 219, 1295 and 1521, as mysqlbinlog prints them."""
    lines, _, code = run("rpl_cross_version_default_utf8mb4_collation.000001")
    assert code == EXIT_OK and changes(lines) == []
    assert [(line["position"].rsplit(":", 1)[1], line["ddl"].split("`")[0]) for line in lines] == [
        ("219", "CREATE TABLE "),
        ("1295", "ALTER TABLE "),
        ("1521", "DROP TABLE "),
    ]
    assert lines[1]["ddl"] == "ALTER TABLE `foobar` CHANGE `foo` `old_foo` varchar(100) CHARACTER SET\nutf8mb4 NOT NULL"


def test_only_one_table() -> None:
    lines, _, code = run("mysql-enum-string-set.000001", "mysql_type_bit.000001", table="mysql.foo")
    assert code == EXIT_OK
    assert [(line.get("op"), line.get("table"), "ddl" in line) for line in lines] == [
        (None, None, True),  # CREATE TABLE foo
        ("insert", "mysql.foo", False),
    ]


def test_a_damaged_file_prints_everything_before_then_names_file_and_offset(tmp_path: Path) -> None:
    source = FIXTURES / "mysql-enum-string-set.000001"
    cut = event_offsets(source)[-2]  # the DELETE's rows event
    damaged = tmp_path / source.name
    damaged.write_bytes(source.read_bytes()[: cut + 30])
    lines, err, code = run(str(damaged))
    assert code == EXIT_DAMAGED
    assert [line["op"] for line in changes(lines)] == ["insert", "update"]
    assert err.count("\n") == 1 and str(damaged) in err and f"at offset {cut}" in err


def test_the_command_line(tmp_path: Path) -> None:
    """The command itself: JSON lines on stdout, the damage on stderr, exit 2."""
    good = FIXTURES / "mysql_type_bit.000001"
    damaged = tmp_path / "binlog.000002"
    damaged.write_bytes(good.read_bytes()[:950])
    done = subprocess.run(
        [sys.executable, "-m", "s3rb_stream", "inspect-binlog", str(good), str(damaged), "--table", "mysql.foo"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r.get("op") for r in rows] == [None, "insert", None]  # each file's CREATE TABLE, one row
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {damaged}: the file ends inside an event")


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.name != "NOTICE"))
def test_every_vendored_file_ends_cleanly(name: str) -> None:
    """Nothing crashes: every file ends with exit 0, or 1 or 2 and one line naming it (what capture
    refuses, e.g. MINIMAL row images, partial JSON updates, is named, not a traceback)."""
    _, err, code = run(name)
    assert code in (0, 1, 2)
    if code:
        assert err.count("\n") == 1 and err.startswith(f"error: {FIXTURES / name}" if code == 2 else "error: ")
    else:
        assert err == ""


def test_rows_the_map_cannot_describe_get_an_error_line_and_exit_1(tmp_path: Path) -> None:
    """An ENUM without binlog_row_metadata=FULL has no members in its table map: its rows cannot be
    decoded from the map alone, so they get a line naming why, the rest is printed, exit 1."""
    t = syn.Template()
    enum_map = (
        (99).to_bytes(6, "little") + b"\x01\x00" + b"\x04test\x00" + b"\x01e\x00"
        + syn.lenenc(1) + bytes([0xFE]) + syn.lenenc(2) + bytes([0xF7, 1]) + b"\x01"
    )  # fmt: skip
    enum_rows = (99).to_bytes(6, "little") + struct.pack("<HH", 1, 2) + syn.lenenc(1) + b"\xff" + b"\x00\x02"
    path = tmp_path / "binlog.000001"
    syn.write_file(path, t.head, [
        (syn.QUERY, syn.query("BEGIN")), (syn.TABLE_MAP, enum_map), (syn.WRITE_ROWS, enum_rows),
        (syn.TABLE_MAP, t.table_map), (syn.WRITE_ROWS, syn.int_rows(t.table_id, [5])), (syn.XID, bytes(8)),
    ])  # fmt: skip
    lines, err, code = run(str(path))
    assert code == 1 and err == "error: 1 rows event(s) could not be decoded (see their lines)\n"
    assert lines[0]["table"] == "test.e" and "has no members" in lines[0]["error"] and "op" not in lines[0]
    assert lines[1]["after"] == {"col_1": 5}
