"""The type matrix: edge values of every MySQL type, by binlog and by snapshot, into DuckDB and into
the Redshift emulator, compared value by value with what the contract says must arrive.

Edge values: minimum, maximum, NULL, zero dates, 4-byte characters, and text over 64 KB (exact in
DuckDB; cut on a character boundary in Redshift, whose VARCHAR stops at 65535 bytes, by the
``overflow: truncate`` policy the tables file sets for that column).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.commands.verify import verify
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import Pipeline
from tests.integration.test_redshift_end_to_end import query_target, settings_for_target
from tests.integration.test_repair_snapshot import target_sql

_n = itertools.count(1)

COLUMNS = [
    ("ti", "TINYINT"), ("uti", "TINYINT UNSIGNED"), ("si", "SMALLINT"), ("usi", "SMALLINT UNSIGNED"),
    ("mi", "MEDIUMINT"), ("umi", "MEDIUMINT UNSIGNED"), ("i", "INT"), ("ui", "INT UNSIGNED"),
    ("bi", "BIGINT"), ("ubi", "BIGINT UNSIGNED"), ("d", "DECIMAL(38,10)"), ("dw", "DECIMAL(65,30)"),
    ("f", "FLOAT"), ("db", "DOUBLE"), ("b1", "BIT(1)"), ("b64", "BIT(64)"), ("bo", "BOOL"),
    ("c", "CHAR(4)"), ("vc", "VARCHAR(100)"), ("tx", "MEDIUMTEXT"), ("e", "ENUM('a','b')"),
    ("st", "SET('x','y','z')"), ("j", "JSON"), ("bn", "BINARY(4)"), ("vb", "VARBINARY(10)"), ("bl", "BLOB"),
    ("dt", "DATE"), ("dtm", "DATETIME(6)"), ("ts", "TIMESTAMP(6) NULL DEFAULT NULL"), ("tm", "TIME(6)"),
    ("yr", "YEAR"), ("pt", "POINT"), ("gs", "BIGINT AS (i + 1) STORED"), ("gv", "BIGINT AS (i * 2) VIRTUAL"),
]  # fmt: skip
GENERATED = {"gs", "gv"}
NAMES = [name for name, _ in COLUMNS]
D38 = "9" * 28 + "." + "9" * 10
D65 = "9" * 35 + "." + "9" * 30
LONG_TEXT = "x" * 70000 + "😀"
JSON_DOC = '{"k": [1, 2.5, null, true], "ü": "😀"}'

# The server's time_zone is -07:00 (tests/integration/conftest.py): TIMESTAMP literals are local.
MIN_ROW = (
    "(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,"
    f" -{D38}, -{D65}, -3.40282e38, -1.7976931348623157e308, b'0', b'0', 0,"
    " '', '', '', 'a', '', '[]', x'00000000', '', '',"
    " '1000-01-01', '1000-01-01 00:00:00.000000', '1969-12-31 17:00:01.000000', '-838:59:59.000000', 1901,"
    " ST_GeomFromText('POINT(-180 -90)'), DEFAULT, DEFAULT)"
)
MAX_ROW = (
    "(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,"
    f" 18446744073709551615, {D38}, {D65}, 3.40282e38, 1.7976931348623157e308, b'1', {'b' + repr('1' * 64)}, 1,"
    f" 'zzzz', REPEAT('😀', 100), CONCAT(REPEAT('x', 70000), '😀'), 'b', 'x,y,z', '{JSON_DOC}',"
    " x'ffffffff', x'00ff00ff00ff00ff00ff', x'00ff10',"
    " '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-18 20:14:07.999999', '838:59:59.000000', 2155,"
    " ST_GeomFromText('POINT(180 90)'), DEFAULT, DEFAULT)"
)
NULL_ROW = "(3" + ", NULL" * (len(COLUMNS) - 2) + ", DEFAULT, DEFAULT)"
ZERO_ROW = "(4" + ", NULL" * 26 + ", '2026-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', NULL, NULL, NULL"
ZERO_ROW += ", DEFAULT, DEFAULT)"


def point(x: float, y: float) -> bytes:
    """MySQL's internal geometry: a 4-byte SRID (0), then little-endian WKB."""
    return b"\x00\x00\x00\x00" + struct.pack("<bIdd", 1, 1, x, y)


