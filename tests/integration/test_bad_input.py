"""Bad input: a one-line error that names the problem, exit code 2, and nothing written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.ports import free_port, http_get, port_open, wait_until
from s3rb_stream.testing.s3server import MotoS3Server

SECRET = "Sup3r-Secret-pw"


@pytest.fixture(scope="module")
def spare_server() -> Iterator[MariaDBServer]:
    """A server whose global binlog settings the tests may change."""
    server = MariaDBServer().start()
    yield server
    server.stop()


def cli(tmp_path: Path, mysql_url: str, tables_yml: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tables.yml").write_text(tables_yml)
    env = {
        **os.environ,
        "S3RB_MYSQL_URL": mysql_url,
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        "S3RB_HEARTBEAT_SECONDS": "0.5",
    }
    return subprocess.run(
        [sys.executable, "-m", "s3rb_stream", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_cli(tmp_path: Path, mysql_url: str, tables_yml: str) -> subprocess.CompletedProcess[str]:
    return cli(
        tmp_path, mysql_url, tables_yml, "run", "--source-db", "shop", "--target-schema", "t", "--until-caught-up"
    )


def assert_refused(result: subprocess.CompletedProcess[str], tmp_path: Path, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0]
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert not (tmp_path / "objects").exists(), "nothing may be written to the store"
    assert not (tmp_path / "w.duckdb").exists(), "nothing may be written to the warehouse"


def assert_check_failed(result: subprocess.CompletedProcess[str], tmp_path: Path, what: str, *needles: str) -> None:
    """``check`` ran and found a problem: exit code 1, a FAIL line naming the check and the problem,
    the other checks' lines around it, and nothing written."""
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL  ")]
    assert len(failed) == 1 and failed[0].startswith(f"FAIL  {what}: "), result.stdout
    for needle in needles:
        assert needle in failed[0]
    assert "ok    tables file:" in result.stdout and "skip  store and warehouse" in result.stdout
    assert result.stderr.strip().endswith("error: 1 check(s) failed (see FAIL above)"), result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    assert not (tmp_path / "objects").exists(), "nothing may be written to the store"
    assert not (tmp_path / "w.duckdb").exists(), "nothing may be written to the warehouse"


TABLES = 'tables:\n  - name: "shop.orders"\n'


def with_shop(server: MariaDBServer) -> None:
    server.execute(
        "CREATE DATABASE IF NOT EXISTS shop",
        "CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY, note TEXT)",
        "CREATE TABLE IF NOT EXISTS shop.no_key (msg TEXT)",
    )


def test_unreachable_mysql(tmp_path: Path) -> None:
    result = run_cli(tmp_path, f"mysql://root:{SECRET}@127.0.0.1:{free_port()}", TABLES)
    assert_refused(result, tmp_path, "cannot connect to MySQL at mysql://root@127.0.0.1:", "is the server running")


def test_wrong_password_is_named_without_the_password(tmp_path: Path, spare_server: MariaDBServer) -> None:
    spare_server.execute(
        "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'right-password'",
    )
    result = run_cli(tmp_path, f"mysql://app:{SECRET}@127.0.0.1:{spare_server.port}", TABLES)
    assert_refused(result, tmp_path, "refused the login", "S3RB_MYSQL_PASSWORD")


def test_statement_binlog_format(tmp_path: Path, spare_server: MariaDBServer) -> None:
    with_shop(spare_server)
    spare_server.execute("SET GLOBAL binlog_format = 'STATEMENT'")
    try:
        result = run_cli(tmp_path, spare_server.url, TABLES)
    finally:
        spare_server.execute("SET GLOBAL binlog_format = 'ROW'")
    assert_refused(result, tmp_path, "binlog_format=STATEMENT", "set binlog_format=ROW")


def test_compressed_binlog_enabled(tmp_path: Path, spare_server: MariaDBServer) -> None:
    with_shop(spare_server)
    spare_server.execute("SET GLOBAL log_bin_compress = ON")
    try:
        result = run_cli(tmp_path, spare_server.url, TABLES)
    finally:
        spare_server.execute("SET GLOBAL log_bin_compress = OFF")
    assert_refused(result, tmp_path, "log_bin_compress=ON", "not supported")


def test_merge_table_without_primary_key(tmp_path: Path, spare_server: MariaDBServer) -> None:
    with_shop(spare_server)
    result = run_cli(tmp_path, spare_server.url, 'tables:\n  - name: "shop.no_key"\n')
    assert_refused(result, tmp_path, "shop.no_key has no primary key", "mode: append", "key_columns")


def test_table_missing_from_source(tmp_path: Path, spare_server: MariaDBServer) -> None:
    with_shop(spare_server)
    result = run_cli(tmp_path, spare_server.url, 'tables:\n  - name: "shop.ordrs"\n')
    assert_refused(result, tmp_path, "shop.ordrs from the tables file does not exist", "orders")


