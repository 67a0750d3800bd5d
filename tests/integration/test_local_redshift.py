"""The README's Redshift path on one machine: ``local_redshift`` starts a throwaway PostgreSQL, S3
and the emulator, writes the settings to source, and ``check --warehouse-roundtrip`` passes against
them; stopping it leaves nothing running. The emulator alone, pointed at no PostgreSQL, says so in
one line at start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from s3rb_stream.testing.ports import free_port, port_open


def test_the_local_stand_in_serves_a_roundtrip_and_stops_cleanly(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"
    helper = subprocess.Popen(
        [sys.executable, "-m", "s3rb_stream.testing.local_redshift", "--env-file", str(env_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert helper.stdout is not None and helper.stderr is not None
        ready = helper.stdout.readline()
        assert f"ready: source {env_file}" in ready, ready + (helper.stderr.read() if helper.poll() else "")
        settings = dict(re.findall(r"^export (\w+)='?([^'\n]*)'?$", env_file.read_text(), re.M))
        port = int(re.search(r":(\d+)/postgres", settings["S3RB_WAREHOUSE_URL"]).group(1))  # type: ignore[union-attr]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("S3RB_", "AWS_"))} | settings
        checked = subprocess.run(
            [sys.executable, "-m", "s3rb_stream", "check", "--warehouse-roundtrip"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "ok: the store and the warehouse load, merge and return every type exactly" in checked.stdout
    finally:
        helper.send_signal(signal.SIGTERM)
        _, err = helper.communicate(timeout=60)
    assert helper.returncode == 0 and "stopped" in err, err
    assert not env_file.exists(), "the settings of servers that are gone must not be left to source"
    deadline = time.monotonic() + 10
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not port_open(port), "the emulator must stop with the helper"


def test_the_emulator_without_its_postgresql_says_so_at_start() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    result = subprocess.run(
        [sys.executable, "-m", "s3rb_stream.testing.redshift_emulator", "--port", "0", "--pg-dsn", dsn],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: the Redshift emulator cannot reach PostgreSQL at {dsn} (")
    assert "local_redshift" in result.stderr
