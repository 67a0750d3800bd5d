"""verify's SQL. The DuckDB dialect runs here, in an embedded DuckDB: each type renders as the text
MySQL's side prints (DATE_FORMAT, CAST AS CHAR, LOWER(HEX())), a row's digest is the first 15 hex
digits of the MD5 of its text (NULL flags, then unit-separated values), the number Python computes
from those texts, and the per-range statements return one row per range with its count and digest sum. The MySQL and
Redshift texts are checked for their functions and quoting only (no server here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.sql.duckdb import column_type
from s3rb_stream.sql.verify import (
    DIGEST_HEX,
    HASHED_KEY_SPAN,
    RANGE_KEY_HEX,
    Side,
    VerifyPlan,
    as_fetched,
    fetched,
    integer_range_key,
    rendered,
)

KINDS = SourceTable(
    "shop",
    "kinds",
    (
        SourceColumn("id", "int", "int", nullable=False),
        SourceColumn("u", "bigint", "bigint(20) unsigned"),
        SourceColumn("d", "decimal", "decimal(10,2)", precision=10, scale=2),
        SourceColumn("v", "varchar", "varchar(20)", char_length=20),
        SourceColumn("dt", "date", "date"),
        SourceColumn("ts", "datetime", "datetime(6)", datetime_precision=6),
        SourceColumn("tz", "timestamp", "timestamp(6)", datetime_precision=6),
        SourceColumn("b", "blob", "blob"),
        SourceColumn("bits", "bit", "bit(5)", precision=5),
        SourceColumn("y", "year", "year"),
    ),
    ("id",),
)

# Rows as stored in the target (in KINDS' column order), and each value as the MySQL side's
# rendering prints it: CAST(... AS CHAR), DATE_FORMAT(..., '%Y-%m-%d %H:%i:%s.%f') in a UTC
# session, LOWER(HEX(...)), CAST(bit + 0 AS CHAR).
STORED: list[tuple[Any, ...]] = [
    (
        1,
        Decimal(18446744073709551615),
        Decimal("1.5"),
        "héllo",
        date(2026, 1, 2),
        datetime(2026, 1, 2, 3, 4, 5, 7),
        "2026-01-02 08:34:05.000007+05:30",
        b"\x00\xabZ",
        5,
        2026,
    ),
    (2, None, None, None, None, None, None, None, None, None),
    (
        -3,
        Decimal(0),
        Decimal("-0.05"),
        "",
        date(1000, 1, 1),
        datetime(2026, 1, 2),
        "1999-12-31 23:00:00-01",
        b"",
        0,
        1901,
    ),
]
MYSQL_TEXT: list[tuple[str | None, ...]] = [
    (
        "1",
        "18446744073709551615",
        "1.50",
        "héllo",
        "2026-01-02",
        "2026-01-02 03:04:05.000007",
        "2026-01-02 03:04:05.000007",
        "00ab5a",
        "5",
        "2026",
    ),
    ("2", None, None, None, None, None, None, None, None, None),
    (
        "-3",
        "0",
        "-0.05",
        "",
        "1000-01-01",
        "2026-01-02 00:00:00.000000",
        "2000-01-01 00:00:00.000000",
        "",
        "0",
        "1901",
    ),
]


def flagged(col: SourceColumn) -> bool:
    """Whether a row's text starts with a NULL flag for the column: nullable, or a date (a zero
    date is NULL in the target)."""
    return col.nullable or col.data_type in ("date", "datetime", "timestamp")


def row_text(columns: Sequence[SourceColumn], values: Sequence[str | None]) -> str:
    """A row's text as documented: a flag per flagged column (1: NULL), then each value after the
    unit separator, a NULL as nothing."""
    flags = "".join("1" if v is None else "0" for c, v in zip(columns, values, strict=True) if flagged(c))
    return flags + "".join("\x1f" + (v or "") for v in values)


def md5_int(text: str, digits: int) -> int:
    return int(hashlib.md5(text.encode()).hexdigest()[:digits], 16)


def row_digest(columns: Sequence[SourceColumn], values: Sequence[str | None]) -> int:
    return md5_int(row_text(columns, values), DIGEST_HEX)


def hashed_range_key(columns: Sequence[SourceColumn], key: Sequence[str | None]) -> int:
    return md5_int(row_text(columns, key), RANGE_KEY_HEX)


def create(con: duckdb.DuckDBPyConnection, name: str, table: SourceTable, extra: str = "") -> None:
    columns = ", ".join(f'"{c.name}" {column_type(c)}' for c in table.columns)
    con.execute(f'CREATE TABLE "{name}" ({columns}{extra})')


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'America/Los_Angeles'")  # not UTC: TIMESTAMP must still render in UTC
    yield connection
    connection.close()


@pytest.fixture
def kinds(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    create(con, "kinds", KINDS)
    marks = ", ".join("CAST(? AS TIMESTAMPTZ)" if c.name == "tz" else "?" for c in KINDS.columns)
    con.executemany(f'INSERT INTO "kinds" VALUES ({marks})', STORED)
    return con


def kinds_side() -> Side:
    return Side("duckdb", '"kinds"', {c: c for c in KINDS.column_names})


def test_the_table_is_created_with_the_pipelines_column_types(kinds: duckdb.DuckDBPyConnection) -> None:
    types = dict(kinds.execute("SELECT column_name, data_type FROM information_schema.columns").fetchall())
    assert types == {
        "id": "INTEGER",
        "u": "DECIMAL(20,0)",
        "d": "DECIMAL(10,2)",
        "v": "VARCHAR",
        "dt": "DATE",
        "ts": "TIMESTAMP",
        "tz": "TIMESTAMP WITH TIME ZONE",
        "b": "BLOB",
        "bits": "BIGINT",
        "y": "SMALLINT",
    }


@pytest.mark.parametrize("position", range(len(KINDS.columns)), ids=KINDS.column_names)
def test_duckdb_renders_each_type_as_the_mysql_side_prints_it(kinds: duckdb.DuckDBPyConnection, position: int) -> None:
    col = KINDS.columns[position]
    got = kinds.execute(f'SELECT {rendered(col, "duckdb")} FROM "kinds" ORDER BY abs("id")').fetchall()
    assert [v for (v,) in got] == [row[position] for row in MYSQL_TEXT]  # NULL stays NULL


def test_duckdb_row_digest_is_the_md5_of_the_documented_row_text(kinds: duckdb.DuckDBPyConnection) -> None:
    plan = VerifyPlan(KINDS, "duckdb")
    assert plan.digested == list(KINDS.columns) and plan.fetched == []
    got = kinds.execute(f'SELECT {plan.digest(kinds_side())} FROM "kinds" ORDER BY abs("id")').fetchall()
    assert [d for (d,) in got] == [row_digest(KINDS.columns, texts) for texts in MYSQL_TEXT]
    assert all(0 <= d < 2 ** (4 * DIGEST_HEX) for (d,) in got)


def test_duckdb_key_text_and_hashed_range_key_follow_the_same_row_text(kinds: duckdb.DuckDBPyConnection) -> None:
    table = SourceTable(KINDS.database, KINDS.name, KINDS.columns, ("v", "dt", "b"))
    plan, side = VerifyPlan(table, "duckdb"), kinds_side()
    assert not plan.integer_key
    got = kinds.execute(f'SELECT {plan.range_key(side)}, {plan.key_text(side)} FROM "kinds" ORDER BY abs("id")')
    keys = [(t[3], t[4], t[7]) for t in MYSQL_TEXT]
    cols = [KINDS.columns[3], KINDS.columns[4], KINDS.columns[7]]
    assert got.fetchall() == [(hashed_range_key(cols, k), row_text(cols, k)) for k in keys]


ITEMS = SourceTable(
    "shop",
    "items",
    (
        SourceColumn("id", "int", "int", nullable=False),
        SourceColumn("name", "varchar", "varchar(20)", char_length=20),
        SourceColumn("price", "decimal", "decimal(10,2)", precision=10, scale=2),
        SourceColumn("we\"ird 'col`", "varchar", "varchar(20)", char_length=20),
    ),
    ("id",),
)
ITEM_IDS = range(-20, 80)  # 100 rows
ITEMS_SIDE = Side(
    "duckdb",
    '"it""ems"',
    {"id": "id", "name": "name", "price": "price", "we\"ird 'col`": 'tgt "odd"'},
    live='"_s3rb_deleted_at" IS NULL',
)


def item_texts(i: int) -> tuple[str | None, ...]:
    return (str(i), f"n{i}" if i % 7 else None, f"{i}.25", "x'\"" * (i % 3))


@pytest.fixture
def items(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute(
        'CREATE TABLE "it""ems" ("id" INTEGER, "name" VARCHAR, "price" DECIMAL(10,2), "tgt ""odd""" VARCHAR,'
        ' "_s3rb_seq" BIGINT, "_s3rb_deleted_at" TIMESTAMPTZ)'
    )
    con.executemany(
        'INSERT INTO "it""ems" VALUES (?, ?, ?, ?, ?, NULL)',
        [(i, t[1], Decimal(t[2] or "0"), t[3], 1000 + i) for i in ITEM_IDS for t in [item_texts(i)]],
    )
    con.execute(
        "INSERT INTO \"it\"\"ems\" VALUES (500, 'deleted', 1, '', 1, TIMESTAMPTZ '2026-01-01 00:00:00+00')"
    )  # a soft-deleted row: outside the live condition
    return con