def f32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def expected(target: str) -> list[tuple[Any, ...]]:
    long_text = LONG_TEXT if target == "duckdb" else "x" * 65535  # truncated whole characters only
    minimum = (
        1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, Decimal(0),
        Decimal("-" + D38), "-" + D65, f32(-3.40282e38), -1.7976931348623157e308, 0, Decimal(0), 0,
        "", "", "", "a", "", "[]", b"\x00\x00\x00\x00", b"", b"",
        date(1000, 1, 1), datetime(1000, 1, 1), datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), "-838:59:59.000000", 1901,
        point(-180, -90), -2147483647, -4294967296,
    )  # fmt: skip
    maximum = (
        2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,
        Decimal(18446744073709551615), Decimal(D38), D65, f32(3.40282e38), 1.7976931348623157e308, 1,
        Decimal(2**64 - 1), 1, "zzzz", "😀" * 100, long_text, "b", "x,y,z", JSON_DOC,
        b"\xff\xff\xff\xff", b"\x00\xff" * 5, b"\x00\xff\x10",
        date(9999, 12, 31), datetime(9999, 12, 31, 23, 59, 59, 999999),
        datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC), "838:59:59.000000", 2155,
        point(180, 90), 2147483648, 4294967294,
    )  # fmt: skip
    nulls = (3, *[None] * len(COLUMNS))
    zero_dates = (4, *[None] * len(COLUMNS))  # zero dates arrive as NULL
    return [minimum, maximum, nulls, zero_dates]


def normalise(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("\\x"):  # the driver knows Redshift's VARBYTE, not BYTEA
        return bytes.fromhex(value[2:])
    return value


@dataclass
class Matrix:
    server: MariaDBServer
    db: str
    schema: str
    settings: Settings
    target: str
    redshift_port: int | None

    def rows(self) -> list[tuple[Any, ...]]:
        rows = query_target(self.settings, self.redshift_port, self.schema, "matrix", ", ".join(["id", *NAMES]), "id")
        return [tuple(normalise(v) for v in row) for row in rows]


@pytest.fixture(params=["duckdb", "redshift"])
def matrix(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Iterator[Matrix]:
    n = next(_n)
    db, schema = f"types{n}", f"types_target{n}"
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    mariadb.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.matrix (id INT PRIMARY KEY, {columns})")
    tables = tmp_path / "tables.yml"
    tables.write_text(f'tables:\n  - name: "{db}.matrix"\n    overflow_columns: {{tx: truncate}}\n')
    settings, port = settings_for_target(request, mariadb, tmp_path, tables, f"types-{n}")
    yield Matrix(mariadb, db, schema, settings, request.param, port)


def insert(m: Matrix, logged: bool) -> None:
    conn = m.server.connect(m.db)
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")  # zero dates are what legacy schemas hold
        if not logged:
            cur.execute("SET SESSION sql_log_bin = 0")
        cur.execute(f"INSERT INTO matrix VALUES {MIN_ROW}, {MAX_ROW}, {NULL_ROW}, {ZERO_ROW}")
        cur.execute("UPDATE matrix SET i = i WHERE id = 1")  # an update carries generated columns too
    conn.close()


def test_edge_values_by_binlog(matrix: Matrix) -> None:
    run(matrix.settings, matrix.db, matrix.schema, until_caught_up=True, start_position="current")
    insert(matrix, logged=True)
    run(matrix.settings, matrix.db, matrix.schema, until_caught_up=True)
    assert_rows(matrix.rows(), expected(matrix.target))
    assert_verifies(matrix)


def test_edge_values_by_snapshot(matrix: Matrix) -> None:
    insert(matrix, logged=False)
    snapshot(matrix.settings, matrix.db, matrix.schema)
    assert_rows(matrix.rows(), expected(matrix.target))
    assert_verifies(matrix)


def assert_verifies(m: Matrix) -> None:
    """``verify`` finds every type equal (the one value a policy cut, on Redshift, aside), then the
    one value changed in the target, by its key and column."""

    def found() -> list[tuple[tuple[str | None, ...], tuple[str, ...]]]:
        result = verify(m.settings, m.db, m.schema, wait_seconds=30)
        return [(d.key, d.columns) for d in result.tables[0].differences]

    fitted = [(("2",), ("tx",))] if m.target == "redshift" else []  # 70,000 characters cut by overflow: truncate
    assert found() == fitted
    target_sql(m.settings, m.redshift_port, f'UPDATE "{m.schema}"."matrix" SET dw = \'1.5\' WHERE id = 1')
    assert found() == sorted([(("1",), ("dw",)), *fitted])


def assert_rows(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want)
    for row, expect in zip(got, want, strict=True):
        for name, value, wanted in zip(["id", *NAMES], row, expect, strict=True):
            assert value == wanted, f"row {row[0]}, column {name}: {value!r:.200} != {wanted!r:.200}"


def test_wide_decimals_follow_decimal_overflow_by_binlog_and_by_snapshot(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.money"\n    decimal_overflow: "null"\n')
    pipeline.sql("CREATE TABLE money (id INT PRIMARY KEY, amount DECIMAL(65,30))")
    pipeline.sql_unlogged("INSERT INTO money VALUES (1, 1.5), (2, 0.0001), (3, NULL)")  # by snapshot
    pipeline.snapshot()
    pipeline.sql("INSERT INTO money VALUES (4, -7.25), (5, 1.0009)")  # by binlog
    pipeline.run()
    got = pipeline.target_query(f'SELECT id, amount FROM "{pipeline.target_schema}".money ORDER BY id')
    assert got == [(1, Decimal("1.500")), (2, None), (3, None), (4, Decimal("-7.250")), (5, None)]
