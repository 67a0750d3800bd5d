"""A throwaway PostgreSQL server (Debian's ``postgresql``): own datadir, own port, trust auth.

The Redshift emulator runs in front of one. PostgreSQL refuses to run as root, so as root the
server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from s3rb_stream.testing.ports import free_port, port_open, terminate, wait_until


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise FileNotFoundError("initdb not found: install PostgreSQL (apt-get install postgresql)")


@dataclass
class PostgresServer:
    port: int = 0
    basedir: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_server_user(self, args: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return args
        return ["runuser", "-u", "postgres", "--", *args]

    def start(self, timeout: float = 60.0) -> PostgresServer:
        bindir = _bin_dir()
        self.basedir = Path(tempfile.mkdtemp(prefix="s3rb-postgres-"))
        datadir = self.basedir / "data"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.basedir, user.pw_uid, user.pw_gid)
        subprocess.run(
            self._as_server_user(
                [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.port = self.port or free_port()
        self._proc = subprocess.Popen(
            self._as_server_user(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(datadir),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(self.basedir),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "TimeZone=UTC",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._proc.returncode}")
            if not port_open(self.port):
                return False
            probe = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
            return subprocess.run(probe, check=False).returncode == 0

        wait_until(ready, timeout, f"PostgreSQL on port {self.port}")
        return self

    def stop(self) -> None:
        terminate(self._proc, timeout=30)
        self._proc = None
        if self.basedir is not None and not os.environ.get("S3RB_KEEP_TMP"):
            shutil.rmtree(self.basedir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
