"""The local store's disk fills up under the running daemon, then space comes back.

Run inside a private mount namespace (``unshare --user --map-root-user --mount``, no root needed),
so that the store can be a small tmpfs of its own::

    unshare --user --map-root-user --mount python -m s3rb_stream.testing.disk_full \\
        --store DIR --db DB --log FILE --full-seconds 5

The environment carries the pipeline's settings (``S3RB_STORE_URL=file://DIR``). It mounts the
tmpfs, takes the first checkpoint, says ``ready`` (the caller starts its write load), fills the
disk to the last byte, says ``full``, waits, frees the space, says ``freed``, waits until the
daemon has loaded again, stops it with SIGTERM, runs a final catch-up, and prints a JSON line
with what happened. The caller compares source and target afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from s3rb_stream.testing.faults import Daemon

FILLER = ".filler"


def fill(directory: Path) -> None:
    """Write until the disk says no more."""
    chunk = b"\0" * (64 * 1024)
    with open(directory / FILLER, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
        chunk = b"\0" * 512
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass


def wait_for_event(log: Path, after: int, event: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with open(log, "rb") as fh:
            fh.seek(after)
            if f'"event": "{event}"'.encode() in fh.read():
                return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"no {event!r} in {log} within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--full-seconds", type=float, default=5.0)
    parser.add_argument("--size", default="64m")
    args = parser.parse_args()
    args.store.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.size}", "tmpfs", str(args.store)], check=True)
    daemon = Daemon(dict(os.environ), args.db, args.log)
    daemon.catch_up("--start-position", "current")
    daemon.start()
    print("ready", flush=True)
    time.sleep(3.0)
    fill(args.store)
    print("full", flush=True)
    time.sleep(args.full_seconds)
    full_errors = args.log.read_bytes().count(b"the disk is full")
    freed_at = args.log.stat().st_size
    (args.store / FILLER).unlink()
    print("freed", flush=True)
    recovery = wait_for_event(args.log, freed_at, "loaded", timeout=120)
    sys.stdin.readline()  # the caller stops its load, then lets us finish
    code = daemon.terminate()
    final = daemon.catch_up()
    print(json.dumps({"recovery_s": recovery, "exit_code": code, "full_errors": full_errors, "final_s": final}))


if __name__ == "__main__":
    main()
