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

from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.errors import SourceError, SourceUnavailable
from s3rb_stream.settings import MySQLTarget
from s3rb_stream.sources.mysql_meta import connection_error, driver_options
from s3rb_stream.sql import mysql as q

TextRow = tuple[bytes | str | None, ...]

# Encoders only (keys that are Python types): parameters are escaped as usual, while result
# columns, having no decoder, stay bytes.
_ENCODERS_ONLY = {k: v for k, v in MySQLdb.converters.conversions.items() if isinstance(k, type)}
_SSL_FILES = {"ssl_ca": "ca", "ssl_cert": "cert", "ssl_key": "key"}


def mysqlclient_options(target: MySQLTarget) -> dict[str, Any]:
    """The pymysql-style driver options (URL options included) in mysqlclient's spelling."""
    options = driver_options(target)
    kwargs: dict[str, Any] = {"conv": _ENCODERS_ONLY}
    ssl: dict[str, str] = {}
    for name, value in options.items():
        if name in _SSL_FILES:
            ssl[_SSL_FILES[name]] = value
        elif name == "ssl_disabled":
            if value:
                kwargs["ssl_mode"] = "DISABLED"
        elif name in ("ssl_verify_cert", "ssl_verify_identity"):
            if value:
                kwargs["ssl_mode"] = "VERIFY_IDENTITY" if name == "ssl_verify_identity" else "VERIFY_CA"
        elif name == "password":
            kwargs["password"] = value or ""
        else:
            kwargs[name] = value
    if ssl:
        kwargs["ssl"] = ssl
    return kwargs


class QueryReader:
    """One source connection for query-based reads, in UTC, at REPEATABLE READ."""

    def __init__(self, target: MySQLTarget) -> None:
        self.target = target
        try:
            self._conn = MySQLdb.connect(**mysqlclient_options(target))
        except MySQLdb.OperationalError as exc:
            raise connection_error(target, exc.args[0] if exc.args else 0) from None
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
        try:
            rows = self.execute(q.BINARY_LOG_STATUS)
        except SourceError:
            rows = self.execute(q.MASTER_STATUS)
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
