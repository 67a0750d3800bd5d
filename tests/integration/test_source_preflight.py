"""Preflight against servers that look like Amazon RDS, and every statement sent to the source.

No RDS instance here: a MariaDB server is started the way RDS starts its own (``basedir`` under
/rdsdbbin/, which is how preflight tells RDS), with a ``mysql.rds_show_configuration`` procedure
that returns RDS's result set (name, value, description). The pipeline's own code path runs, over a
real connection; what RDS itself returns was read in AWS's documentation (docs/mysql.md).

The second server logs every statement the server rejects (MariaDB's SQL_ERROR_LOG plugin): the
pipeline may send none that only works because its error is caught.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from s3rb_stream.errors import BinlogSettingsError
from s3rb_stream.pipeline.runner import prepare
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import make_pipeline

PASSWORD = "Rds-Secret-pw"
DESCRIPTION = "binlog retention hours specifies the duration in hours before binary logs are automatically deleted."


def looks_like_rds(reference: MariaDBServer) -> dict[str, str]:
    """Options that start MariaDB from a basedir under /rdsdbbin/, as RDS runs MySQL, with the
    files basedir would otherwise locate given where they are (taken from a running server)."""
    conn = reference.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT @@lc_messages_dir, @@plugin_dir, @@character_sets_dir")
        messages, plugins, charsets = cur.fetchone()
    conn.close()
    return {
        "basedir": "/rdsdbbin/mysql-8.0.36.R1",
        "lc-messages-dir": messages,
        "plugin-dir": plugins,
        "character-sets-dir": charsets,
    }


@pytest.fixture(scope="module")
def rds(mariadb: MariaDBServer) -> Iterator[MariaDBServer]:
    server = MariaDBServer(options=looks_like_rds(mariadb)).start()
    server.execute(
        "CREATE DATABASE fake_rds",
        "CREATE TABLE fake_rds.configuration (name VARCHAR(64) PRIMARY KEY, value VARCHAR(16) NULL, description TEXT)",
        f"INSERT INTO fake_rds.configuration VALUES ('binlog retention hours', NULL, '{DESCRIPTION}'),"
        " ('source delay', '0', 'source delay specifies replication delay in seconds'),"
        " ('target delay', '0', 'target delay specifies replication delay in seconds')",
        "CREATE PROCEDURE mysql.rds_show_configuration() SELECT name, value, description FROM fake_rds.configuration",
        f"CREATE USER 'cdc'@'%' IDENTIFIED BY '{PASSWORD}'",
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc'@'%'",
        "GRANT SELECT ON shop.* TO 'cdc'@'%'",
        "GRANT EXECUTE ON PROCEDURE mysql.rds_show_configuration TO 'cdc'@'%'",
        f"CREATE USER 'blind'@'%' IDENTIFIED BY '{PASSWORD}'",  # may not run the procedure
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'blind'@'%'",
        "GRANT SELECT ON shop.* TO 'blind'@'%'",
        "CREATE DATABASE shop",
        "CREATE TABLE shop.orders (id INT PRIMARY KEY, note TEXT)",
    )
    yield server
    server.stop()


def retention_hours(server: MariaDBServer, value: str | None) -> None:
    """What ``CALL mysql.rds_set_configuration('binlog retention hours', value)`` does on RDS."""
    server.execute(
        "UPDATE fake_rds.configuration SET value = "
        + ("NULL" if value is None else f"'{value}'")
        + " WHERE name = 'binlog retention hours'"
    )


def cli(
    server: MariaDBServer, tmp_path: Path, *args: str, user: str = "cdc", **env: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tables.yml").write_text('tables:\n  - name: "shop.orders"\n')
    environment = {
        **os.environ,
        "S3RB_MYSQL_URL": f"mysql://{user}:{PASSWORD}@127.0.0.1:{server.port}",
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "s3rb_stream", *args],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def one_error(result: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    """The one problem: ``check`` found it (a FAIL line, exit code 1), any other command could not
    run for it (an error line, exit code 2)."""
    if result.args[3] == "check":
        assert result.returncode == 1, result.stdout + result.stderr
        errors = [line for line in result.stdout.splitlines() if line.startswith("FAIL  ")]
        assert len(errors) == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
        assert not (tmp_path / "objects").exists() and not (tmp_path / "w.duckdb").exists(), "nothing may be written"
        return errors[0]
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert not (tmp_path / "objects").exists() and not (tmp_path / "w.duckdb").exists(), "nothing may be written"
    return errors[0]


CHECK = ("check", "--source-db", "shop", "--target-schema", "t")
SNAPSHOT = ("snapshot", "--source-db", "shop", "--target-schema", "t")


@pytest.mark.parametrize("command", [CHECK, SNAPSHOT], ids=["check", "snapshot"])
def test_rds_keeping_no_binlog_is_refused_with_the_call_that_fixes_it(
    rds: MariaDBServer, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """RDS's default: binlog_expire_logs_seconds says nothing there, and NULL keeps no binlog."""
    retention_hours(rds, None)
    error = one_error(cli(rds, tmp_path, *command), tmp_path)
    assert "binlog retention hours is NULL: none kept" in error and "S3RB_MIN_BINLOG_RETENTION_HOURS" in error
    assert "CALL mysql.rds_set_configuration('binlog retention hours', 72);" in error


