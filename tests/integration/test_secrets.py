"""No secret in any log line or message of a full run: MySQL password, warehouse password, S3 keys.

The run goes MariaDB → moto S3 → the Redshift emulator at debug level (every Redshift statement is
logged), plus ``check``, ``status`` and a run refused for a wrong password. COPY reads S3 with the
IAM role: no statement carries a key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import MotoS3Server
from tests.integration.test_redshift_end_to_end import ROLE, target_rows

MYSQL_PASSWORD = "mysql-Pw-never-logged-1"
WAREHOUSE_PASSWORD = "warehouse-Pw-never-logged-2"
ACCESS_KEY_ID = "AKIASECRETNEVERLOGGED3"
SECRET_ACCESS_KEY = "s3-secret-never-logged-4/abc+def"
SECRETS = (MYSQL_PASSWORD, WAREHOUSE_PASSWORD, ACCESS_KEY_ID, SECRET_ACCESS_KEY)


def test_no_secret_in_any_log_line_and_copy_uses_the_iam_role(
    tmp_path: Path, mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int
) -> None:
    db = "secrets_src"
    mariadb.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, note TEXT)",
        f"CREATE USER 'cdc_secrets'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}'",
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc_secrets'@'%'",
        f"GRANT SELECT ON {db}.* TO 'cdc_secrets'@'%'",
        f"INSERT INTO {db}.t VALUES (1, 'before'), (2, 'two')",
    )
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket="secrets-bucket")
    (tmp_path / "tables.yml").write_text(f'tables:\n  - name: "{db}.t"\n')
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "S3RB_MYSQL_URL": f"mysql://cdc_secrets:{MYSQL_PASSWORD}@127.0.0.1:{mariadb.port}",
        "S3RB_STORE_URL": "s3://secrets-bucket/cdc",
        "S3RB_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3RB_WAREHOUSE_URL": f"redshift://postgres:{WAREHOUSE_PASSWORD}@127.0.0.1:{emulator_port}/postgres?ssl=false",
        "S3RB_REDSHIFT_IAM_ROLE": ROLE,
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        "S3RB_HEARTBEAT_SECONDS": "0.5",
        "S3RB_LOG_LEVEL": "debug",
        "S3RB_LOG_FORMAT": "json",
    }

    def cli(*args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "s3rb_stream", *args],
            env=env | overrides,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )

    where = ("--source-db", db, "--target-schema", "secrets_t")
    snapshot = cli("snapshot", *where)
    mariadb.execute(f"UPDATE {db}.t SET note = 'after' WHERE id = 1", f"INSERT INTO {db}.t VALUES (3, 'three')")
    run = cli("run", *where, "--until-caught-up")
    check = cli("check", *where)
    status = cli("status", *where)
    wrong = f"mysql://cdc_secrets:{MYSQL_PASSWORD}x@127.0.0.1:{mariadb.port}"
    refused = cli("run", *where, "--until-caught-up", S3RB_MYSQL_URL=wrong)
    for done in (snapshot, run, check, status):
        assert done.returncode == 0, done.stderr
    assert refused.returncode == 2 and "refused the login" in refused.stderr
    assert target_rows(emulator_port, "secrets_t", "t", "id, note", "id") == [(1, "after"), (2, "two"), (3, "three")]

    output = "\n".join(d.stdout + d.stderr for d in (snapshot, run, check, status, refused))
    for secret in SECRETS:
        assert secret not in output
    logged_sql = [
        event.get("sql", "")
        for line in (snapshot.stderr + run.stderr).splitlines()
        if line.startswith("{") and (event := json.loads(line)).get("event") == "redshift statement"
    ]
    copies = [statement for statement in logged_sql if statement.startswith("COPY ")]
    assert copies and all(f"IAM_ROLE '{ROLE}'" in statement for statement in copies)
    assert not any("CREDENTIALS" in s.upper() or "ACCESS_KEY" in s.upper() for s in logged_sql)
