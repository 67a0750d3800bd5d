"""The binlog reader: python-mysql-replication's connection, our own event decoding.

The library opens the stream (checksums, heartbeats, replica registration, file or GTID
positioning); events are then read packet by packet and decoded here: table maps are parsed once
per distinct bytes (:mod:`table_map`) and row images by a decoder generated per table layout
(:mod:`row_decoder`), several times faster than the library's generic per-value decoding.

It yields three kinds of items, each with the position after it:

* :class:`RowImages` — the row images of one rows event of a configured table;
* :class:`Boundary` — a point between transactions (commit, DDL, heartbeat while idle);
  only there may a checkpoint be taken, because a rows event is readable only after its
  transaction's table map, so a resume in the middle of a transaction would lose rows;
* :class:`Ddl` — a statement on a configured table, to follow or refuse.

Events that may carry rows but cannot be decoded raise :class:`UnsupportedEventError` instead of
being dropped. A dropped connection is never resumed mid-transaction: the caller reopens from its
last boundary.
"""

from __future__ import annotations

import binascii
import re
import struct
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader

from s3rb_stream.core.gtid import Flavor, GtidState, row_seq
from s3rb_stream.core.positions import BinlogPosition, make_seq
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import BinlogGone, ConfigError, SchemaError, SourceUnavailable, UnsupportedEventError
from s3rb_stream.settings import MySQLTarget
from s3rb_stream.sources.mysql_meta import driver_options, pymysql_connection_error
from s3rb_stream.sources.row_decoder import Implementation, RowDecoder, compile_decoder, partial_update_decoder
from s3rb_stream.sources.table_map import JSON, TableMap, TableMapCache, TableMapError, lenenc, present_columns

_HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server id, event size, next position, flags
QUERY, STOP, ROTATE, XID, TABLE_MAP, HEARTBEAT, INCIDENT = 0x02, 0x03, 0x04, 0x10, 0x13, 0x1B, 0x1A
GTID, MARIADB_GTID, PARTIAL_UPDATE_ROWS = 0x21, 0xA2, 0x27
_ROWS = {
    0x17: "insert", 0x18: "update", 0x19: "delete", 0x1E: "insert", 0x1F: "update", 0x20: "delete",
    PARTIAL_UPDATE_ROWS: "update",  # binlog_row_value_options=PARTIAL_JSON: JSON changes applied to the before image
}  # fmt: skip
_ROWS_V2 = {0x1E, 0x1F, 0x20, PARTIAL_UPDATE_ROWS}
HIDDEN_PREFIX = "!hidden!"  # MySQL's name of a functional index's hidden column
# Events that carry no row data: statement-based leftovers, format and GTID bookkeeping, MariaDB's
# annotations, checkpoints and GTID lists, group replication, heartbeats v2.
_IGNORED = {
    0x05, 0x0D, 0x0E, 0x0F, 0x11, 0x12, 0x1C, 0x1D, 0x22, 0x23, 0x24, 0x25, 0x26, 0x29,
    0xA0, 0xA1, 0xA3, 0xA4, STOP,
}  # fmt: skip
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
_MAX_PACKET = 0xFFFFFF  # a packet this long continues in the next (the protocol's 16 MB split)
ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236  # purged binlog, unknown GTID state, and the like
_TXN_CONTROL = re.compile(r"^\s*(BEGIN|XA\s+START|SAVEPOINT|ROLLBACK\s+TO)\b", re.I)
_DDL = re.compile(r"^\s*(?:/\*.*?\*/\s*)*(ALTER|RENAME|DROP|TRUNCATE|CREATE)\b", re.I | re.S)


@dataclass(frozen=True, slots=True)
class RowImages:
    """The images of one rows event: one tuple per row in table column order; for updates, the
    before and after images alternate. ``problem`` says why a table's rows could not be decoded."""

    table: str
    kind: str  # "insert" | "update" | "delete"
    rows: list[tuple[Any, ...]]
    first_seq: int
    ts: int  # when the statement ran, epoch seconds (the commit time comes with the transaction's end)
    problem: str | None = None
    nbytes: int = 0  # the images' bytes in the binlog, to size buffers by
    definition: SourceTable | None = None  # the rows' own definition, when not the one capture holds


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
    ts: datetime | None = None  # when it ran at the source (a TRUNCATE's rows are deleted then)


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