def expected_sums(ids: Sequence[int], low: int, width: int) -> dict[int, tuple[int, int]]:
    out: dict[int, tuple[int, int]] = {}
    for i in ids:
        r = (i - low) // width
        count, total = out.get(r, (0, 0))
        out[r] = (count + 1, total + row_digest(ITEMS.columns, item_texts(i)))
    return out


def test_bounds_are_the_lowest_and_highest_live_key(items: duckdb.DuckDBPyConnection) -> None:
    plan = VerifyPlan(ITEMS, "duckdb")
    assert plan.integer_key
    assert items.execute(plan.bounds(ITEMS_SIDE)).fetchall() == [(-20, 79)]


@pytest.mark.parametrize(
    ("ranges", "low", "width", "ids"),
    [
        ((), -20, 16, ITEM_IDS),  # the whole table: 7 ranges, the last one short
        (((-4, 28),), -20, 16, range(-4, 28)),  # ranges 1 and 2 only
        (((-20, -16), (60, 64)), -20, 4, [*range(-20, -16), *range(60, 64)]),  # two spans of a finer level
        (((-20, 236),), -20, 256, ITEM_IDS),  # one range over everything
        (((100, 200),), -20, 16, []),  # nothing there
    ],
)
def test_sums_run_on_duckdb_and_give_one_row_per_range_with_its_count_and_digest_sum(
    items: duckdb.DuckDBPyConnection,
    ranges: Sequence[tuple[int, int]],
    low: int,
    width: int,
    ids: Sequence[int],
) -> None:
    plan = VerifyPlan(ITEMS, "duckdb")
    got = items.execute(plan.sums(ITEMS_SIDE, ranges, low, width)).fetchall()
    assert len(got) == len({r for r, _, _ in got})  # one row per range
    assert {r: (c, t) for r, c, t in got} == expected_sums(ids, low, width)


