"""Query-based reads of the source: consistent snapshots and keyset pages, values as raw text.

A thin adapter over mysqlclient (the C client): rows come back as the text protocol's bytes, with
no Python conversion per value, and :mod:`s3rb_stream.core.text_values` turns whole columns into
Arrow. Statements come from :mod:`s3rb_stream.sql.mysql`; values are always bound.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import MySQLdb
import MySQLdb.converters
from MySQLdb.constants import CLIENT

from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import server_release
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

    def begin_snapshot(self) -> tuple[BinlogPosition | None, bool]:
        """Open a consistent-snapshot transaction; return the binlog position it is consistent with.

        MariaDB reports the snapshot's exact position (``binlog_snapshot_file/position``), taken
        without locks. Elsewhere (MySQL) the position is read just before the snapshot opens: the
        rows then reflect that position or a little later, and replaying the binlog from the
        position re-applies the overlap, which full row images make harmless. ``exact`` says which.
        Without a binary log the position is None (full_sync needs none).
        """
        before = self._current_position()
        self.execute(q.CONSISTENT_SNAPSHOT)
        status = {_text(k).lower(): _text(v) for k, v in self.execute(q.SNAPSHOT_POSITION)}
        file, pos = status.get("binlog_snapshot_file"), status.get("binlog_snapshot_position")
        if file and pos:
            return BinlogPosition(file, int(pos)), True
        return before, False

    def _current_position(self) -> BinlogPosition | None:
        rows = self.execute(q.binary_log_status(*server_release(self._conn.get_server_info())))  # type: ignore[no-untyped-call]
        if not rows or rows[0][0] is None:
            return None
        return BinlogPosition(_text(rows[0][0]), int(_text(rows[0][1])))

    def commit(self) -> None:
        self._conn.commit()  # type: ignore[no-untyped-call]

    def estimated_rows(self, database: str, table: str) -> int | None:
        rows = self.execute(q.TABLE_ROWS_ESTIMATE, (database, table))
        return int(_text(rows[0][0])) if rows and rows[0][0] is not None else None

    def close(self) -> None:
        with contextlib.suppress(MySQLdb.Error):  # closing a dead connection is not worth an error
            self._conn.close()  # type: ignore[no-untyped-call]


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