def test_a_short_rds_retention_is_refused_unless_the_minimum_is_lowered(rds: MariaDBServer, tmp_path: Path) -> None:
    retention_hours(rds, "24")
    error = one_error(cli(rds, tmp_path, *CHECK), tmp_path)
    assert "keeps binlogs 24 h (binlog retention hours=24)" in error
    accepted = cli(rds, tmp_path, *CHECK, S3RB_MIN_BINLOG_RETENTION_HOURS="24")
    assert accepted.returncode == 0, accepted.stderr


def test_a_long_enough_rds_retention_passes(rds: MariaDBServer, tmp_path: Path) -> None:
    retention_hours(rds, "168")
    result = cli(rds, tmp_path, *CHECK)
    assert result.returncode == 0, result.stderr
    assert "ok    binlog retention: the source keeps binlogs 168 h (binlog retention hours=168)" in result.stdout
    assert not [line for line in result.stdout.splitlines() if line.startswith("warn") and "retention" in line]


def test_an_rds_retention_the_user_may_not_read_is_a_warning(rds: MariaDBServer, tmp_path: Path) -> None:
    retention_hours(rds, None)
    result = cli(rds, tmp_path, *CHECK, user="blind")
    assert result.returncode == 0, result.stderr
    assert "warn  the binlog retention of this rds could not be read (error 1370" in result.stdout
    assert "GRANT EXECUTE ON PROCEDURE mysql.rds_show_configuration" in result.stdout


def test_binlog_settings_on_rds_name_the_parameter_group(rds: MariaDBServer, tmp_path: Path) -> None:
    retention_hours(rds, "168")
    rds.execute("SET GLOBAL binlog_format = 'MIXED'")
    try:
        error = one_error(cli(rds, tmp_path, *CHECK), tmp_path)
    finally:
        rds.execute("SET GLOBAL binlog_format = 'ROW'")
    assert "binlog_format=MIXED: set binlog_format=ROW in the instance's DB parameter group" in error


# --------------------------------------------------------------------------- statements the server rejects


@pytest.fixture(scope="module")
def logged(mariadb: MariaDBServer) -> Iterator[MariaDBServer]:
    """A server that writes every statement it rejects, with its error, to sql_errors.log."""
    server = MariaDBServer(options={"plugin-load-add": "sql_errlog", "sql-error-log-filename": "sql_errors.log"})
    server.start()
    server.execute(
        f"CREATE USER 'full'@'%' IDENTIFIED BY '{PASSWORD}'",
        "GRANT REPLICATION SLAVE, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT ON *.* TO 'full'@'%'",
        f"CREATE USER 'least'@'%' IDENTIFIED BY '{PASSWORD}'",
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'least'@'%'",
    )
    yield server
    server.stop()


