"""S3RB_MYSQL_SSL_MODE and S3RB_MYSQL_SSL_CA against MariaDB with TLS on, a CA made here.

Two servers: ``strict`` has a certificate for 127.0.0.1 (what the tests connect to) and refuses
unencrypted connections (require_secure_transport=ON); ``named`` has one for db.example only, so
that host name checks fail. Each mode is tried on the three connections the pipeline opens: the
metadata connection (PyMySQL), the snapshot reader (mysqlclient) and the binlog stream (PyMySQL under
python-mysql-replication)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from s3rb_stream.errors import SourceError
from s3rb_stream.retry import transient
from s3rb_stream.settings import MySQLTarget, parse_mysql_url
from s3rb_stream.sources import mysql_meta
from s3rb_stream.sources.binlog import BinlogReader
from s3rb_stream.sources.query_reader import _ON_MARIADB_CONNECTOR, QueryReader
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.tls import Authority
from tests.integration.conftest import make_pipeline

PASSWORD = "Tls-Secret-pw"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("tls")
    ca = Authority.create("s3rb test CA")
    return {
        "ca": str(ca.write(directory / "ca.pem")),
        "other_ca": str(Authority.create("some other CA").write(directory / "other-ca.pem")),
        "strict": ca.issue(directory, "strict", dns=("localhost",), ips=("127.0.0.1",)),
        "named": ca.issue(directory, "named", dns=("db.example",)),
    }


def start(options: dict[str, str]) -> MariaDBServer:
    server = MariaDBServer(options=options).start()
    server.execute(
        f"CREATE USER 'cdc'@'%' IDENTIFIED BY '{PASSWORD}'",
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'%'",
        "CREATE DATABASE shop",
        "CREATE TABLE shop.orders (id INT PRIMARY KEY, note TEXT)",
        "INSERT INTO shop.orders VALUES (1, 'before the snapshot')",
    )
    return server


@pytest.fixture(scope="module")
def strict(certs: dict[str, Any]) -> Iterator[MariaDBServer]:
    server = start({**certs["strict"], "require_secure_transport": "ON"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def named(certs: dict[str, Any]) -> Iterator[MariaDBServer]:
    server = start(certs["named"])
    yield server
    server.stop()


def target(server: MariaDBServer, mode: str, ca: str | None = None) -> MySQLTarget:
    return parse_mysql_url(f"mysql://cdc:{PASSWORD}@127.0.0.1:{server.port}", None, mode, ca)


def metadata_cipher(t: MySQLTarget) -> str:
    conn = mysql_meta.connect(t)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
            return str(cur.fetchone()[1])
    finally:
        conn.close()


def snapshot_cipher(t: MySQLTarget) -> str:
    reader = QueryReader(t)
    try:
        value = reader.execute("SHOW STATUS LIKE 'Ssl_cipher'")[0][1]
        return value.decode() if isinstance(value, bytes) else str(value)
    finally:
        reader.close()


def binlog_cipher(t: MySQLTarget) -> str:
    """Open the binlog stream, read its first item, and say what the stream's socket is encrypted with."""
    conn = mysql_meta.connect(t)
    start_at = mysql_meta.current_position(conn)
    conn.close()
    reader = BinlogReader(t, 424301, "shop", {}, start_at, 0.5)
    try:
        next(iter(reader.items()))
        sock = reader._conn._sock
        cipher = sock.cipher() if isinstance(sock, ssl.SSLSocket) else None
        return str(cipher[0]) if cipher else ""
    finally:
        reader.close()


CONNECTIONS = {"metadata": metadata_cipher, "snapshot": snapshot_cipher, "binlog": binlog_cipher}