def test_malformed_tables_file(tmp_path: Path, spare_server: MariaDBServer) -> None:
    result = run_cli(tmp_path, spare_server.url, 'tables:\n  - name: "shop.orders"\n    mode: upsert\n')
    assert_refused(result, tmp_path, "tables[0] (shop.orders).mode", "'merge', 'scd2' or 'append'")


def test_compressed_events_in_the_binlog_stop_capture(tmp_path: Path, spare_server: MariaDBServer) -> None:
    """Compression switched on after the checkpoint: the events are refused, never skipped."""
    with_shop(spare_server)
    assert run_cli(tmp_path, spare_server.url, TABLES).returncode == 0
    checkpoint = next((tmp_path / "objects").rglob("checkpoint.json")).read_bytes()
    spare_server.execute("SET GLOBAL log_bin_compress = ON")
    try:
        spare_server.execute(f"INSERT INTO shop.orders VALUES (1, '{'x' * 2000}')")
    finally:
        spare_server.execute("SET GLOBAL log_bin_compress = OFF")
    result = run_cli(tmp_path, spare_server.url, TABLES)
    assert result.returncode == 2
    assert "compressed events (MariaDB log_bin_compress" in result.stderr
    assert next((tmp_path / "objects").rglob("checkpoint.json")).read_bytes() == checkpoint


def test_check_reports_the_ready_tables(tmp_path: Path, spare_server: MariaDBServer) -> None:
    with_shop(spare_server)
    tables = 'tables:\n  - name: "shop.orders"\n    soft_delete: true\n  - name: "shop.no_key"\n    mode: append\n'
    result = cli(tmp_path, spare_server.url, tables, "check", "--source-db", "shop", "--target-schema", "t")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for check in ("tables file", "source", "grants", "binlog settings", "binlog retention", "target names", "store",
                  "warehouse", "capture", "table shop.orders", "table shop.no_key"):  # fmt: skip
        assert any(line.startswith(f"ok    {check}") for line in lines), (check, result.stdout)
    assert lines[-1] == "ok: shop is ready to stream into t" and "FAIL" not in result.stdout
    assert "key=(id) deletes=soft" in result.stdout and result.stdout.count("deletes=soft") == 1
    assert "mode=append" in result.stdout
    assert "ok    store: applied batches can be removed, 168 hours after their load" in lines
    assert "speed-ups" not in result.stdout  # built here: nothing to warn about


def test_check_names_each_problem_in_its_own_line_and_exits_1(tmp_path: Path, spare_server: MariaDBServer) -> None:
    """Two bad tables and a pattern that matches nothing: three FAIL lines, the good table's ok line
    between them, exit code 1, and nothing written."""
    with_shop(spare_server)
    tables = (
        'tables:\n  - name: "shop.orders"\n  - name: "shop.no_key"\n  - name: "shop.ordrs"\n  - name: "shop.log_*"\n'
    )
    result = cli(tmp_path, spare_server.url, tables, "check", "--source-db", "shop", "--target-schema", "t")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        "FAIL  table shop.no_key: table shop.no_key has no primary key, which mode merge needs (add a primary key,"
        " set key_columns: [...] for it in the tables file, or use mode: append)",
        "FAIL  table shop.ordrs: there is no table ordrs (tables there: no_key, orders)",
        "FAIL  table shop.log_*: matches no table of shop (tables there: no_key, orders)",
    ], result.stdout
    assert "ok    table shop.orders" in result.stdout
    assert "error: 3 check(s) failed" in result.stderr
    assert not (tmp_path / "objects").exists() and not (tmp_path / "w.duckdb").exists()


