"""Query-based reads of the source: consistent snapshots and keyset pages, values as raw text.

A thin adapter over mysqlclient (the C client): rows come back as the text protocol's bytes, with
no Python conversion per value, and :mod:`s3rb_stream.core.text_values` turns whole columns into
Arrow. Statements come from :mod:`s3rb_stream.sql.mysql`; values are always bound.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import MySQLdb
import MySQLdb.converters
from MySQLdb.constants import CLIENT

from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import server_release
from s3rb_stream.core.snapshot_lock import OpenedSnapshot, SnapshotLock
from s3rb_stream.errors import SourceError, SourceUnavailable
from s3rb_stream.settings import MySQLTarget
from s3rb_stream.sources.mysql_meta import connection_error, driver_options
from s3rb_stream.sources.mysql_tls import CR_SSL_CONNECTION_ERROR, mysqlclient_attempts
from s3rb_stream.sql import mysql as q

TextRow = tuple[bytes | str | None, ...]

# Encoders only (keys that are Python types): parameters are escaped as usual, while result
# columns, having no decoder, stay bytes.
_ENCODERS_ONLY = {k: v for k, v in MySQLdb.converters.conversions.items() if isinstance(k, type)}
# Built on MariaDB Connector/C (3.x; MySQL's own library is 8.x), mysqlclient checks the host name
# whenever it checks the certificate, VERIFY_CA included.
_ON_MARIADB_CONNECTOR = str(MySQLdb.get_client_info()).startswith("3.")  # type: ignore[no-untyped-call]


def mysqlclient_options(target: MySQLTarget) -> list[dict[str, Any]]:
    """The driver options (URL options included) in mysqlclient's spelling, one dict per connection
    attempt (see :func:`mysql_tls.mysqlclient_attempts`)."""
    options = driver_options(target)
    kwargs: dict[str, Any] = {"conv": _ENCODERS_ONLY}
    for name, value in options.items():
        if name in ("ssl", "ssl_disabled"):
            continue  # PyMySQL's TLS: mysqlclient's comes from the same setting below
        kwargs[name] = (value or "") if name == "password" else value
    return [kwargs | tls for tls in mysqlclient_attempts(target.tls())]


def _connect(target: MySQLTarget) -> MySQLdb.connections.Connection:
    """The first attempt that connects; a TLS failure moves on to the next (PREFERRED's plain one).

    A mode that must encrypt is checked after connecting: MariaDB Connector/C asked for REQUIRED (or
    a VERIFY mode) by a server that offers no TLS, or whose offer was stripped on the way, connects
    in plain text without a word."""
    attempts = mysqlclient_options(target)
    must_encrypt = target.tls().mode not in ("DISABLED", "PREFERRED")
    for i, kwargs in enumerate(attempts):
        try:
            conn = MySQLdb.connect(**kwargs)
            if must_encrypt and not conn.server_capabilities & CLIENT.SSL:
                conn.close()  # type: ignore[no-untyped-call]
                raise connection_error(target, CR_SSL_CONNECTION_ERROR, "the server offers no TLS (no SSL capability)")
            return conn
        except MySQLdb.OperationalError as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
            if code == CR_SSL_CONNECTION_ERROR and i + 1 < len(attempts):
                continue
            detail = str(exc.args[1]) if len(exc.args) > 1 else ""
            note = ""
            if target.tls().mode == "VERIFY_CA" and _ON_MARIADB_CONNECTOR:
                note = (
                    "; the snapshot driver here (mysqlclient on MariaDB Connector/C) checks the host name too,"
                    " even with VERIFY_CA: connect by a name the certificate holds"
                )
            raise connection_error(target, code, detail, note) from None
    raise AssertionError("no connection attempt")  # attempts is never empty


class QueryReader:
    """One source connection for query-based reads, in UTC, at REPEATABLE READ."""

    def __init__(self, target: MySQLTarget) -> None:
        self.target = target
        self._conn = _connect(target)
        self._conn.autocommit(True)
        self.execute(q.UTC_SESSION)
        self.execute(q.REPEATABLE_READ)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[TextRow]:
        try:
            cur = self._conn.cursor()
            cur.execute(sql, tuple(params) if params is not None else None)
            rows = cur.fetchall()
            cur.close()
        except MySQLdb.OperationalError as exc:
            raise SourceUnavailable(
                f"query on MySQL at {self.target.describe()} failed: {exc}", "the read is retried from its last part"
            ) from None
        except MySQLdb.ProgrammingError as exc:
            raise SourceError(f"query on MySQL at {self.target.describe()} failed: {exc}") from None
        return list(rows or ())

    def begin_read(self) -> None:
        """Open a consistent-snapshot transaction, for a read that needs no binlog position (full_sync)."""
        self.execute(q.CONSISTENT_SNAPSHOT)

    def begin_snapshot(self, lock: SnapshotLock) -> OpenedSnapshot:
        """Open a consistent-snapshot transaction; return the binlog position it is consistent with.

        ``server``: the server reports the snapshot's exact position (MariaDB's
        ``binlog_snapshot_file/position``), no lock. ``tables`` and ``global``: the position is
        read, and the snapshot opened, while another connection of ours holds the lock, so that no
        transaction in the binlog before the position is still invisible to the snapshot
        (docs/ARCHITECTURE.md, "Snapshots"). ``none``: the same without the lock, which can lose a
        transaction committing at that moment. Without a binary log the position is None.
        """
        if lock.method == "server":
            self.execute(q.CONSISTENT_SNAPSHOT)
            status = {_text(k).lower(): _text(v) for k, v in self.execute(q.SNAPSHOT_POSITION)}
            file, pos = status.get("binlog_snapshot_file"), status.get("binlog_snapshot_position")
            if not (file and pos):
                raise SourceError(
                    f"MySQL at {self.target.describe()} reported no binlog position for the snapshot",
                    "run the snapshot again; if this persists, report it with the server's version",
                )
            gtid = status.get("binlog_snapshot_gtid_executed")
            return OpenedSnapshot(BinlogPosition(file, int(pos)), "server", gtid)
        if lock.method == "none":
            position, gtid = self._binlog_status()
            self.execute(q.CONSISTENT_SNAPSHOT)
            return OpenedSnapshot(position, "none", gtid)
        with self._locked(lock) as times:
            position, gtid = self._binlog_status()
            self.execute(q.CONSISTENT_SNAPSHOT)
        return OpenedSnapshot(position, lock.method, gtid, times.waited, times.held)

    @contextlib.contextmanager
    def _locked(self, lock: SnapshotLock) -> Iterator[_LockTimes]:
        """Hold ``lock`` on a connection of its own: on this one, START TRANSACTION would release a
        LOCK TABLES before the snapshot opens (and UNLOCK TABLES would commit the snapshot)."""
        conn = _connect(self.target)
        conn.autocommit(True)
        times = _LockTimes()
        try:
            cur = conn.cursor()
            if lock.method == "global":
                statement = q.GLOBAL_READ_LOCK
            else:
                statement = q.lock_tables_read(lock.database, lock.tables)
            started = time.monotonic()
            try:
                cur.execute(q.LOCK_WAIT_TIMEOUT, (lock.wait_seconds,))
                cur.execute(statement)
            except MySQLdb.Error as exc:
                raise lock_error(self.target, lock, exc) from None
            locked = time.monotonic()
            times.waited = locked - started
            try:
                yield times
            finally:
                times.held = time.monotonic() - locked
                with contextlib.suppress(MySQLdb.Error):  # a lost connection has released it already
                    cur.execute(q.UNLOCK_TABLES)
        finally:
            with contextlib.suppress(MySQLdb.Error):
                conn.close()  # type: ignore[no-untyped-call]

    def _binlog_status(self) -> tuple[BinlogPosition | None, str | None]:
        """The end of the binlog now, and MySQL's executed GTID set (MariaDB's status has none)."""
        rows = self.execute(q.binary_log_status(*server_release(self._conn.get_server_info())))  # type: ignore[no-untyped-call]
        if not rows or rows[0][0] is None:
            return None, None
        row = rows[0]
        gtid = _text(row[4]) if len(row) > 4 else None
        return BinlogPosition(_text(row[0]), int(_text(row[1]))), gtid

    def commit(self) -> None:
        self._conn.commit()  # type: ignore[no-untyped-call]

    def estimated_rows(self, database: str, table: str) -> int | None:
        rows = self.execute(q.TABLE_ROWS_ESTIMATE, (database, table))
        return int(_text(rows[0][0])) if rows and rows[0][0] is not None else None

    def close(self) -> None:
        with contextlib.suppress(MySQLdb.Error):  # closing a dead connection is not worth an error
            self._conn.close()  # type: ignore[no-untyped-call]


@dataclass
class _LockTimes:
    waited: float = 0.0
    held: float = 0.0


_ACCESS_DENIED = {1044, 1045, 1142, 1227}  # database, user, table, privilege: the server's codes
_LOCK_WAIT_TIMEOUT = 1205


def lock_error(target: MySQLTarget, lock: SnapshotLock, exc: MySQLdb.Error) -> SourceError:
    """Why the snapshot's lock was not taken, and what to do: nothing was locked, nothing waits on it."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    statement = "FLUSH TABLES WITH READ LOCK" if lock.method == "global" else "LOCK TABLES ... READ"
    where = f"MySQL at {target.describe()}"
    if code == _LOCK_WAIT_TIMEOUT:
        held_by = (
            "a statement or commit still running"
            if lock.method == "global"
            else f"an open transaction that changed {', '.join(lock.tables)}"
        )
        return SourceUnavailable(
            f"the snapshot's {statement} on {where} waited {lock.wait_seconds} s for {held_by}, and gave up;"
            " nothing was read",
            "find it in information_schema.innodb_trx (or performance_schema.metadata_locks) and let it end,"
            " or raise S3RB_SNAPSHOT_LOCK_WAIT_SECONDS; then run the snapshot again",
        )
    if code in _ACCESS_DENIED and lock.method == "global":
        return SourceError(
            f"{where} refused the snapshot's FLUSH TABLES WITH READ LOCK (error {code})",
            "GRANT RELOAD ON *.* TO the user, or set S3RB_SNAPSHOT_LOCKING=tables (RDS and Aurora refuse"
            " this lock to every user)",
        )
    if code in _ACCESS_DENIED:
        return SourceError(
            f"{where} refused the snapshot's LOCK TABLES ... READ on {', '.join(lock.tables)} (error {code})",
            f"GRANT LOCK TABLES ON `{lock.database}`.* TO the user (it also needs SELECT on the tables)",
        )
    if isinstance(exc, MySQLdb.OperationalError):
        return SourceUnavailable(f"the snapshot's {statement} on {where} failed: {exc}", "run the snapshot again")
    return SourceError(f"the snapshot's {statement} on {where} failed: {exc}")


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