def refusal(connection: str, t: MySQLTarget) -> SourceError:
    with pytest.raises(SourceError) as info:
        CONNECTIONS[connection](t)
    assert not transient(info.value), f"{connection}: {info.value} would be retried forever"
    return info.value


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_required_encrypts_each_connection_without_a_ca(strict: MariaDBServer, connection: str) -> None:
    assert CONNECTIONS[connection](target(strict, "REQUIRED")).startswith("TLS_")


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_verify_ca_accepts_the_right_ca_and_refuses_another(
    strict: MariaDBServer, certs: dict[str, Any], connection: str
) -> None:
    assert CONNECTIONS[connection](target(strict, "VERIFY_CA", certs["ca"])).startswith("TLS_")
    error = refusal(connection, target(strict, "VERIFY_CA", certs["other_ca"]))
    assert "TLS with MySQL at mysql://cdc@127.0.0.1" in error.message
    assert "S3RB_MYSQL_SSL_CA" in str(error) and PASSWORD not in str(error)


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_verify_identity_needs_the_host_connected_to_in_the_certificate(
    strict: MariaDBServer, named: MariaDBServer, certs: dict[str, Any], connection: str
) -> None:
    assert CONNECTIONS[connection](target(strict, "VERIFY_IDENTITY", certs["ca"])).startswith("TLS_")  # 127.0.0.1
    error = refusal(connection, target(named, "VERIFY_IDENTITY", certs["ca"]))  # db.example, reached as 127.0.0.1
    assert "name the host of S3RB_MYSQL_URL" in str(error)


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_verify_ca_does_not_check_the_name_where_the_driver_can_tell_them_apart(
    named: MariaDBServer, certs: dict[str, Any], connection: str
) -> None:
    """PyMySQL checks the CA alone; mysqlclient on MariaDB Connector/C checks the name too, and says so."""
    t = target(named, "VERIFY_CA", certs["ca"])
    if connection == "snapshot" and _ON_MARIADB_CONNECTOR:
        assert "checks the host name too, even with VERIFY_CA" in str(refusal(connection, t))
    else:
        assert CONNECTIONS[connection](t).startswith("TLS_")


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_preferred_encrypts_each_connection_when_the_server_offers_tls(named: MariaDBServer, connection: str) -> None:
    """mysqlclient's own PREFERRED, on MariaDB Connector/C, never encrypts: the three must agree."""
    assert CONNECTIONS[connection](target(named, "PREFERRED")).startswith("TLS_")


def test_preferred_falls_back_to_plain_where_the_server_has_no_tls(mariadb: MariaDBServer) -> None:
    plain = parse_mysql_url(mariadb.url, None, "PREFERRED")
    assert snapshot_cipher(plain) == "" and metadata_cipher(plain) == ""


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_required_against_a_server_without_tls_is_terminal(mariadb: MariaDBServer, connection: str) -> None:
    error = refusal(connection, parse_mysql_url(mariadb.url, None, "REQUIRED"))
    assert "does not offer TLS" in str(error)


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_disabled_against_require_secure_transport_is_terminal_and_names_the_setting(
    strict: MariaDBServer, connection: str
) -> None:
    """MariaDB refuses the plain login as it refuses a wrong password (1045), MySQL with 3159."""
    error = refusal(connection, target(strict, "DISABLED"))
    assert "accepts only encrypted connections (require_secure_transport=ON" in error.message
    assert "S3RB_MYSQL_SSL_MODE is DISABLED" in error.message and "S3RB_MYSQL_SSL_MODE=VERIFY_IDENTITY" in str(error)


def test_a_wrong_password_without_tls_is_still_a_wrong_password(strict: MariaDBServer) -> None:
    wrong = parse_mysql_url(f"mysql://cdc:nope@127.0.0.1:{strict.port}", None, "DISABLED")
    with pytest.raises(SourceError, match="refused the login"):
        mysql_meta.connect(wrong)


def cli(strict: MariaDBServer, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tables.yml").write_text('tables:\n  - name: "shop.orders"\n')
    environment = {
        **os.environ,
        "S3RB_MYSQL_URL": f"mysql://cdc:{PASSWORD}@127.0.0.1:{strict.port}",
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "s3rb_stream", *args],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"S3RB_MYSQL_SSL_MODE": "DISABLED"}, "accepts only encrypted connections (require_secure_transport=ON"),
        ({"S3RB_MYSQL_SSL_CA": "{other_ca}"}, "the server's certificate was refused"),
    ],
)
def test_the_daemon_stops_at_once_with_one_line(
    strict: MariaDBServer, certs: dict[str, Any], tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    """Not an outage: a daemon must not retry these forever (before, a refused certificate was)."""
    env = {k: v.format(**certs) for k, v in env.items()}
    result = cli(strict, tmp_path, "run", "--source-db", "shop", "--target-schema", "t", **env)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and needle in errors[0] and "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_a_pipeline_verifying_the_server_snapshots_and_streams_through_tls(
    request: pytest.FixtureRequest, strict: MariaDBServer, certs: dict[str, Any], tmp_path: Path
) -> None:
    """The settings reach every connection: the server refuses any that is not encrypted."""
    p = make_pipeline(request, strict, tmp_path, "file")
    p.configure(
        mysql_url=SecretStr(f"mysql://cdc:{PASSWORD}@127.0.0.1:{strict.port}"),
        mysql_ssl_mode="VERIFY_IDENTITY",
        mysql_ssl_ca=Path(certs["ca"]),
    )
    p.sql("CREATE TABLE orders (id INT PRIMARY KEY, note TEXT)", "INSERT INTO orders VALUES (1, 'snapshotted')")
    p.tables('tables:\n  - name: "{db}.orders"\n')
    p.snapshot()
    p.sql("INSERT INTO orders VALUES (2, 'streamed')", "UPDATE orders SET note = 'changed' WHERE id = 1")
    p.run()
    assert p.target_rows("orders") == [(1, "changed"), (2, "streamed")]