def test_rows_return_range_key_rendered_values_and_seq(items: duckdb.DuckDBPyConnection) -> None:
    plan = VerifyPlan(ITEMS, "duckdb")
    got = items.execute(plan.rows(ITEMS_SIDE, [(0, 4), (-20, -19)], seq="_s3rb_seq") + " ORDER BY 1").fetchall()
    assert got == [(i, *item_texts(i), 1000 + i) for i in (-20, 0, 1, 2, 3)]
    without_seq = items.execute(plan.rows(ITEMS_SIDE, [(7, 8)])).fetchall()
    assert without_seq == [(7, *item_texts(7))]


def test_target_keys_return_range_key_rendered_key_and_stored_key(items: duckdb.DuckDBPyConnection) -> None:
    plan = VerifyPlan(ITEMS, "duckdb")
    assert items.execute(plan.target_keys(ITEMS_SIDE, [(5, 7)]) + " ORDER BY 1").fetchall() == [
        (5, "5", 5),
        (6, "6", 6),
    ]


TAGS = SourceTable(
    "shop",
    "tags",
    (
        SourceColumn("name", "varchar", "varchar(20)", char_length=20, nullable=False),
        SourceColumn("n", "bigint", "bigint(20) unsigned", nullable=False),
        SourceColumn("note", "text", "text"),
    ),
    ("name", "n"),
)


