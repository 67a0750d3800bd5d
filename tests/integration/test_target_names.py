"""Source names on both targets: mixed case, names the generated SQL uses as aliases, reserved
words, names at the length limits, and names that cannot be held, refused before anything is written."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from s3rb_stream.cli import main
from s3rb_stream.errors import ConfigError, SchemaError
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings, load_settings
from s3rb_stream.store import open_store
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import MotoS3Server
from tests.integration.test_redshift_end_to_end import query_target, settings_for_target

_n = itertools.count(1)
LONG_TABLE = "t" * 64  # MySQL's longest name
LONG_COLUMN = "é" * 63  # 126 bytes: within Redshift's 127


def target_name(port: int | None, name: str) -> str:
    """How the target spells a source name: Redshift in lower case, DuckDB as given."""
    return name.lower() if port is not None else name


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def nothing_written(settings: Settings) -> bool:
    location = settings.store()
    if location.scheme == "file":
        root = Path(location.root)
        return not root.exists() or not any(p.is_file() for p in root.rglob("*"))
    return open_store(settings).list(location.prefix) == []


@pytest.fixture(params=["duckdb", "redshift"])
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def source(mariadb: MariaDBServer, tmp_path: Path, request: pytest.FixtureRequest, tables: str, *ddl: str) -> tuple[
    str, Settings, int | None
]:  # fmt: skip
    n = next(_n)
    db = f"names{n}"
    mariadb.execute(f"CREATE DATABASE {db}", *[s.format(db=db) for s in ddl])
    (tmp_path / "tables.yml").write_text(tables.format(db=db))
    settings, port = settings_for_target(request, mariadb, tmp_path, tmp_path / "tables.yml", f"names-{n}")
    return db, settings, port


@pytest.mark.parametrize("target", ["duckdb", "redshift"], indirect=True)
def test_mixed_case_alias_like_and_reserved_names_load_and_evolve(
    request: pytest.FixtureRequest, target: str, mariadb: MariaDBServer, tmp_path: Path
) -> None:
    request.param = target
    db, settings, port = source(
        mariadb,
        tmp_path,
        request,
        'tables:\n  - name: "{db}.Orders"\n  - name: "{db}.s"\n  - name: "{db}.select"\n'
        f'  - name: "{{db}}.{LONG_TABLE}"\n  - name: "{{db}}.v"\n    mode: scd2\n',
        "CREATE TABLE {db}.Orders (Id INT PRIMARY KEY, createdAt DATETIME, `select` VARCHAR(10), `full` INT,"
        " `order` INT, s INT, t INT, v INT)",
        "CREATE TABLE {db}.s (id INT PRIMARY KEY, k INT, l INT, b INT, c INT)",
        "CREATE TABLE {db}.`select` (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {{db}}.{LONG_TABLE} (id INT PRIMARY KEY, `{LONG_COLUMN}` VARCHAR(5))",
        "CREATE TABLE {db}.v (id INT PRIMARY KEY, doc JSON, tier VARCHAR(5))",
        "INSERT INTO {db}.Orders VALUES (1, '2024-01-02 03:04:05', 'a', 1, 2, 3, 4, 5), (2, NULL, 'b', 0, 0, 0, 0, 0)",
        "INSERT INTO {db}.s VALUES (1, 1, 1, 1, 1), (2, 2, 2, 2, 2)",
        "INSERT INTO {db}.`select` VALUES (1, 10)",
        f"INSERT INTO {{db}}.{LONG_TABLE} VALUES (1, 'ü')",
        "INSERT INTO {db}.v VALUES (1, '{{\"a\": 1}}', 'gold')",
    )
    schema = "Analytics"
    run(settings, db, schema, until_caught_up=True)
    mariadb.execute(
        f"UPDATE {db}.Orders SET createdAt = '2025-01-01 00:00:00', `order` = 9 WHERE Id = 1",
        f"DELETE FROM {db}.Orders WHERE Id = 2",
        f"UPDATE {db}.s SET k = 20 WHERE id = 2",
        f"UPDATE {db}.v SET doc = '[2]', tier = 'gold' WHERE id = 1",  # a new version: the tracked doc changed
        f"ALTER TABLE {db}.Orders ADD COLUMN newCol INT DEFAULT 5",
        f"INSERT INTO {db}.Orders (Id, newCol) VALUES (3, 6)",
    )
    run(settings, db, schema, until_caught_up=True)

    def rows(table: str, columns: list[str], order: str) -> list[tuple[Any, ...]]:
        names = ", ".join(q(target_name(port, c)) for c in columns)
        return query_target(settings, port, target_name(port, schema), target_name(port, table), names, order)

    orders = rows("Orders", ["Id", "createdAt", "select", "full", "order", "s", "t", "v", "newCol"], "1")
    assert [(r[0], str(r[1]), *r[2:]) for r in orders] == [
        (1, "2025-01-01 00:00:00", "a", 1, 9, 3, 4, 5, 5),  # the ALTER's default fills the rows before it
        (3, "None", None, None, None, None, None, None, 6),
    ]
    assert rows("s", ["id", "k", "l", "b", "c"], "1") == [(1, 1, 1, 1, 1), (2, 20, 2, 2, 2)]
    assert rows("select", ["id", "v"], "1") == [(1, 10)]
    assert rows(LONG_TABLE, ["id", LONG_COLUMN], "1") == [(1, "ü")]
    history = rows("v", ["id", "tier", "is_current"], '"_s3rb_seq"')
    assert history == [(1, "gold", False), (1, "gold", True)]
    docs = query_target(settings, port, target_name(port, schema), "v", "doc", '"_s3rb_seq"')
    assert [str(d[0]).replace(" ", "") for d in docs] == ['{"a":1}', "[2]"]


@pytest.mark.parametrize(
    ("ddl", "tables", "message"),
    [
        (
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, _s3rb_seq INT)",
            'tables:\n  - name: "{db}.t"\n',
            r"start with _s3rb_, which s3rb_stream keeps for its own",
        ),
        (
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, Valid_From INT)",
            'tables:\n  - name: "{db}.t"\n    mode: scd2\n',
            r"columns 'Valid_From' and 'valid_from' are one name .* scd2_valid_from_column",
        ),
        (
            "CREATE TABLE {db}.Items (id INT PRIMARY KEY)",
            'tables:\n  - name: "{db}.Items"\n  - name: "{db}.items"\n',
            r"tables 'Items' and 'items' of names\d+ are one table",
        ),
    ],
)
@pytest.mark.parametrize("target", ["duckdb", "redshift"], indirect=True)
def test_names_the_target_cannot_hold_fail_in_one_line_before_anything_is_written(
    request: pytest.FixtureRequest, target: str, mariadb: MariaDBServer, tmp_path: Path, ddl: str, tables: str,
    message: str,
) -> None:  # fmt: skip
    request.param = target
    extra = ["CREATE TABLE {db}.items (id INT PRIMARY KEY)"] if "Items" in ddl else []
    db, settings, _ = source(mariadb, tmp_path, request, tables, ddl, *extra)
    with pytest.raises(SchemaError, match=message) as raised:
        run(settings, db, "analytics", until_caught_up=True)
    assert "\n" not in str(raised.value)
    assert nothing_written(settings)  # no checkpoint, no lease, no object


def both_targets(
    mariadb: MariaDBServer, tmp_path: Path, s3_server: MotoS3Server, bucket: str
) -> tuple[Settings, Settings]:
    """The tables file in ``tmp_path`` with a Redshift target (never reached: its preflight is the
    point) and with a DuckDB one."""
    common: dict[str, Any] = {
        "mysql_url": mariadb.url,
        "tables_file": tmp_path / "tables.yml",
        "heartbeat_seconds": 0.5,
    }
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=bucket)
    redshift = load_settings(
        **common,
        store_url=f"s3://{bucket}/cdc",
        s3_endpoint_url=s3_server.endpoint_url,
        warehouse_url="redshift://u:p@127.0.0.1:1/dev?ssl=false",
        redshift_iam_role="arn:aws:iam::1:role/r",
    )
    duck = load_settings(
        **common, store_url=f"file://{tmp_path / 'objects'}", warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}"
    )
    return redshift, duck


def test_a_name_over_127_bytes_is_refused_for_redshift_and_kept_by_duckdb(
    mariadb: MariaDBServer, tmp_path: Path, s3_server: MotoS3Server
) -> None:
    column = "é" * 64  # 128 bytes: Redshift would cut it to 127 and never find it again
    db = f"names{next(_n)}"
    mariadb.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, `{column}` INT)",
        f"INSERT INTO {db}.t VALUES (1, 2)",
    )
    (tmp_path / "tables.yml").write_text(f'tables:\n  - name: "{db}.t"\n')
    redshift, duck = both_targets(mariadb, tmp_path, s3_server, "long-names")
    with pytest.raises(SchemaError, match=r"column of names\d+\.t .* has 128 bytes; Redshift names hold at most 127"):
        run(redshift, db, "analytics", until_caught_up=True)
    run(duck, db, "analytics", until_caught_up=True)
    assert query_target(duck, None, "analytics", "t", f'"{column}"', "1") == [(2,)]


def test_a_duckdb_schema_named_like_the_file_snapshots_runs_and_shows_status(
    mariadb: MariaDBServer, tmp_path: Path
) -> None:
    """``duckdb:///…/analytics.duckdb`` with ``--target-schema analytics``: DuckDB attaches the file
    as catalog ``analytics``, where ``analytics.t`` alone is ambiguous; every statement names the
    catalog, so merge, append and scd2 tables load, and ``status`` reads them, as in any schema."""
    db = f"names{next(_n)}"
    mariadb.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20))",
        f"CREATE TABLE {db}.events (id INT PRIMARY KEY, what VARCHAR(20))",
        f"CREATE TABLE {db}.prices (id INT PRIMARY KEY, price INT)",
    )
    (tmp_path / "tables.yml").write_text(
        f'tables:\n  - name: "{db}.items"\n  - name: "{db}.events"\n    mode: append\n'
        f'  - name: "{db}.prices"\n    mode: scd2\n'
    )
    warehouse = tmp_path / "analytics.duckdb"
    env = {
        **os.environ,
        "S3RB_MYSQL_URL": mariadb.url,
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{warehouse}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
    }
    where = ["--source-db", db, "--target-schema", "analytics"]
    conn = mariadb.connect(db)
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_log_bin = 0")  # only the snapshot delivers these
        cur.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
        cur.execute("INSERT INTO prices VALUES (1, 100), (2, 200)")
    conn.close()

    for command in (["check", *where], ["snapshot", *where, "-t", "items", "-t", "prices"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 0, result.output
    mariadb.execute(
        f"UPDATE {db}.items SET name = 'uno' WHERE id = 1",
        f"DELETE FROM {db}.items WHERE id = 2",
        f"INSERT INTO {db}.events VALUES (1, 'signup'), (2, 'login')",
        f"UPDATE {db}.events SET what = 'logout' WHERE id = 2",
        f"UPDATE {db}.prices SET price = 150 WHERE id = 1",
    )
    result = CliRunner().invoke(main, ["run", *where, "--until-caught-up"], env=env)
    assert result.exit_code == 0, result.output

    wh = DuckDBWarehouse(str(warehouse), read_only=True)
    try:
        assert wh.catalog == "analytics"
        assert wh.query('SELECT id, name FROM "analytics"."analytics".items ORDER BY id') == [(1, "uno")]
        events = 'SELECT id, what, _s3rb_op FROM "analytics"."analytics".events ORDER BY _s3rb_seq'
        assert wh.query(events) == [(1, "signup", "c"), (2, "login", "c"), (2, "logout", "u")]
        prices = 'SELECT id, price, is_current FROM "analytics"."analytics".prices ORDER BY id, _s3rb_seq'
        assert wh.query(prices) == [(1, 100, False), (1, 150, True), (2, 200, True)]
    finally:
        wh.close()
    status = CliRunner().invoke(main, ["status", "--target-schema", "analytics"], env=env)
    assert status.exit_code == 0, status.output
    assert "warning" not in status.output, status.output
    loaded = {line.split()[0] for line in status.output.splitlines() if re.search(r" \d{4}-\d\d-\d\d ", line)}
    assert loaded == {"items", "events", "prices"}, status.output  # each with the time of its last load


def test_duckdb_refuses_only_its_own_schemas_before_anything_is_written(mariadb: MariaDBServer, tmp_path: Path) -> None:
    db = f"names{next(_n)}"
    mariadb.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    (tmp_path / "tables.yml").write_text(f'tables:\n  - name: "{db}.t"\n')
    settings = load_settings(
        mysql_url=mariadb.url,
        tables_file=tmp_path / "tables.yml",
        store_url=f"file://{tmp_path / 'objects'}",
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
    )
    for schema in ("information_schema", "PG_Catalog"):
        with pytest.raises(ConfigError, match=f"target schema '{schema}' cannot be used with DuckDB: DuckDB keeps"):
            run(settings, db, schema, until_caught_up=True)
    assert nothing_written(settings)
    for i, schema in enumerate(("warehouse", "temp", "system"), 1):  # the file's catalog, DuckDB's others
        mariadb.execute(f"INSERT INTO {db}.t VALUES ({i})")
        assert run(settings, db, schema, until_caught_up=True).loaded.rows >= 1, schema


def test_a_table_named_like_a_redshift_temporary_table_is_refused_before_anything_is_written(
    mariadb: MariaDBServer, tmp_path: Path, s3_server: MotoS3Server
) -> None:
    """ "CREATE TABLE": on Redshift a table name starting with # makes a temporary table, whose rows
    would go with the session; DuckDB holds it as any other name."""
    db = f"names{next(_n)}"
    mariadb.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.`#orders` (id INT PRIMARY KEY)",
        f"INSERT INTO {db}.`#orders` VALUES (7)",
    )
    (tmp_path / "tables.yml").write_text(f'tables:\n  - name: "{db}.#orders"\n')
    redshift, duck = both_targets(mariadb, tmp_path, s3_server, "hash-names")
    with pytest.raises(
        SchemaError, match=r"table '#orders' starts with '#', which makes a temporary table in Redshift"
    ):
        run(redshift, db, "analytics", until_caught_up=True)
    assert nothing_written(redshift)
    run(duck, db, "analytics", until_caught_up=True)
    assert query_target(duck, None, "analytics", "#orders", "id", "1") == [(7,)]