class EventReader:
    """Decodes binlog events, however they arrive: one event a packet, each behind the protocol's
    status byte. :class:`BinlogReader` takes them from a server's binlog stream,
    :class:`~s3rb_stream.sources.binlog_file.BinlogFileReader` from binlog files on disk; both go
    through this one loop, so a file decodes exactly as the stream would."""

    def __init__(
        self,
        source_db: str,
        tables: Mapping[str, SourceTable],
        start: BinlogPosition,
        gtid: Flavor | None = None,
        skip: Container[str] = (),
        decoder: Implementation = "auto",
    ) -> None:
        """``tables``: the captured tables by name, read live: a definition replaced while reading
        (an ALTER followed) decodes the rows after it. ``skip``: names not read (quarantined), also live.
        ``decoder``: which row decoder (:func:`row_decoder.compile_decoder`); tests run both.
        ``gtid``: the server's flavor when positioning by GTID (``start`` then carries its state)."""
        self.source_db = source_db
        self.tables = tables
        self.decoder = decoder
        self.skip = skip
        # The definition rows were written under when it is not the one held (set by capture).
        self.resolve: Callable[[TableMap, SourceTable], SourceTable] | None = None
        self._gtid: GtidState | None = None
        if gtid is not None:
            if start.ordinal is None:
                raise ValueError("GTID positioning needs a start position with its GTID state")
            self._gtid = GtidState.parse(start.gtid or "", gtid)
        self._ordinal = self._gtid.ordinal if self._gtid else 0  # the current transaction's
        self._row_index = 0  # rows of the current transaction so far (GTID sequences)
        self._file: str | None = start.file if gtid is None else None  # None until a GTID stream's first rotate
        self._pos = start.pos
        self._start_file, self._start_pos = start.file, start.pos
        self._maps: dict[int, TableMap | None] = {}  # table id → map of a captured table, None for others
        self._map_cache: TableMapCache | None = None
        self._decoders: dict[int, tuple[TableMap, SourceTable, RowDecoder, SourceTable | None]] = {}
        # Images with columns left out, or partial JSON updates: by (table id, columns present, partial).
        self._other_decoders: dict[tuple[int, int, bool], tuple[TableMap, SourceTable, RowDecoder, SourceTable | None]]
        self._other_decoders = {}
        self._checksum = 0  # bytes of checksum after each event: 4 with CRC32, else 0

    def close(self) -> None:
        """Let go of what the events come from."""

    def position(self) -> BinlogPosition:
        file = self._file or self._start_file
        pos = self._pos or self._start_pos
        if self._gtid is None:
            return BinlogPosition(file, pos)
        return BinlogPosition(file, pos, str(self._gtid), self._gtid.ordinal)

    def items(self) -> Iterator[BinlogItem]:
        raise NotImplementedError

    def _read(self, read_packet: Callable[[], bytes]) -> Iterator[BinlogItem]:  # the hot loop
        """Decode events from ``read_packet`` (one event a packet, behind a status byte) until it
        raises; one flat dispatch over event types."""
        in_txn = False
        unpack_header = _HEADER.unpack_from
        checksum = self._checksum
        maps = self._maps
        assert self._map_cache is not None
        map_cache = self._map_cache
        while True:
            data = read_packet()
            if data[0] != 0:
                if data[0] == 0xFE and len(data) < 9:
                    raise SourceUnavailable("the binlog stream ended", "reconnecting from the last boundary")
                continue
            ts, etype, _server, size, next_pos, _flags = unpack_header(data, 1)
            end = len(data) - checksum
            if etype == ROTATE:
                self._pos = int.from_bytes(data[20:28], "little")
                self._file = data[28:end].decode()
                if ts:  # a real rotation, perhaps a restart: table ids may be reused
                    maps.clear()
                    self._decoders.clear()
                if not in_txn:
                    yield Boundary(self.position(), None)  # a file change, not the end of the binlog
                continue
            if next_pos:
                self._pos = next_pos
            if etype in _ROWS:
                in_txn = True
                tmap = maps.get(int.from_bytes(data[20:26], "little"))
                if tmap is not None:
                    yield self._rows(tmap, _ROWS[etype], etype, data, end, ts, next_pos - size)
            elif etype == TABLE_MAP:
                in_txn = True
                try:
                    tmap = map_cache.get(data[20:end])
                except TableMapError as exc:
                    raise UnsupportedEventError(
                        f"the table map at {self.position()} cannot be parsed: {exc}",
                        "please report the server version and the table definition",
                    ) from None
                captured = tmap.schema == self.source_db and tmap.table in self.tables and tmap.table not in self.skip
                maps[tmap.table_id] = tmap if captured else None
            elif etype == XID:
                in_txn = False
                yield Boundary(self.position(), _ts(ts))
            elif etype == QUERY:
                query, schema = _query(data, end)
                if _TXN_CONTROL.match(query):
                    in_txn = True
                    continue
                in_txn = False
                if _DDL.match(query):
                    yield Ddl(query, schema, self.position(), _ts(ts))
                yield Boundary(self.position(), _ts(ts))
            elif etype in (GTID, MARIADB_GTID):
                in_txn = True
                if self._gtid is not None:
                    self._ordinal = self._gtid.add(_gtid_text(data, etype, _server))
                    self._row_index = 0
            elif etype == HEARTBEAT:
                if not in_txn:
                    yield Boundary(self.position(), None, is_heartbeat=True)
            elif etype not in _IGNORED:
                self._refuse(etype)

    def _rows(self, tmap: TableMap, kind: str, etype: int, data: bytes, end: int, ts: int, start: int) -> RowImages:
        table = self.tables.get(tmap.table)
        pos = 28 + int.from_bytes(data[28:30], "little") if etype in _ROWS_V2 else 28
        count, pos = lenenc(data, pos)
        width = (count + 7) // 8
        full = (1 << count) - 1
        images = 2 if kind == "update" else 1
        present = []  # the columns each image holds (before, after)
        for _ in range(images):
            present.append(int.from_bytes(data[pos : pos + width], "little") & full)
            pos += width
        if self._gtid is None:
            seq = make_seq(self._file or self._start_file, start)
        else:
            seq = row_seq(self._ordinal, self._row_index)
        if table is None or tmap.table in self.skip:  # quarantined meanwhile
            return RowImages(tmap.table, kind, [], seq, ts, problem="not captured")
        try:
            if present[0] == full and present[-1] == full and etype != PARTIAL_UPDATE_ROWS:
                decode, definition = self._decoder(tmap, table)
            else:
                decode, definition = self._other_decoder(tmap, table, present, etype == PARTIAL_UPDATE_ROWS)
            rows = decode(data, pos, end)
        except SchemaError as exc:
            return RowImages(tmap.table, kind, [], seq, ts, problem=str(exc))
        except ConfigError:
            raise
        except Exception as exc:  # whatever these bytes hold, it stops this table, never capture
            problem = (
                f"rows of {tmap.schema}.{tmap.table} at {self.position()} cannot be decoded:"
                f" {type(exc).__name__}: {exc}"
            )
            return RowImages(tmap.table, kind, [], seq, ts, problem=problem)
        if self._gtid is not None:
            changes = len(rows) // images
            row_seq(self._ordinal, self._row_index + changes - 1)  # the whole event fits, or a clear error
            self._row_index += changes
        return RowImages(tmap.table, kind, rows, seq, ts, None, end - pos, definition)

    def _decoder(self, tmap: TableMap, table: SourceTable) -> tuple[RowDecoder, SourceTable | None]:
        """A decoder of ``tmap``'s rows, and their definition if it is not ``table``: rows written
        before an ALTER are decoded by the definition they were written under."""
        found = self._decoders.get(tmap.table_id)
        if found is not None and found[0] is tmap and found[1] is table:
            return found[2], found[3]
        definition = self.resolve(tmap, table) if self.resolve is not None else table
        decoder = compile_decoder(definition, tmap, self.decoder)
        other = None if definition is table else definition
        self._decoders[tmap.table_id] = (tmap, table, decoder, other)
        return decoder, other

    def _other_decoder(
        self, tmap: TableMap, table: SourceTable, present: list[int], partial: bool
    ) -> tuple[RowDecoder, SourceTable | None]:
        """A decoder of images that leave columns out (a functional index's hidden column, which
        MySQL lists in the table map and never logs), or of a partial JSON update. Images that
        lack a column of the table (binlog_row_image=MINIMAL or NOBLOB) are refused."""
        key = (tmap.table_id, present[0], partial)
        found = self._other_decoders.get(key)
        if found is not None and found[0] is tmap and found[1] is table:
            return found[2], found[3]
        held = self._held_columns(tmap, table, present)
        definition = self.resolve(held, table) if self.resolve is not None else table
        if partial:
            json_columns = [i for i, layout in enumerate(tmap.columns) if layout.type == JSON]
            index = {old: new for new, old in enumerate(i for i in range(len(tmap.columns)) if present[0] >> i & 1)}
            decoder = partial_update_decoder(definition, held, tuple(index.get(i) for i in json_columns))
        else:
            decoder = compile_decoder(definition, held, self.decoder)
        other = None if definition is table else definition
        self._other_decoders[key] = (tmap, table, decoder, other)
        return decoder, other

    def _held_columns(self, tmap: TableMap, table: SourceTable, present: list[int]) -> TableMap:
        """The table map of the columns the images hold, if every column left out is one no target
        needs: a hidden column (named ``!hidden!...``, or, where the map names no columns, one the
        table's definition does not count)."""
        where = f"a rows event of {tmap.schema}.{tmap.table} at {self.position()}"
        advice = (
            "set binlog_row_image=FULL on the source (globally and in every session; MINIMAL and NOBLOB images"
            " are not supported), then re-snapshot the table"
        )
        for which, mask in zip(("before", "after") if len(present) == 2 else ("",), present, strict=True):
            absent = [i for i in range(len(tmap.columns)) if not mask >> i & 1]
            if tmap.names is not None:
                lacking = [tmap.names[i] for i in absent if not tmap.names[i].startswith(HIDDEN_PREFIX)]
            elif len(tmap.columns) - len(absent) != len(table.columns):
                lacking = [f"@{i + 1}" for i in absent]
            else:
                lacking = []
            if lacking:
                raise SchemaError(f"{where} lacks columns {lacking}{f' in its {which} image' * bool(which)}", advice)
        if len(set(present)) > 1:
            raise SchemaError(f"{where} holds other columns in its before image than in its after image", advice)
        held = present_columns(tmap, present[0])
        return held

    def _refuse(self, etype: int) -> None:
        if etype in _COMPRESSED:
            raise UnsupportedEventError(
                f"the binlog holds compressed events ({_COMPRESSED[etype]}) at {self.position()}",
                "compressed binlog events are not supported yet: turn compression off on the source",
            )
        if etype == INCIDENT:
            raise UnsupportedEventError(
                f"the binlog holds an INCIDENT event at {self.position()}: the source may have lost changes",
                "re-snapshot the tables after checking the source",
            )
        raise UnsupportedEventError(
            f"binlog event type {etype:#x} at {self.position()} cannot be decoded",
            "it may carry row changes; please report the server version",
        )