def test_hashed_range_keys_partition_rows_as_python_computes(con: duckdb.DuckDBPyConnection) -> None:
    create(con, "tags", TAGS)
    rows = [(f"tag-{i % 13}é", Decimal(i * 7919), None if i % 5 == 0 else f"note {i}") for i in range(300)]
    con.executemany('INSERT INTO "tags" VALUES (?, ?, ?)', rows)
    plan, side = VerifyPlan(TAGS, "duckdb"), Side("duckdb", '"tags"', {c: c for c in TAGS.column_names})
    assert not plan.integer_key
    width = HASHED_KEY_SPAN // 8
    expected: dict[int, tuple[int, int]] = {}
    for name, n, note in rows:
        texts = (name, str(n), note)
        r = hashed_range_key(TAGS.columns[:2], texts[:2]) // width
        count, total = expected.get(r, (0, 0))
        expected[r] = (count + 1, total + row_digest(TAGS.columns, texts))
    got = con.execute(plan.sums(side, [], 0, width)).fetchall()
    assert {r: (c, t) for r, c, t in got} == expected
    assert sum(c for c, _ in expected.values()) == 300 and len(expected) == 8


READINGS = SourceTable(
    "shop",
    "readings",
    (
        SourceColumn("id", "bigint", "bigint", nullable=False),
        SourceColumn("score", "float", "float"),
        SourceColumn("note", "varchar", "varchar(8)", char_length=8),
        SourceColumn("ratio", "double", "double"),
    ),
    ("id",),
)


def test_fetched_columns_come_after_the_digested_ones_as_stored(con: duckdb.DuckDBPyConnection) -> None:
    create(con, "readings", READINGS)
    con.executemany('INSERT INTO "readings" VALUES (?, ?, ?, ?)', [(1, 3 / 7, "a", 1e20), (2, None, None, None)])
    plan, side = VerifyPlan(READINGS, "duckdb"), Side("duckdb", '"readings"', {c: c for c in READINGS.column_names})
    assert [c.name for c in plan.digested] == ["id", "note"]
    assert [c.name for c in plan.fetched] == ["score", "ratio"]
    rows = con.execute(plan.rows(side, [(1, 3)]) + " ORDER BY 1").fetchall()
    assert rows == [(1, "1", "a", pytest.approx(3 / 7, rel=1e-7), 1e20), (2, "2", None, None, None)]
    digests = con.execute(plan.digests(side, [(1, 3)]) + " ORDER BY 1").fetchall()
    digested = plan.digested
    assert [d[:3] for d in digests] == [
        (1, row_text(digested[:1], ["1"]), row_digest(digested, ["1", "a"])),
        (2, row_text(digested[:1], ["2"]), row_digest(digested, ["2", None])),
    ]
    assert digests[0][4] == 1e20


# ----------------------------------------------------------------------------------- MySQL and Redshift texts

HOSTILE = SourceTable(
    "shop",
    "hostile",
    (
        SourceColumn('i`d"', "int", "int", nullable=False),
        SourceColumn('t`s"', "timestamp", "timestamp(6)", datetime_precision=6),
        SourceColumn('b`"', "varbinary", "varbinary(8)", char_length=8),
        SourceColumn("k`", "varchar", "varchar(8)", char_length=8),
        SourceColumn('f"', "float", "float"),
        SourceColumn("j", "json", "json"),
    ),
    ("k`", 'i`d"'),
)


def mysql_side() -> Side:
    return Side("mysql", "`shop`.`hostile`", {c: c for c in HOSTILE.column_names})


def redshift_side() -> Side:
    return Side("redshift", '"s"."hostile"', {c: c for c in HOSTILE.column_names})


