"""A DuckDB file that does not open says what DuckDB or the OS said: a lock held by another process
(worth retrying), or a file this user may not write (not), never a guess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from s3rb_stream.errors import WarehouseError, WarehouseUnavailable
from s3rb_stream.retry import transient
from s3rb_stream.targets.duckdb import DuckDBWarehouse, open_error


def test_a_lock_held_by_another_process_is_named_and_retryable(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('open', flush=True);"
         " sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseUnavailable) as info:
            DuckDBWarehouse(str(path))
    finally:
        holder.communicate("")
    assert "lock" in str(info.value).lower() and "one process at a time" in str(info.value)
    assert transient(info.value)


def test_what_the_os_said_is_kept_and_a_permission_problem_is_not_retried() -> None:
    denied = open_error("/data/w.duckdb", 'IO Error: Cannot open file "/data/w.duckdb": Permission denied')
    assert str(denied).startswith('cannot open DuckDB file /data/w.duckdb: Cannot open file "/data/w.duckdb":'
                                  " Permission denied")  # fmt: skip
    assert "writable by the user" in str(denied) and not transient(denied)
    read_only = open_error("/ro/w.duckdb", 'IO Error: Cannot open file "/ro/w.duckdb": Read-only file system')
    assert "Read-only file system" in str(read_only) and "another process" not in str(read_only)
    other = open_error("/x.duckdb", "IO Error: The file is not a valid DuckDB database file!")
    assert type(other) is WarehouseError and "not a valid DuckDB database file" in str(other)