class BinlogReader(EventReader):
    """Reads a server's binlog from ``start`` (a transaction boundary) onward, blocking, with heartbeats."""

    def __init__(
        self,
        target: MySQLTarget,
        server_id: int,
        source_db: str,
        tables: Mapping[str, SourceTable],
        start: BinlogPosition,
        heartbeat_seconds: float,
        gtid: Flavor | None = None,
        skip: Container[str] = (),
        decoder: Implementation = "auto",
    ) -> None:
        """See :class:`EventReader`. With GTID positioning the server finds ``start``'s GTID state
        in its own binlog files."""
        super().__init__(source_db, tables, start, gtid, skip, decoder)
        self.describe_target = target.describe()
        self._target = target
        settings = driver_options(target)
        settings["read_timeout"] = max(int(heartbeat_seconds * 4), 30)
        where: dict[str, Any] = {"log_file": start.file, "log_pos": start.pos}
        if gtid == "mariadb":
            where = {"auto_position": start.gtid or "", "is_mariadb": True}
        elif gtid == "mysql" and start.gtid:
            where = {"auto_position": start.gtid}
        # else: MySQL with nothing executed yet: an empty set means "from the start", which the
        # library would take as "from now"; the file and offset of the start say the same.
        self._stream = BinLogStreamReader(
            connection_settings=settings,
            server_id=server_id,
            blocking=True,
            resume_stream=True,
            **where,
            slave_heartbeat=heartbeat_seconds,
            pymysql_wrapper=_GuardedConnect(),
            enable_logging=False,
        )
        self._conn: Any = None

    def close(self) -> None:
        self._stream.close()

    def _connect(self) -> None:
        """Open the stream with the library (the dump request in all its variants), then read it
        here. Relies on the library's connect step, which its version pin in pyproject keeps."""
        connect = getattr(self._stream, "_BinLogStreamReader__connect_to_stream", None)
        if connect is None:
            raise ConfigError(
                f"python-mysql-replication {version('mysql-replication')} has no connect step this reader knows",
                "install the version pyproject.toml asks for (mysql-replication 1.0.x)",
            )
        connect()
        self._conn = self._stream._stream_connection
        self._checksum = 4 if self._stream._BinLogStreamReader__use_checksum else 0
        self._map_cache = TableMapCache(mariadb="mariadb" in str(self._conn.server_version).lower())

    def items(self) -> Iterator[BinlogItem]:
        try:
            if self._conn is None:
                self._connect()
            yield from self._read(self._packets())
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == ER_MASTER_FATAL_ERROR_READING_BINLOG:
                raise BinlogGone(
                    f"MySQL at {self.describe_target} cannot send the binlog from {self.position()}: {exc.args[1]}",
                    "the changes after that position are no longer on this server (purged, or this server"
                    " lacks them): re-snapshot the tables, never skipped silently",
                ) from None
            refused = pymysql_connection_error(self._target, exc)
            if not refused.retryable:  # a login, TLS or authentication failure: no retry helps
                raise refused from None
            raise SourceUnavailable(
                f"the binlog connection failed (error {exc.args[0] if exc.args else '?'})",
                "reconnecting from the last transaction boundary",
            ) from None
        except (pymysql.err.InternalError, ConnectionError, OSError) as exc:
            raise SourceUnavailable(
                f"the binlog connection failed ({exc})", "reconnecting from the last transaction boundary"
            ) from None

    def _packets(self) -> Callable[[], bytes]:
        """A reader of whole packets straight from the connection's buffered socket file.

        Once the dump request is sent, the connection carries nothing but the binlog, one event a
        packet, so the driver's per-packet bookkeeping (a packet object, sequence numbers) is
        skipped. What matters is kept: the read timeout, a lost connection as an error, a packet
        of 16 MB or more joined from its parts, and the server's error packet raised as the
        driver raises it (a purged binlog is error 1236)."""
        conn = self._conn
        if conn._current_timeout != conn._read_timeout:
            conn._sock.settimeout(conn._read_timeout)
            conn._current_timeout = conn._read_timeout
        read = conn._rfile.read

        def exactly(n: int) -> bytes:
            data: bytes = read(n)
            if len(data) < n:
                raise ConnectionError("the server closed the binlog connection")
            return data

        def packet() -> bytes:
            header = exactly(4)
            length = header[0] | header[1] << 8 | header[2] << 16
            data = exactly(length)
            if length == _MAX_PACKET:
                parts = [data]
                while length == _MAX_PACKET:
                    header = exactly(4)
                    length = header[0] | header[1] << 8 | header[2] << 16
                    parts.append(exactly(length))
                data = b"".join(parts)
            if data and data[0] == 0xFF:
                pymysql.err.raise_mysql_exception(data)
            return data

        return packet


def _query(data: bytes, end: int) -> tuple[str, str]:
    """A QUERY event's statement and default schema."""
    schema_length = data[28]
    status_length = int.from_bytes(data[31:33], "little")
    schema_at = 33 + status_length
    schema = data[schema_at : schema_at + schema_length].decode("utf-8", "replace")
    query = data[schema_at + schema_length + 1 : end].decode("utf-8", "replace")
    return query.strip(), schema


def _gtid_text(data: bytes, etype: int, server_id: int) -> str:
    """The GTID of a transaction as the server writes it: MySQL uuid:number, MariaDB domain-server-seq."""
    if etype == GTID:
        hexed = binascii.hexlify(data[21:37]).decode()
        uuid = f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"
        return f"{uuid}:{int.from_bytes(data[37:45], 'little')}"
    seq = int.from_bytes(data[20:28], "little")
    domain = int.from_bytes(data[28:32], "little")
    return f"{domain}-{server_id}-{seq}"


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