@pytest.mark.parametrize(
    ("col", "expected"),
    [
        (SourceColumn("c", "int", "int"), "CAST(`c` AS CHAR)"),
        (SourceColumn("c", "decimal", "decimal(10,2)", precision=10, scale=2), "CAST(`c` AS CHAR)"),
        (SourceColumn("c", "bit", "bit(5)", precision=5), "CAST(`c` + 0 AS CHAR)"),
        (SourceColumn("c", "year", "year"), "CAST(`c` + 0 AS CHAR)"),
        (SourceColumn("c", "blob", "blob"), "LOWER(HEX(`c`))"),
        (
            SourceColumn("c", "date", "date"),
            "IF(MONTH(`c`) = 0 OR DAYOFMONTH(`c`) = 0, NULL, CAST(`c` AS CHAR))",
        ),
        (  # CAST prints the column's own fractional digits: 0 and 6 the targets print alike
            SourceColumn("c", "datetime", "datetime(6)", datetime_precision=6),
            "IF(MONTH(`c`) = 0 OR DAYOFMONTH(`c`) = 0, NULL, CAST(`c` AS CHAR))",
        ),
        (
            SourceColumn("c", "datetime", "datetime(3)", datetime_precision=3),
            "IF(MONTH(`c`) = 0 OR DAYOFMONTH(`c`) = 0, NULL, DATE_FORMAT(`c`, '%Y-%m-%d %H:%i:%s.%f'))",
        ),
        (SourceColumn("c", "varchar", "varchar(5)"), "CONVERT(`c` USING utf8mb4)"),
        (SourceColumn("c", "json", "json"), "CONVERT(`c` USING utf8mb4)"),
    ],
)
def test_mysql_renderings(col: SourceColumn, expected: str) -> None:
    assert rendered(col, "mysql") == expected


@pytest.mark.parametrize(
    ("col", "expected"),
    [
        (SourceColumn("c", "int", "int"), 'CAST("c" AS VARCHAR)'),
        (SourceColumn("c", "blob", "blob"), "FROM_VARBYTE(\"c\", 'hex')"),
        (SourceColumn("c", "date", "date"), "TO_CHAR(\"c\", 'YYYY-MM-DD')"),
        (SourceColumn("c", "timestamp", "timestamp"), "TO_CHAR(\"c\", 'YYYY-MM-DD HH24:MI:SS')"),
        (
            SourceColumn("c", "timestamp", "timestamp(6)", datetime_precision=6),
            "TO_CHAR(\"c\", 'YYYY-MM-DD HH24:MI:SS.US')",
        ),
        (SourceColumn("c", "varchar", "varchar(5)"), '"c"'),
    ],
)
def test_redshift_renderings(col: SourceColumn, expected: str) -> None:
    assert rendered(col, "redshift") == expected


def test_mysql_statements_use_its_functions_and_quote_every_name_with_backticks() -> None:
    plan = VerifyPlan(HOSTILE, "redshift")
    side = mysql_side()
    sums = plan.sums(side, [(0, 16)], 0, 4)
    for word in ("CONV(SUBSTRING(MD5(", "AS UNSIGNED", 'CAST(`t``s"` AS CHAR)', "LOWER(HEX(", "CONCAT_WS(", " DIV 4"):
        assert word in sums
    for name in ('`i``d"`', '`t``s"`', '`b``"`', "`k```"):  # a backtick inside a name is doubled
        assert name in sums
    assert "`shop`.`hostile`" in sums
    assert "FROM `shop`.`hostile` WHERE ((CAST(CONV(SUBSTRING(MD5(CONCAT_WS(" in sums  # hashed range key
    assert ", 1, 12), 16, 10) AS UNSIGNED) >= 0 AND " in sums  # of 48 bits
    assert ", 1, 15), 16, 10) AS UNSIGNED)" in sums  # the row digest: 60 bits
    assert "STRTOL" not in sums and "TO_CHAR" not in sums
    rows = plan.rows(side, [(0, 16)])
    assert rows.split(" FROM ")[0].endswith(', CAST(`f"` AS DOUBLE), `j`')  # fetched for Redshift: FLOAT, JSON
    assert plan.source_rows(side, [(0, 16)]).startswith('SELECT `i``d"`, `t``s"`')


