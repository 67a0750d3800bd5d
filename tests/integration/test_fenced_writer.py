"""Two instances of one pipeline into the Redshift emulator: the lease holder is frozen (SIGSTOP)
inside a load, a standby takes the lease over and loads, then the old holder wakes up. Its commit
is refused by the fence, and the target holds each change exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import MotoS3Server
from tests.integration.conftest import source_rows
from tests.integration.test_redshift_end_to_end import redshift_cli_env, redshift_source, target_rows


def start(env: dict[str, str], cwd: Path, db: str, schema: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "s3rb_stream", "run", "--source-db", db, "--target-schema", schema, "--until-caught-up",
         *extra],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_stopped(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until the process has frozen itself at its fault point."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("the holder never reached its fault point")


@pytest.mark.parametrize("point", ["load.begin", "load.merge"])
def test_a_holder_frozen_in_a_load_cannot_commit_after_a_standby_took_over(
    point: str, isolation: str, mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """Under SNAPSHOT isolation (the default of new clusters) as under SERIALIZABLE: the fence is a
    write of the same row by the claim and the old holder's commit, which either level refuses to
    the second writer."""
    db = f"fence_{point.replace('.', '_')}_{isolation}"
    schema = f"{db}_target"
    settings = redshift_source(
        mariadb, s3_server, emulator_port, tmp_path, db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, name VARCHAR(20))",
        f"INSERT INTO {db}.items VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        f"UPDATE {db}.items SET name = 'uno' WHERE id = 1",
        f"DELETE FROM {db}.items WHERE id = 2",
    )  # fmt: skip
    env = redshift_cli_env(settings, mariadb, s3_server, tmp_path, S3RB_LEASE_SECONDS="5")
    old = start({**env, "S3RB_FAULT_PAUSE_AT": f"{point}:1"}, tmp_path, db, schema)
    try:
        wait_stopped(old)
        standby = start(env, tmp_path, db, schema, "--standby")  # takes over once the frozen lease expires
        if point == "load.begin":  # the old holder has no transaction open: the standby loads at once
            _, err = standby.communicate(timeout=90)
            assert standby.returncode == 0, err
            assert '"generation": 2' in err
        else:  # the old holder's rows are locked in its transaction: the standby's load waits for it
            time.sleep(8)
        os.kill(old.pid, signal.SIGCONT)
        _, old_err = old.communicate(timeout=60)
        if point == "load.merge":
            _, err = standby.communicate(timeout=90)
            assert standby.returncode == 0, err
    finally:
        for proc in (old,):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
    assert old.returncode == 2, old_err  # it stops: by the lease it finds taken, or by the fence
    assert "another instance took over (lease generation 2, ours 1)" in old_err  # its load was refused
    assert target_rows(emulator_port, schema, "items", "id, name", "id") == source_rows(mariadb, db, "items")
    keys = target_rows(emulator_port, schema, "_s3rb_batches", "object_key", "object_key")
    assert len(keys) == len(set(keys)) >= 1  # each batch recorded once
