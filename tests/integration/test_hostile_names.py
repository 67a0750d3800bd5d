"""Table and column names with quotes, backticks, spaces, non-ASCII letters and reserved words, and
values full of SQL metacharacters: all round-trip into DuckDB and the Redshift emulator unchanged."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.pipeline.runner import run
from s3rb_stream.sql.identifiers import quote_ansi
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.test_redshift_end_to_end import settings_for_target

_n = itertools.count(1)
TABLES = ['o\'rders "q" ü', "back`tick tábla"]
COLUMNS = ["it's", '"quoted"', "sp ace", "bäck`tick", "naïve", "select"]
VALUES = [
    "'; DROP TABLE t; --",
    "\\' OR 1=1 -- \\",
    '"$$" $1 %s %(x)s ? :name',
    "`x` {} [] ;",
    "line\nbreak\ttab",
    "ünïcödé ✓ 😀",
]


def mysql_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def yaml_name(db: str, table: str) -> str:
    return '"' + f"{db}.{table}".replace("\\", "\\\\").replace('"', '\\"') + '"'


def target_rows(settings: Any, port: int | None, schema: str, table: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(quote_ansi(c) for c in ["id", *COLUMNS])
    statement = f"SELECT {columns} FROM {quote_ansi(schema)}.{quote_ansi(table)} ORDER BY 1"
    if port is None:
        wh = DuckDBWarehouse(settings.warehouse().path)
        try:
            return [tuple(r) for r in wh.query(statement)]
        finally:
            wh.close()
    import redshift_connector

    conn = redshift_connector.connect(host="127.0.0.1", port=port, user="postgres", password="", database="postgres",
                                      ssl=False)  # fmt: skip
    try:
        cur = conn.cursor()
        cur.execute(statement)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


@pytest.fixture(params=["duckdb", "redshift"])
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("target", ["duckdb", "redshift"], indirect=True)
def test_hostile_names_and_values_round_trip(
    request: pytest.FixtureRequest, target: str, mariadb: MariaDBServer, tmp_path: Path
) -> None:
    n = next(_n)
    db, schema = f"hostile{n}", f"hostile target {n}"
    mariadb.execute(f"CREATE DATABASE {db}")
    for table in TABLES:
        columns = ", ".join(f"{mysql_name(c)} TEXT" for c in COLUMNS)
        mariadb.execute(f"CREATE TABLE {db}.{mysql_name(table)} (id INT PRIMARY KEY, {columns})")
    tables = tmp_path / "tables.yml"
    tables.write_text("tables:\n" + "".join(f"  - name: {yaml_name(db, t)}\n" for t in TABLES))
    request.param = target  # settings_for_target reads the target from the request
    settings, port = settings_for_target(request, mariadb, tmp_path, tables, f"hostile-{n}")

    def insert(table: str, first_id: int) -> None:
        conn = mariadb.connect(db)
        with conn.cursor() as cur:
            placeholders = ", ".join(["%s"] * (len(COLUMNS) + 1))
            columns = ", ".join(mysql_name(c) for c in ["id", *COLUMNS])
            for i, value in enumerate(VALUES):
                row = [first_id + i, *[value if j % 2 == 0 else value[::-1] for j in range(len(COLUMNS))]]
                cur.execute(f"INSERT INTO {mysql_name(table)} ({columns}) VALUES ({placeholders})", row)
        conn.close()

    for table in TABLES:
        insert(table, 1)
    snapshot(settings, db, schema)  # by query
    for table in TABLES:
        insert(table, 100)  # by binlog
        mariadb.execute(f"UPDATE {mysql_name(table)} SET {mysql_name('select')} = 'it''s' WHERE id = 1", database=db)
        mariadb.execute(f"DELETE FROM {mysql_name(table)} WHERE id = 2", database=db)
    run(settings, db, schema, until_caught_up=True)

    for table in TABLES:
        conn = mariadb.connect(db)
        with conn.cursor() as cur:
            columns = ", ".join(mysql_name(c) for c in ["id", *COLUMNS])
            cur.execute(f"SELECT {columns} FROM {mysql_name(table)} ORDER BY 1")
            source = [tuple(r) for r in cur.fetchall()]
        conn.close()
        assert len(source) == 2 * len(VALUES) - 1
        assert target_rows(settings, port, schema, table) == source