def rejected(server: MariaDBServer, user: str) -> list[str]:
    assert server.basedir is not None
    lines = (server.basedir / "data" / "sql_errors.log").read_text().splitlines()
    return [line for line in lines if f" {user}[{user}] @ " in line]


def test_preflight_snapshot_and_capture_send_no_statement_the_server_rejects(
    request: pytest.FixtureRequest, logged: MariaDBServer, tmp_path: Path
) -> None:
    """Before: SHOW BINARY LOG STATUS went to MariaDB first, its syntax error caught."""
    p = make_pipeline(request, logged, tmp_path, "file")
    p.configure(mysql_url=SecretStr(f"mysql://full:{PASSWORD}@127.0.0.1:{logged.port}"))
    p.sql(
        "CREATE TABLE orders (id INT PRIMARY KEY, doc JSON, note TEXT)",
        "CREATE TABLE notes (id INT PRIMARY KEY, doc LONGTEXT, CONSTRAINT doc CHECK (doc <> ''))",
        """INSERT INTO orders VALUES (1, '{"a": 1}', 'x')""",
    )
    p.tables('tables:\n  - name: "{db}.*"\n')
    warnings = prepare(p.settings, p.source_db, p.target_schema, "earliest").warnings
    p.snapshot()
    p.sql("""INSERT INTO orders VALUES (2, '{"b": 2}', 'y')""", "INSERT INTO notes VALUES (1, 'text')")
    p.run()
    assert rejected(logged, "full") == []
    assert not [w for w in warnings if "server_id" in w]
    assert p.target_rows("orders")[1][0] == 2 and p.target_rows("notes") == [(1, "text")]


def test_a_user_that_may_not_list_replicas_gets_a_warning_not_silence(
    request: pytest.FixtureRequest, logged: MariaDBServer, tmp_path: Path
) -> None:
    """MariaDB 10.5+ lets SHOW SLAVE HOSTS run with REPLICATION MASTER ADMIN only: the server_id
    check cannot run, and says so; it is the one statement refused."""
    p = make_pipeline(request, logged, tmp_path, "file")
    p.configure(mysql_url=SecretStr(f"mysql://least:{PASSWORD}@127.0.0.1:{logged.port}"))
    p.sql("CREATE TABLE orders (id INT PRIMARY KEY)")
    p.tables('tables:\n  - name: "{db}.orders"\n')
    warnings = prepare(p.settings, p.source_db, p.target_schema, "earliest").warnings
    assert any("may not run SHOW SLAVE HOSTS" in w and "GRANT REPLICATION MASTER ADMIN" in w for w in warnings)
    refused = rejected(logged, "least")
    assert refused and all("ERROR 1227" in line and line.endswith(": SHOW SLAVE HOSTS") for line in refused)


def test_a_short_retention_of_the_servers_own_is_refused_too(
    request: pytest.FixtureRequest, logged: MariaDBServer, tmp_path: Path
) -> None:
    """A server's own expiry counts as RDS's does."""
    p = make_pipeline(request, logged, tmp_path, "file")
    p.sql("CREATE TABLE orders (id INT PRIMARY KEY)")
    p.tables('tables:\n  - name: "{db}.orders"\n')
    logged.execute("SET GLOBAL binlog_expire_logs_seconds = 86400")
    try:
        with pytest.raises(BinlogSettingsError) as info:
            prepare(p.settings, p.source_db, p.target_schema, "earliest")
        p.configure(min_binlog_retention_hours=24)
        prepare(p.settings, p.source_db, p.target_schema, "earliest")  # accepted when the minimum allows it
    finally:
        logged.execute("SET GLOBAL binlog_expire_logs_seconds = 0")
    assert "keeps binlogs 24 h (binlog_expire_logs_seconds=86400)" in str(info.value)
    assert "binlog_expire_logs_seconds=259200" in str(info.value)
