"""``s3rb-stream demo`` as a newcomer sees it (output not a terminal): a dozen human lines on
stdout, the daemon's log lines in a file it names, one daemon run (one lease), source and target
equal, rows under their column names, and how to look inside."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from s3rb_stream.commands.demo import render_rows


def test_the_demo_runs_the_daemon_and_shows_what_a_user_came_to_see(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "s3rb_stream", "demo", "--seconds", "4", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", "log lines belong in the file the demo names"
    out = result.stdout
    assert len(out.splitlines()) < 30, out
    assert f"the daemon's log lines go to {data / 'demo.log'}" in out
    caught = re.search(r"^caught up at \S+: ([\d,]+) changes captured \(([\d,]+) inserts, ([\d,]+) updates,"
                       r" ([\d,]+) deletes\)", out, re.M)  # fmt: skip
    assert caught, out
    assert all(int(n.replace(",", "")) > 0 for n in caught.groups()), "inserts, updates and deletes all shown"
    for table in ("customers", "orders"):
        counts = re.search(rf"^  {table} +(\d+) rows +(\d+) rows$", out, re.M)
        assert counts and counts.group(1) == counts.group(2), out
    assert re.search(r"^  id +customer_id +amount +note +_s3rb_op +_s3rb_source_ts$", out, re.M), out
    assert re.search(r"^  \d+ +\d+ +[\d.]+ +shipped +u ", out, re.M), "an updated row is shown"
    assert render_rows(["id", "note"], [(1, None)])[2] == "  1   NULL"  # NULL as NULL, not None or blank
    assert out.rstrip().splitlines()[-1].startswith("look inside: ")
    log = (data / "demo.log").read_text()
    assert log.count('"lease taken: this instance writes"') == 1, "a demo of a daemon runs the daemon, once"
