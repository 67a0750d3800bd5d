"""The binlog reader: python-mysql-replication behind a small, honest interface.

It yields three kinds of items, each with the position after it:

* :class:`RowImages` — the row images of one rows event of a configured table;
* :class:`Boundary` — a point between transactions (commit, DDL, heartbeat while idle);
  only there may a checkpoint be taken, because the library silently skips rows events whose
  table map it has not seen, so a resume in the middle of a transaction would lose rows;
* :class:`Ddl` — a statement on a configured table, to follow or refuse.

Events the library cannot decode raise :class:`UnsupportedEventError` instead of being dropped.
The library's own reconnect resumes at its last event, possibly mid-transaction; we refuse it and
let the caller reopen from its last boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.constants import BINLOG, NONE_SOURCE
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    NotImplementedEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, TableMapEvent, UpdateRowsEvent, WriteRowsEvent

from s3rb_stream.core.gtid import Flavor, GtidState, row_seq
from s3rb_stream.core.positions import BinlogPosition, make_seq
from s3rb_stream.errors import BinlogGone, SourceUnavailable, UnsupportedEventError
from s3rb_stream.settings import MySQLTarget
from s3rb_stream.sources.mysql_meta import driver_options

# Event types the library does not decode but that carry no row data.
_HARMLESS_UNDECODED = {
    BINLOG.ANONYMOUS_GTID_LOG_EVENT,
    BINLOG.IGNORABLE_LOG_EVENT,
    BINLOG.INTVAR_EVENT,
    0x24,  # TRANSACTION_CONTEXT_EVENT (group replication)
    0x25,  # VIEW_CHANGE_EVENT (group replication)
    0x29,  # HEARTBEAT_LOG_EVENT_V2
}
_COMPRESSED = {
    0x28: "MySQL binlog_transaction_compression (TRANSACTION_PAYLOAD_EVENT)",
    0xA5: "MariaDB log_bin_compress (QUERY_COMPRESSED_EVENT)",
    0xA6: "MariaDB log_bin_compress (WRITE_ROWS_COMPRESSED_EVENT_V1)",
    0xA7: "MariaDB log_bin_compress (UPDATE_ROWS_COMPRESSED_EVENT_V1)",
    0xA8: "MariaDB log_bin_compress (DELETE_ROWS_COMPRESSED_EVENT_V1)",
    0xA9: "MariaDB log_bin_compress (WRITE_ROWS_COMPRESSED_EVENT)",
    0xAA: "MariaDB log_bin_compress (UPDATE_ROWS_COMPRESSED_EVENT)",
    0xAB: "MariaDB log_bin_compress (DELETE_ROWS_COMPRESSED_EVENT)",
}
ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236  # purged binlog, unknown GTID state, and the like
_TXN_CONTROL = re.compile(r"^\s*(BEGIN|XA\s+START|SAVEPOINT|ROLLBACK\s+TO)\b", re.I)
_DDL = re.compile(r"^\s*(?:/\*.*?\*/\s*)*(ALTER|RENAME|DROP|TRUNCATE|CREATE)\b", re.I | re.S)


@dataclass(frozen=True, slots=True)
class RowImages:
    table: str
    kind: str  # "insert" | "update" | "delete"
    rows: list[dict[str, Any]]  # {"values": ...} or {"before_values": ..., "after_values": ...}
    first_seq: int
    ts: int  # when the statement ran, epoch seconds (the commit time comes with the transaction's end)


@dataclass(frozen=True, slots=True)
class Boundary:
    position: BinlogPosition
    commit_ts: datetime | None  # None for heartbeats and file rotations
    is_heartbeat: bool = False  # the source sent a heartbeat: nothing more to read for now


@dataclass(frozen=True, slots=True)
class Ddl:
    statement: str
    schema: str
    position: BinlogPosition


BinlogItem = RowImages | Boundary | Ddl


class _GuardedConnect:
    """Connection factory that lets the stream connect once: a reconnect raises instead."""

    def __init__(self) -> None:
        self.stream_connects = 0

    def __call__(self, **kwargs: Any) -> Any:
        if kwargs.get("db") != "information_schema":
            self.stream_connects += 1
            if self.stream_connects > 1:
                raise SourceUnavailable(
                    "the binlog connection dropped", "reconnecting from the last transaction boundary"
                )
        return pymysql.connect(**kwargs)


class BinlogReader:
    """Reads from ``start`` (a transaction boundary) onward, blocking, with heartbeats."""

    def __init__(
        self,
        target: MySQLTarget,
        server_id: int,
        source_db: str,
        tables: list[str],
        start: BinlogPosition,
        heartbeat_seconds: float,
        gtid: Flavor | None = None,
    ) -> None:
        """``gtid``: the server's flavor when positioning by GTID; ``start`` then carries the GTID
        state to resume from, and the server finds it in its own binlog files."""
        self.source_db = source_db
        self.tables = set(tables)
        self.describe_target = target.describe()
        settings = driver_options(target)
        settings["read_timeout"] = max(int(heartbeat_seconds * 4), 30)
        self._gtid: GtidState | None = None
        where: dict[str, Any] = {"log_file": start.file, "log_pos": start.pos}
        if gtid is not None:
            if start.ordinal is None:
                raise ValueError("GTID positioning needs a start position with its GTID state")
            self._gtid = GtidState.parse(start.gtid or "", gtid)
            if gtid == "mariadb":
                where = {"auto_position": start.gtid or "", "is_mariadb": True}
            elif start.gtid:
                where = {"auto_position": start.gtid}
            # else: MySQL with nothing executed yet: an empty set means "from the start", which the
            # library would take as "from now"; the file and offset of the start say the same.
        self._ordinal = self._gtid.ordinal if self._gtid else 0  # the current transaction's
        self._row_index = 0  # rows of the current transaction so far (GTID sequences)
        self._start_file, self._start_pos = start.file, start.pos
        self._stream = BinLogStreamReader(
            connection_settings=settings,
            server_id=server_id,
            blocking=True,
            resume_stream=True,
            **where,
            only_schemas=[source_db],
            only_tables=sorted(self.tables),
            filter_non_implemented_events=False,
            slave_heartbeat=heartbeat_seconds,
            pymysql_wrapper=_GuardedConnect(),
            enable_logging=False,
        )

    def close(self) -> None:
        self._stream.close()

    def position(self) -> BinlogPosition:
        file = self._stream.log_file or self._start_file  # None until a GTID stream's first rotate
        pos = self._stream.log_pos or self._start_pos
        if self._gtid is None:
            return BinlogPosition(file, pos)
        return BinlogPosition(file, pos, str(self._gtid), self._gtid.ordinal)

    def _row_seq(self, after: BinlogPosition, event: Any) -> int:
        if self._gtid is None:
            return make_seq(after.file, event.packet.log_pos - event.packet.event_size)
        seq = row_seq(self._ordinal, self._row_index)
        row_seq(self._ordinal, self._row_index + len(event.rows) - 1)  # the whole event fits, or a clear error
        self._row_index += len(event.rows)
        return seq

    def items(self) -> Iterator[BinlogItem]:
        in_txn = False
        try:
            while True:
                event = self._stream.fetchone()
                if event is None:  # only on a non-blocking stream or an EOF packet
                    raise SourceUnavailable("the binlog stream ended", "reconnecting from the last boundary")
                after = self.position()
                if isinstance(event, (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)):
                    in_txn = True
                    if event.schema != self.source_db or event.table not in self.tables:
                        continue
                    kind = (
                        "insert"
                        if isinstance(event, WriteRowsEvent)
                        else "update"
                        if isinstance(event, UpdateRowsEvent)
                        else "delete"
                    )
                    rows = [_restore_empty_sets(row) for row in event.rows]
                    yield RowImages(event.table, kind, rows, self._row_seq(after, event), event.timestamp)
                elif isinstance(event, XidEvent):
                    in_txn = False
                    yield Boundary(after, _ts(event.timestamp))
                elif isinstance(event, QueryEvent):
                    query = event.query.strip() if isinstance(event.query, str) else str(event.query)
                    if _TXN_CONTROL.match(query):
                        in_txn = True
                        continue
                    in_txn = False
                    schema = event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema or "")
                    if _DDL.match(query):
                        yield Ddl(query, schema, after)
                    yield Boundary(after, _ts(event.timestamp))
                elif isinstance(event, (GtidEvent, MariadbGtidEvent)):
                    in_txn = True
                    if self._gtid is not None:
                        self._ordinal = self._gtid.add(event.gtid)
                        self._row_index = 0
                elif isinstance(event, TableMapEvent):
                    in_txn = True
                elif isinstance(event, HeartbeatLogEvent):
                    if not in_txn:
                        yield Boundary(after, None, is_heartbeat=True)
                elif isinstance(event, NotImplementedEvent):
                    self._refuse(event)
                elif isinstance(event, RotateEvent) and not in_txn:
                    yield Boundary(after, None)  # a file change, not the end of the binlog
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == ER_MASTER_FATAL_ERROR_READING_BINLOG:
                raise BinlogGone(
                    f"MySQL at {self.describe_target} cannot send the binlog from {self.position()}: {exc.args[1]}",
                    "the changes after that position are no longer on this server (purged, or this server"
                    " lacks them): re-snapshot the tables, never skipped silently",
                ) from None
            raise SourceUnavailable(
                f"the binlog connection failed (error {exc.args[0] if exc.args else '?'})",
                "reconnecting from the last transaction boundary",
            ) from None

    def _refuse(self, event: Any) -> None:
        etype = event.event_type
        if etype in _HARMLESS_UNDECODED:
            return
        if etype in _COMPRESSED:
            raise UnsupportedEventError(
                f"the binlog holds compressed events ({_COMPRESSED[etype]}) at {self.position()}",
                "compressed binlog events are not supported yet: turn compression off on the source",
            )
        if etype == BINLOG.INCIDENT_EVENT:
            raise UnsupportedEventError(
                f"the binlog holds an INCIDENT event at {self.position()}: the source may have lost changes",
                "re-snapshot the tables after checking the source",
            )
        raise UnsupportedEventError(
            f"binlog event type {etype:#x} at {self.position()} cannot be decoded",
            "it may carry row changes; please report the server version",
        )


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _restore_empty_sets(row: dict[str, Any]) -> dict[str, Any]:
    """The library reads an empty SET as None, like NULL, and says which in ``none_sources``:
    an empty SET is a value (''), not NULL."""
    for values_key, sources_key in (("values", "none_sources"), ("before_values", "before_none_sources"),
                                    ("after_values", "after_none_sources")):  # fmt: skip
        sources = row.get(sources_key)
        if sources and values_key in row:
            for name, source in sources.items():
                if source == NONE_SOURCE.EMPTY_SET:
                    row[values_key][name] = set()
    return row