def test_check_warns_when_the_compiled_speed_ups_do_not_run(
    tmp_path: Path, spare_server: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_shop(spare_server)
    monkeypatch.setenv("S3RB_SPEEDUPS", "false")
    result = cli(tmp_path, spare_server.url, TABLES, "check", "--source-db", "shop", "--target-schema", "t")
    assert result.returncode == 0, result.stderr
    assert "warn  the compiled speed-ups do not run (turned off by S3RB_SPEEDUPS=false)" in result.stdout


@pytest.mark.parametrize(
    ("grants", "needles"),
    [
        (["GRANT SELECT ON shop.* TO '{u}'@'%'"], ["lacks REPLICATION SLAVE", "GRANT REPLICATION SLAVE ON *.*"]),
        (
            ["GRANT REPLICATION SLAVE ON *.* TO '{u}'@'%'", "GRANT SELECT ON shop.* TO '{u}'@'%'"],
            ["lacks REPLICATION CLIENT (BINLOG MONITOR"],
        ),
        (
            ["GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{u}'@'%'"],
            ["cannot SELECT from shop (orders)", "GRANT SELECT ON `shop`.* TO <user>"],
        ),
    ],
)
def test_missing_grants_are_named_with_the_statement_that_fixes_them(
    tmp_path: Path, spare_server: MariaDBServer, grants: list[str], needles: list[str]
) -> None:
    with_shop(spare_server)
    user = f"cdc{abs(hash(tuple(grants))) % 10**6}"
    spare_server.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{SECRET}'")
    spare_server.execute(*(g.format(u=user) for g in grants))
    url = f"mysql://{user}:{SECRET}@127.0.0.1:{spare_server.port}"
    result = cli(tmp_path, url, TABLES, "check", "--source-db", "shop", "--target-schema", "t")
    assert_check_failed(result, tmp_path, "grants", "lacks privileges", *needles)


def test_a_server_id_equal_to_the_sources_is_refused(tmp_path: Path, spare_server: MariaDBServer) -> None:
    with_shop(spare_server)
    conn = spare_server.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT @@server_id")
        (source_id,) = cur.fetchone()
    conn.close()
    (tmp_path / "tables.yml").write_text(TABLES)
    os.environ["S3RB_SERVER_ID"] = str(source_id)
    try:
        result = run_cli(tmp_path, spare_server.url, TABLES)
    finally:
        del os.environ["S3RB_SERVER_ID"]
    assert_refused(result, tmp_path, f"S3RB_SERVER_ID={source_id} is the source's own server_id")


def test_a_purged_binlog_stops_the_source_with_the_lost_range_and_the_fix(
    tmp_path: Path, spare_server: MariaDBServer
) -> None:
    with_shop(spare_server)
    tables = 'tables:\n  - name: "shop.orders"\n  - name: "shop.no_key"\n    mode: append\n'
    first = cli(tmp_path, spare_server.url, tables, "run", "--source-db", "shop", "--target-schema", "t",
                "--until-caught-up", "--start-position", "current")  # fmt: skip
    assert first.returncode == 0, first.stderr
    spare_server.execute(
        "INSERT INTO shop.orders VALUES (100, 'never captured')", "FLUSH BINARY LOGS", "FLUSH BINARY LOGS"
    )
    newest = spare_server.purge_binary_logs()
    again = cli(tmp_path, spare_server.url, tables, "run", "--source-db", "shop", "--target-schema", "t",
                "--until-caught-up")  # fmt: skip
    assert again.returncode == 2, again.stderr
    error = [line for line in again.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1
    assert "is no longer on the server: changes from" in error[0]
    assert f"up to the start of {newest} are lost" in error[0]
    assert "s3rb-stream snapshot --source-db shop --target-schema t -t orders --restart" in error[0]
    assert "the history of append tables no_key in that range cannot be recovered" in error[0]


def test_missing_aws_credentials_end_the_run_at_once(
    tmp_path: Path, spare_server: MariaDBServer, s3_server: MotoS3Server
) -> None:
    """Not an outage: retrying cannot fix it, so one line and exit code 2, at once."""
    with_shop(spare_server)
    (tmp_path / "tables.yml").write_text(TABLES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "S3RB_MYSQL_URL": spare_server.url,
        "S3RB_STORE_URL": "s3://no-credentials/cdc",
        "S3RB_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
    }
    args = ["run", "--source-db", "shop", "--target-schema", "t", "--until-caught-up"]
    result = subprocess.run(
        [sys.executable, "-m", "s3rb_stream", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert_refused(result, tmp_path, "on s3://no-credentials/cdc", "no AWS credentials were found", "AWS_ACCESS_KEY_ID")


def test_a_daemon_waiting_for_an_unreachable_source_serves_its_health_from_the_start(tmp_path: Path) -> None:
    """The preflight fails (MySQL is down) and the daemon retries: /metrics and /healthz answer
    all along, /healthz says why, and /readyz says it does not write."""
    (tmp_path / "tables.yml").write_text(TABLES)
    port = free_port()
    env = {
        **os.environ,
        "S3RB_MYSQL_URL": f"mysql://root:{SECRET}@127.0.0.1:{free_port()}",
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        "S3RB_METRICS_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3rb_stream", "run", "--source-db", "shop", "--target-schema", "t"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: port_open(port), 30, "the metrics endpoint")  # before the preflight has failed
        wait_until(
            lambda: "preflight" in http_get(f"http://127.0.0.1:{port}/healthz")[1], 30, "the preflight's failure"
        )
        health = http_get(f"http://127.0.0.1:{port}/healthz")
        assert health[0] == 200 and "preflight: retrying after: cannot connect to MySQL" in health[1], health
        assert SECRET not in health[1]
        assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 503
        assert http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200
        assert proc.poll() is None  # still trying
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