def test_redshift_statements_use_its_functions_and_quote_every_name_with_double_quotes() -> None:
    plan = VerifyPlan(HOSTILE, "redshift")
    side = redshift_side()
    sums = plan.sums(side, [(0, 16)], 0, 4)
    for word in (
        "STRTOL(SUBSTRING(MD5(",
        ", 16)",
        "TO_CHAR(",
        "FROM_VARBYTE(",
        "CHR(31)",
        "DECIMAL(38,0)",
        " / 4",
    ):
        assert word in sums
    for name in ('"i`d"""', '"t`s"""', '"b`"""', '"k`"'):  # a double quote inside a name is doubled
        assert name in sums
    assert 'FROM "s"."hostile" WHERE ((STRTOL(SUBSTRING(MD5(' in sums
    assert "CONV(" not in sums and "DATE_FORMAT" not in sums and "strftime" not in sums
    assert '"f""' not in sums and '"j"' not in sums  # FLOAT and JSON are fetched, not digested, on Redshift
    assert ', "f""", "j" FROM "s"."hostile" WHERE ' in plan.rows(side, [(0, 16)])


def test_integer_keys_range_over_the_key_itself_in_every_dialect() -> None:
    plan = VerifyPlan(SourceTable("s", "t", (SourceColumn('i"d', "int", "int", nullable=False),), ('i"d',)), "duckdb")
    assert plan.range_key(Side("mysql", "`t`", {'i"d': 'i"d'})) == 'CAST(`i"d` AS SIGNED)'
    assert plan.range_key(Side("duckdb", '"t"', {'i"d': 'i"d'})) == 'CAST("i""d" AS BIGINT)'
    assert plan.range_key(Side("redshift", '"t"', {'i"d': "other"})) == 'CAST("other" AS BIGINT)'


@pytest.mark.parametrize(
    ("col", "target", "expected"),
    [
        (SourceColumn("c", "float", "float"), "duckdb", True),
        (SourceColumn("c", "double", "double"), "redshift", True),
        (SourceColumn("c", "json", "json"), "duckdb", False),
        (SourceColumn("c", "json", "json"), "redshift", True),
        (SourceColumn("c", "decimal", "decimal(38,2)", precision=38, scale=2), "redshift", False),
        (SourceColumn("c", "decimal", "decimal(65,30)", precision=65, scale=30), "redshift", False),  # widened
        (
            SourceColumn("c", "decimal", "decimal(65,30)", precision=65, scale=30, decimal_overflow="truncate"),
            "duckdb",
            True,
        ),
        (SourceColumn("c", "blob", "blob"), "redshift", False),
    ],
)
def test_what_is_fetched(col: SourceColumn, target: str, expected: bool) -> None:
    assert fetched(col, target) is expected  # type: ignore[arg-type]


def test_as_fetched_widens_a_mysql_float_only() -> None:
    f = SourceColumn("f", "float", "float")
    assert as_fetched(f, "mysql") == "CAST(`f` AS DOUBLE)"
    assert as_fetched(f, "duckdb") == '"f"'
    assert as_fetched(SourceColumn("g", "double", "double"), "mysql") == "`g`"


@pytest.mark.parametrize(
    ("columns", "key", "expected"),
    [
        ((SourceColumn("k", "int", "int"),), ("k",), True),
        ((SourceColumn("k", "bigint", "bigint"),), ("k",), True),
        ((SourceColumn("k", "bigint", "bigint(20) unsigned"),), ("k",), False),  # may not fit BIGINT
        ((SourceColumn("k", "int", "int unsigned"),), ("k",), True),
        ((SourceColumn("k", "varchar", "varchar(5)"),), ("k",), False),
        ((SourceColumn("k", "int", "int"), SourceColumn("j", "int", "int")), ("k", "j"), False),
    ],
)
def test_integer_range_key(columns: tuple[SourceColumn, ...], key: tuple[str, ...], expected: bool) -> None:
    assert integer_range_key(SourceTable("s", "t", columns, key)) is expected
