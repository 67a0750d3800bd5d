"""A throwaway MariaDB server with the binlog on: own datadir, own port, killed on stop.

Used by the test fixtures, the benchmarks and the demo, so that none of them touches the
machine's own database server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from s3rb_stream.testing.ports import free_port, terminate, wait_until

BINLOG_OPTIONS: dict[str, str] = {
    "log_bin": "mariadb-bin",
    "binlog_format": "ROW",
    "binlog_row_image": "FULL",
    "binlog_row_metadata": "FULL",
    "server_id": "1",
}


def _find_binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next(
            (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()),
            None,
        )
        if found:
            return found
    raise FileNotFoundError(f"none of {', '.join(names)} found: install MariaDB (apt-get install mariadb-server)")


def _as_user() -> list[str]:
    """mariadbd refuses to run as root unless told to; other users run as themselves."""
    return ["--user=root"] if os.geteuid() == 0 else []


@dataclass
class MariaDBServer:
    """One mariadbd process. ``options`` override :data:`BINLOG_OPTIONS`."""

    options: dict[str, str] = field(default_factory=dict)
    basedir: Path | None = None
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = None
    _owns_basedir: bool = False

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> MariaDBServer:
        if self.basedir is None:
            self.basedir = Path(tempfile.mkdtemp(prefix="s3rb-mariadb-"))
            self._owns_basedir = True
        datadir = self.basedir / "data"
        if not (datadir / "mysql").exists():
            datadir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    _find_binary("mariadb-install-db", "mysql_install_db"),
                    "--no-defaults",
                    f"--datadir={datadir}",
                    *_as_user(),
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        self.port = self.port or free_port()
        opts = {**BINLOG_OPTIONS, **self.options}
        args = [
            _find_binary("mariadbd", "mysqld"),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.basedir / 'mysqld.sock'}",
            f"--pid-file={self.basedir / 'mysqld.pid'}",
            f"--log-error={self.basedir / 'error.log'}",
            *_as_user(),
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=48M",
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        for key, value in opts.items():
            if value == "":
                args.append(f"--{key}")
            else:
                args.append(f"--{key}={value}")
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                log = (self.basedir / "error.log").read_text(errors="replace")[-2000:]  # type: ignore[operator]
                raise RuntimeError(f"mariadbd exited with {self._proc.returncode}:\n{log}")
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root").close()
                return True
            except pymysql.err.OperationalError:
                return False

        wait_until(ready, timeout, f"MariaDB on port {self.port}")
        return self

    def connect(self, database: str | None = None, **kwargs: Any) -> Any:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            database=database,
            charset="utf8mb4",
            **{"autocommit": True, **kwargs},
        )

    def execute(self, *statements: str, database: str | None = None) -> None:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def query_one(self, statement: str) -> Any:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                row = cur.fetchone()
                return row[0] if row else None
        finally:
            conn.close()

    def purge_binary_logs(self, timeout: float = 30.0) -> str:
        """Purge every binlog but the newest; its name. MariaDB purges a file only once the engine
        has made its commits durable, so this retries until it has."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW BINARY LOGS")
                newest = str(cur.fetchall()[-1][0])

                def purged() -> bool:
                    cur.execute(f"PURGE BINARY LOGS TO '{newest}'")
                    cur.execute("SHOW BINARY LOGS")
                    return [r[0] for r in cur.fetchall()] == [newest]

                wait_until(purged, timeout, "the old binlogs to be purged")
        finally:
            conn.close()
        return newest

    # ------------------------------------------------------------------ replication (GTID)

    def replicate_from(self, primary: MariaDBServer) -> None:
        """Become a GTID replica of ``primary``, from its first binlog. Start this server with its own
        ``server_id`` and ``log_slave_updates`` so that it can be promoted later."""
        self.execute(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='root',"
            " MASTER_USE_GTID=slave_pos",
            "START SLAVE",
        )

    def wait_replicated(self, primary: MariaDBServer, timeout: float = 30.0) -> None:
        """Until this replica has applied everything ``primary`` has logged so far."""
        wanted = primary.query_one("SELECT @@GLOBAL.gtid_binlog_pos")

        def caught_up() -> bool:
            running = self.query_one("SELECT @@GLOBAL.gtid_slave_pos")
            return bool(running == wanted)

        wait_until(caught_up, timeout, f"the replica on port {self.port} to apply {wanted}")

    def promote(self) -> None:
        """Stop replicating: this server is now a primary."""
        self.execute("STOP SLAVE", "RESET SLAVE ALL")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server (as a clean shutdown does) and start it again on the same port and data."""
        terminate(self._proc, timeout=30)
        self._proc = None
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        terminate(self._proc, timeout=30)
        self._proc = None
        if self._owns_basedir and self.basedir is not None and not os.environ.get("S3RB_KEEP_TMP"):
            shutil.rmtree(self.basedir, ignore_errors=True)

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
