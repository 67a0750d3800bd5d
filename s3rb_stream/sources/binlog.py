"""The binlog reader: python-mysql-replication's connection, our own event decoding.

The library opens the stream (checksums, heartbeats, replica registration, file or GTID
positioning); events are then read packet by packet and decoded here: table maps are parsed once
per distinct bytes (:mod:`table_map`) and row images by a decoder generated per table layout
(:mod:`row_decoder`), several times faster than the library's generic per-value decoding.

It yields these items, each with the position after it:

* :class:`RowImages` — the row images of one rows event of a configured table;
* :class:`Boundary` — a point between transactions (commit, DDL, heartbeat while idle);
  only there may a checkpoint be taken, because a rows event is readable only after its
  transaction's table map, so a resume in the middle of a transaction would lose rows;
* :class:`Ddl` — a statement on a configured table, to follow or refuse;
* :class:`XaPrepared` and :class:`XaOutcome` — an XA transaction whose rows were just read is
  prepared, and later committed or rolled back (docs/ARCHITECTURE.md, "XA transactions").

A compressed transaction (MySQL's TRANSACTION_PAYLOAD) is decompressed as it is read and its
events go through the same dispatch. An unknown event the source marks as ignorable is skipped.

Events that may carry rows but cannot be decoded raise :class:`UnsupportedEventError` instead of
being dropped. A dropped connection is never resumed mid-transaction: the caller reopens from its
last boundary.
"""

from __future__ import annotations

import binascii
import io
import re
import struct
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import pyarrow as pa
import pymysql
from pymysqlreplication import BinLogStreamReader

from s3rb_stream.core.gtid import (
    MAX_ROWS_PER_TRANSACTION,
    Flavor,
    GtidState,
    encode_mysql_set,
    read_varlen,
    row_seq,
)
from s3rb_stream.core.positions import BinlogPosition, make_seq
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import BinlogGone, ConfigError, SchemaError, SourceUnavailable, UnsupportedEventError, listed
from s3rb_stream.log import get_logger
from s3rb_stream.settings import MySQLTarget
from s3rb_stream.sources.mysql_meta import driver_options, pymysql_connection_error
from s3rb_stream.sources.row_decoder import Implementation, RowDecoder, compile_decoder, partial_update_decoder
from s3rb_stream.sources.table_map import JSON, TableMap, TableMapCache, TableMapError, lenenc, present_columns

log = get_logger(__name__)

_HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server id, event size, next position, flags
HEADER_SIZE = _HEADER.size
QUERY, STOP, ROTATE, XID, TABLE_MAP, HEARTBEAT, INCIDENT = 0x02, 0x03, 0x04, 0x10, 0x13, 0x1B, 0x1A
GTID, MARIADB_GTID, PARTIAL_UPDATE_ROWS = 0x21, 0xA2, 0x27
GTID_TAGGED, XA_PREPARE, TRANSACTION_PAYLOAD = 0x2A, 0x26, 0x28
_GTIDS = {GTID, MARIADB_GTID, GTID_TAGGED}
LOG_EVENT_IGNORABLE_F = 0x80  # a replica that does not know the event type must skip it
_MARIADB_FL_PREPARED_XA = 0x40  # a MariaDB GTID event that opens an XA transaction (flags2)
_ROWS = {
    0x17: "insert", 0x18: "update", 0x19: "delete", 0x1E: "insert", 0x1F: "update", 0x20: "delete",
    PARTIAL_UPDATE_ROWS: "update",  # binlog_row_value_options=PARTIAL_JSON: JSON changes applied to the before image
}  # fmt: skip
_ROWS_V2 = {0x1E, 0x1F, 0x20, PARTIAL_UPDATE_ROWS}
HIDDEN_PREFIX = "!hidden!"  # MySQL's name of a functional index's hidden column
# Events that carry no row data: statement-based leftovers, format and GTID bookkeeping, MariaDB's
# annotations, checkpoints and GTID lists, group replication, heartbeats v2.
_IGNORED = {
    0x05, 0x0D, 0x0E, 0x0F, 0x11, 0x12, 0x1C, 0x1D, 0x22, 0x23, 0x24, 0x25, 0x29,
    0xA0, 0xA1, 0xA3, 0xA4, STOP,
}  # fmt: skip
_COMPRESSED = {
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
_TXN_CONTROL = re.compile(r"^\s*(BEGIN|XA\s+START|XA\s+END|SAVEPOINT|ROLLBACK\s+TO)\b", re.I)
_XA_OUTCOME = re.compile(r"^\s*XA\s+(COMMIT|ROLLBACK)\s+(.*?)\s*(ONE\s+PHASE)?\s*$", re.I | re.S)
# A transaction payload's header fields (MySQL's Transaction_payload_event), then its compression.
_PAYLOAD_END_MARK, _PAYLOAD_SIZE, _PAYLOAD_COMPRESSION, _PAYLOAD_UNCOMPRESSED = 0, 1, 2, 3
_ZSTD, _UNCOMPRESSED = 0, 255
_MAX_EVENT = 1 << 30  # max_allowed_packet's ceiling
_PAYLOAD_END = b"\x01"  # what the reader of a payload's events returns when they are all read
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


@dataclass(frozen=True, slots=True)
class XaPrepared:
    """The XA transaction whose rows were just read (since :attr:`EventReader.in_xa` was set) is
    prepared: its rows wait for its outcome, which may come much later."""

    xid: str  # as the server writes it: X'gtrid',X'bqual',formatID
    position: BinlogPosition


@dataclass(frozen=True, slots=True)
class XaOutcome:
    """A prepared XA transaction is committed (its rows are changes now) or rolled back (they
    never happened). A commit's rows are numbered anew from ``first_seq`` (at most ``room`` of
    them), so that they sort where the commit is; ``first_seq`` None: they keep their own
    numbers (a one-phase commit, right after its rows)."""

    xid: str
    committed: bool
    first_seq: int | None
    room: int
    position: BinlogPosition


BinlogItem = RowImages | Boundary | Ddl | XaPrepared | XaOutcome
# Table maps kept by table id between transactions, at most: past it they are let go at the next
# transaction's end (each transaction writes its tables' maps again).
MAPS_KEPT = 1024
# (a table map, the definition held) → the definition its rows were written under
Resolver = Callable[[TableMap, SourceTable], SourceTable]


class _GuardedConnect:
    """Connection factory that lets the stream connect once: a reconnect raises instead.

    ``gtid_set``: a MySQL GTID set with tags (8.3+), in the server's binary encoding, which the
    library cannot write: its dump request goes out with this set in place of the library's."""

    def __init__(self, gtid_set: bytes | None = None) -> None:
        self.stream_connects = 0
        self.gtid_set = gtid_set
        self.set_sent = False

    def __call__(self, **kwargs: Any) -> Any:
        if kwargs.get("db") != "information_schema":
            self.stream_connects += 1
            if self.stream_connects > 1:
                raise SourceUnavailable(
                    "the binlog connection dropped", "reconnecting from the last transaction boundary"
                )
        conn: Any = pymysql.connect(**kwargs)
        if self.gtid_set is not None and kwargs.get("db") != "information_schema":
            write, encoded = conn._write_bytes, self.gtid_set

            def write_request(data: bytes) -> None:
                if len(data) > 4 and data[4] == COM_BINLOG_DUMP_GTID:
                    data = with_gtid_set(data, encoded)
                    self.set_sent = True
                write(data)

            conn._write_bytes = write_request
        return conn


COM_BINLOG_DUMP_GTID = 0x1E


def with_gtid_set(request: bytes, encoded: bytes) -> bytes:
    """A COM_BINLOG_DUMP_GTID packet with its GTID set replaced by ``encoded``: the packet header
    (3-byte length, sequence id), the command, flags (2 bytes), server id (4), the binlog name's
    length (4) and the name, the position (8), then the set's length (4) and the set."""
    name_length = int.from_bytes(request[11:15], "little")
    fixed = request[4 : 15 + name_length + 8]
    body = fixed + len(encoded).to_bytes(4, "little") + encoded
    return len(body).to_bytes(3, "little") + request[3:4] + body


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
        resolve: Resolver | None = None,
    ) -> None:
        """``tables``: the captured tables by name, read live: a definition replaced while reading
        (an ALTER followed) decodes the rows after it. ``skip``: names not read (quarantined), also live.
        ``resolve``: the definition rows were written under when it is not the one held (capture's
        definition tracker); None decodes by the held one.
        ``decoder``: which row decoder (:func:`row_decoder.compile_decoder`); tests run both.
        ``gtid``: the server's flavor when positioning by GTID (``start`` then carries its state)."""
        self.source_db = source_db
        self.tables = tables
        self.decoder = decoder
        self.skip = skip
        self.resolve = resolve
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
        # Table maps of tables not in ``tables`` go through this when set: the map to decode their
        # rows by (its ``table`` a key of ``tables``), or None. Reading a file of any schema uses it.
        self.admit: Callable[[TableMap], TableMap | None] | None = None
        self.keep_gtid = False  # keep the GTID text of each transaction in last_gtid (GTID positioning does)
        self.last_gtid: str | None = None
        self.in_xa: str | None = None  # the XID of the XA transaction being read, until its PREPARE
        # A compressed transaction's rows are numbered from its event's start (file positions).
        self._payload_start = 0
        self._payload_room = 0
        self._skipped: set[int] = set()  # ignorable event types skipped, logged once each

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
        read = read_packet  # or, while a compressed transaction is read, its events
        while True:
            data = read()
            if data[0] != 0:
                if data is _PAYLOAD_END:  # back to the events after the compressed transaction
                    read, checksum = read_packet, self._checksum
                elif data[0] == 0xFE and len(data) < 9:
                    raise SourceUnavailable("the binlog stream ended", "reconnecting from the last boundary")
                continue
            ts, etype, _server, size, next_pos, _flags = unpack_header(data, 1)
            end = len(data) - checksum
            if etype == ROTATE:
                self._pos = int.from_bytes(data[20:28], "little")
                self._file = data[28:end].decode()
                if ts:  # a real rotation, perhaps a restart: table ids may be reused
                    self._forget_maps()
                if not in_txn:
                    yield Boundary(self.position(), None)  # a file change, not the end of the binlog
                continue
            if next_pos:
                self._pos = next_pos
            if etype in _ROWS:
                in_txn = True
                tmap = maps.get(int.from_bytes(data[20:26], "little"))
                if tmap is not None:  # an event inside a compressed transaction has no position: -1
                    yield self._rows(tmap, _ROWS[etype], etype, data, end, ts, next_pos - size if next_pos else -1)
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
                maps[tmap.table_id] = tmap if captured else self.admit(tmap) if self.admit is not None else None
            elif etype == XID:
                in_txn = False
                if len(maps) > MAPS_KEPT:
                    self._forget_maps()
                yield Boundary(self.position(), _ts(ts))
            elif etype == QUERY:
                query, schema = _query(data, end)
                control = _TXN_CONTROL.match(query)
                if control:
                    in_txn = True
                    if query[0] in "Xx" and self.in_xa is None:  # MySQL's XA START
                        self.in_xa = _xid_text(query[control.end() :])
                    continue
                in_txn = False
                outcome = _XA_OUTCOME.match(query) if query[:1] in ("X", "x") else None
                if outcome:  # (never inside a compressed transaction, but numbered within it if so)
                    at = (next_pos - size, size) if next_pos else (self._payload_start, self._payload_room)
                    self.in_xa = None
                    yield self._xa_outcome(outcome, *at)
                elif _DDL.match(query):
                    yield Ddl(query, schema, self.position(), _ts(ts))
                if len(maps) > MAPS_KEPT:
                    self._forget_maps()
                yield Boundary(self.position(), _ts(ts))
            elif etype in _GTIDS:
                in_txn = True
                if etype == MARIADB_GTID and data[32] & _MARIADB_FL_PREPARED_XA:
                    self.in_xa = _mariadb_xid(data, end)
                if self._gtid is not None or self.keep_gtid:
                    self._gtid_event(data, etype, _server, end)
            elif etype == TRANSACTION_PAYLOAD:
                read, checksum = self._payload(data, end, next_pos - size, size), 0
            elif etype == XA_PREPARE:
                in_txn = False
                xid, one_phase = _xa_prepare(data, end)
                self.in_xa = None
                yield XaPrepared(xid, self.position())
                if one_phase:  # XA COMMIT ... ONE PHASE: committed at once, its rows where they are
                    yield XaOutcome(xid, True, None, 0, self.position())
                yield Boundary(self.position(), _ts(ts))
            elif etype == HEARTBEAT:
                if not in_txn:
                    yield Boundary(self.position(), None, is_heartbeat=True)
            elif etype not in _IGNORED:
                self._refuse(etype, _flags)

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
        if self._gtid is not None:
            seq = row_seq(self._ordinal, self._row_index)
        elif start >= 0:
            seq = make_seq(self._file or self._start_file, start)
        else:  # inside a compressed transaction (docs/ARCHITECTURE.md, "Compressed transactions")
            seq = make_seq(self._file or self._start_file, self._payload_start + self._row_index)
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
        if self._gtid is not None or start < 0:
            changes = len(rows) // images
            if self._gtid is not None:
                row_seq(self._ordinal, self._row_index + changes - 1)  # the whole event fits, or a clear error
            elif self._row_index + changes > self._payload_room:
                problem = (
                    f"a compressed transaction at {self._file or self._start_file}:{self._payload_start} changes more"
                    f" rows than its {self._payload_room} bytes can number by file position"
                )
                return RowImages(tmap.table, kind, [], seq, ts, problem=problem + "; set S3RB_POSITIONING=gtid")
            self._row_index += changes
        return RowImages(tmap.table, kind, rows, seq, ts, None, end - pos, definition)

    def _forget_maps(self) -> None:
        """Let go of the table maps and decoders by table id, at a transaction's end: every
        transaction writes the maps of its tables again. The server gives a table a new id each time
        it opens it again, so without this they would grow until the next binlog file; decoders
        themselves are kept by layout (row_decoder.DECODERS), so nothing is compiled again."""
        self._maps.clear()
        self._decoders.clear()
        self._other_decoders.clear()

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
                image = f" in its {which} image" if which else ""
                raise SchemaError(f"{where} lacks columns {listed(lacking)}{image}", advice)
        if len(set(present)) > 1:
            raise SchemaError(f"{where} holds other columns in its before image than in its after image", advice)
        held = present_columns(tmap, present[0])
        return held

    def _gtid_event(self, data: bytes, etype: int, server_id: int, end: int) -> None:
        try:
            text = _gtid_text(data, etype, server_id, end)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise UnsupportedEventError(
                f"the GTID event at {self.position()} cannot be read: {exc}", "please report the server version"
            ) from None
        self.last_gtid = text
        if self._gtid is not None:
            self._ordinal = self._gtid.add(text)
            self._row_index = 0

    def _payload(self, data: bytes, end: int, start: int, size: int) -> Callable[[], bytes]:
        """The events of a compressed transaction (MySQL's TRANSACTION_PAYLOAD), one a call behind a
        status byte as the stream delivers them, decompressed as they are read (a transaction may
        be far larger than memory should hold), then :data:`_PAYLOAD_END`. The events inside carry
        no checksum and no position of their own."""
        where = f"the compressed transaction at {self._file or self._start_file}:{start}"
        try:
            compression, payload = _payload_fields(data, 20, end)
        except (ValueError, IndexError) as exc:
            raise UnsupportedEventError(f"{where} cannot be read: {exc}", "the binlog may be damaged") from None
        if compression == _ZSTD:
            stream: Any = pa.CompressedInputStream(pa.py_buffer(payload), "zstd")
        elif compression == _UNCOMPRESSED:
            stream = io.BytesIO(payload)
        else:
            raise UnsupportedEventError(
                f"{where} is compressed with algorithm {compression}, which cannot be decompressed here",
                "please report the server version",
            )
        if self._gtid is None:
            self._payload_start, self._payload_room, self._row_index = start, size, 0

        def take(n: int) -> bytes:
            try:
                got: bytes = stream.read(n)
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise UnsupportedEventError(
                    f"{where} cannot be decompressed: {exc}", "the binlog may be damaged"
                ) from None
            return got

        def event() -> bytes:
            header = take(HEADER_SIZE)
            if not header:
                return _PAYLOAD_END
            length = int.from_bytes(header[9:13], "little")
            if len(header) < HEADER_SIZE or not HEADER_SIZE <= length <= _MAX_EVENT or header[4] == TRANSACTION_PAYLOAD:
                raise UnsupportedEventError(f"{where} holds a damaged event", "the binlog may be damaged")
            body = take(length - HEADER_SIZE)
            if len(body) < length - HEADER_SIZE:
                raise UnsupportedEventError(f"{where} ends inside an event", "the binlog may be damaged")
            return b"\0" + header + body

        return event

    def _xa_outcome(self, match: re.Match[str], start: int, size: int) -> XaOutcome:
        """``XA COMMIT xid`` or ``XA ROLLBACK xid``. A commit's rows are numbered inside its own
        statement: after the GTID's ordinal, or between its event's first and last byte."""
        xid = _xid_text(match.group(2))
        committed = match.group(1).upper() == "COMMIT"
        if match.group(3):  # a one-phase commit written as a statement, right after its rows
            return XaOutcome(xid, committed, None, 0, self.position())
        if self._gtid is not None:
            return XaOutcome(xid, committed, row_seq(self._ordinal, 0), MAX_ROWS_PER_TRANSACTION, self.position())
        first = make_seq(self._file or self._start_file, start + 1)
        return XaOutcome(xid, committed, first, size - 1, self.position())

    def _refuse(self, etype: int, flags: int = 0) -> None:
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
        if flags & LOG_EVENT_IGNORABLE_F:  # the source says a replica may skip it (Aurora writes such events)
            if etype not in self._skipped:
                self._skipped.add(etype)
                log.info("an unknown binlog event marked ignorable is skipped", event_type=hex(etype),
                         position=str(self.position()))  # fmt: skip
            return
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
        resolve: Resolver | None = None,
    ) -> None:
        """See :class:`EventReader`. With GTID positioning the server finds ``start``'s GTID state
        in its own binlog files."""
        super().__init__(source_db, tables, start, gtid, skip, decoder, resolve)
        self.describe_target = target.describe()
        self._target = target
        settings = driver_options(target)
        settings["read_timeout"] = max(int(heartbeat_seconds * 4), 30)
        where: dict[str, Any] = {"log_file": start.file, "log_pos": start.pos}
        tagged: bytes | None = None
        if gtid == "mariadb":
            where = {"auto_position": start.gtid or "", "is_mariadb": True}
        elif gtid == "mysql" and start.gtid:
            where = {"auto_position": start.gtid}
            state = GtidState.parse(start.gtid, "mysql")
            if any(":" in key for key in state.intervals):  # tags: the library sends a stand-in, replaced
                tagged = encode_mysql_set(state)
                where = {"auto_position": ",".join({key.split(":")[0] + ":1" for key in state.intervals})}
        # else: MySQL with nothing executed yet: an empty set means "from the start", which the
        # library would take as "from now"; the file and offset of the start say the same.
        self._stream = BinLogStreamReader(
            connection_settings=settings,
            server_id=server_id,
            blocking=True,
            resume_stream=True,
            **where,
            slave_heartbeat=heartbeat_seconds,
            pymysql_wrapper=_GuardedConnect(tagged),
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
        guard = self._stream.pymysql_wrapper
        if isinstance(guard, _GuardedConnect) and guard.gtid_set is not None and not guard.set_sent:
            raise ConfigError(
                "the binlog dump request did not carry the GTID set with tags",
                "install the version pyproject.toml asks for (mysql-replication 1.0.x)",
            )
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


def _uuid(raw: bytes) -> str:
    hexed = binascii.hexlify(raw).decode()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


def _gtid_text(data: bytes, etype: int, server_id: int, end: int) -> str:
    """The GTID of a transaction as the server writes it: MySQL uuid:number (8.3+: uuid:tag:number),
    MariaDB domain-server-seq."""
    if etype == GTID:
        return f"{_uuid(data[21:37])}:{int.from_bytes(data[37:45], 'little')}"
    if etype == GTID_TAGGED:
        return _tagged_gtid_text(data, end)
    seq = int.from_bytes(data[20:28], "little")
    domain = int.from_bytes(data[28:32], "little")
    return f"{domain}-{server_id}-{seq}"


_TAGGED_SID, _TAGGED_GNO, _TAGGED_TAG = 1, 2, 3  # field ids of a tagged GTID event (MySQL 8.3+)


def _tagged_gtid_text(data: bytes, end: int) -> str:
    """A GTID_TAGGED_LOG_EVENT in the MySQL serialization library's format: a version byte, the
    payload size (counting from the version byte) and the last non-ignorable field id, then
    (field id, value) pairs of variable-length integers; the uuid is 16 of them, the GNO zigzag
    signed, the tag a length and its bytes."""
    at = 20
    if data[at] != 2:
        raise ValueError(f"tagged GTID serialization version {data[at]}")
    size, pos = read_varlen(data, at + 1)
    _last, pos = read_varlen(data, pos)
    stop = min(at + size, end)
    uuid, gno, tag = b"", -1, ""
    while pos < stop:
        field, pos = read_varlen(data, pos)
        if field == _TAGGED_SID:
            raw = bytearray()
            for _ in range(16):
                byte, pos = read_varlen(data, pos)
                raw.append(byte)
            uuid = bytes(raw)
        elif field == _TAGGED_TAG:
            length, pos = read_varlen(data, pos)
            tag = data[pos : pos + length].decode("ascii").lower()
            pos += length
        else:  # every other field is one integer; the GNO is the signed one (zigzag)
            value, pos = read_varlen(data, pos)
            if field == _TAGGED_GNO:
                gno = -(value >> 1) - 1 if value & 1 else value >> 1
    if len(uuid) != 16 or gno < 1:
        raise ValueError("a tagged GTID event without its uuid or transaction number")
    return f"{_uuid(uuid)}:{tag}:{gno}" if tag else f"{_uuid(uuid)}:{gno}"


def _payload_fields(data: bytes, pos: int, end: int) -> tuple[int, bytes]:
    """A TRANSACTION_PAYLOAD event's compression algorithm and payload: header fields, each a
    (type, length, value) of length-encoded integers, up to an end mark, then the payload."""
    fields: dict[int, int] = {}
    while True:
        field, pos = lenenc(data, pos)
        if field == _PAYLOAD_END_MARK:
            break
        length, pos = lenenc(data, pos)
        if field in (_PAYLOAD_SIZE, _PAYLOAD_COMPRESSION, _PAYLOAD_UNCOMPRESSED):
            fields[field], _ = lenenc(data, pos)
        pos += length
    if _PAYLOAD_SIZE not in fields or _PAYLOAD_COMPRESSION not in fields:
        raise ValueError("its header lacks the payload size or the compression")
    if pos + fields[_PAYLOAD_SIZE] > end:
        raise ValueError(f"its payload of {fields[_PAYLOAD_SIZE]} bytes runs past the event")
    return fields[_PAYLOAD_COMPRESSION], data[pos : pos + fields[_PAYLOAD_SIZE]]


def _xa_prepare(data: bytes, end: int) -> tuple[str, bool]:
    """An XA_PREPARE_LOG_EVENT's XID and whether it is a one-phase commit: one_phase (1 byte),
    formatID, gtrid and bqual lengths (4 bytes each), then gtrid and bqual."""
    one_phase = bool(data[20])
    format_id = int.from_bytes(data[21:25], "little", signed=True)
    gtrid = int.from_bytes(data[25:29], "little")
    bqual = int.from_bytes(data[29:33], "little")
    raw = data[33 : min(33 + gtrid + bqual, end)]
    return _xid(raw[:gtrid], raw[gtrid:], format_id), one_phase


def _mariadb_xid(data: bytes, end: int) -> str:
    """The XID a MariaDB GTID event of an XA transaction carries after its flags: formatID (4
    bytes), gtrid and bqual lengths (1 byte each), gtrid and bqual."""
    pos = 33  # status byte, header, seq_no, domain id, flags2
    format_id = int.from_bytes(data[pos : pos + 4], "little", signed=True)
    gtrid, bqual = data[pos + 4], data[pos + 5]
    raw = data[pos + 6 : min(pos + 6 + gtrid + bqual, end)]
    return _xid(raw[:gtrid], raw[gtrid:], format_id)


def _xid(gtrid: bytes, bqual: bytes, format_id: int) -> str:
    """An XID as MySQL and MariaDB write it in XA statements: X'gtrid',X'bqual',formatID."""
    return f"X'{gtrid.hex()}',X'{bqual.hex()}',{format_id}"


_XID_PART = re.compile(r"\s*(?:[xX]'([0-9a-fA-F]*)'|0x([0-9a-fA-F]*)|'((?:[^']|'')*)'|(-?\d+))\s*(?:,|$)")


def _xid_text(text: str) -> str:
    """An XID as an XA statement gives it (``'a','b',1``, ``X'61',X'',1``...) in the form of
    :func:`_xid`, so that a PREPARE and its COMMIT name a transaction alike."""
    parts: list[bytes | int] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _XID_PART.match(text, pos)
        if not match or match.end() == pos:
            return text  # not an XID this parser knows: compared as written
        hexed, zero_x, quoted, number = match.groups()
        if number is not None:
            parts.append(int(number))
        elif quoted is not None:
            parts.append(quoted.replace("''", "'").encode())
        else:
            parts.append(bytes.fromhex(hexed if hexed is not None else zero_x))
        pos = match.end()
    gtrid = parts[0] if parts and isinstance(parts[0], bytes) else b""
    bqual = parts[1] if len(parts) > 1 and isinstance(parts[1], bytes) else b""
    format_id = parts[2] if len(parts) > 2 and isinstance(parts[2], int) else 1
    return _xid(gtrid, bqual, format_id)


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
