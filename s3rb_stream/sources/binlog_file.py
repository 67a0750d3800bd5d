"""Binlog files on disk, read through the same event loop as a server's binlog stream.

A binlog file is four magic bytes (``0xFE 'bin'``) and then events, each a 19-byte header (its
size and the offset of the next event among them) and its body, with a CRC32 after it when the
format description at the start of the file says so. These are the files in a server's data
directory, or what ``mysqlbinlog --read-from-remote-server --raw`` downloads (from RDS, say).

Each event is checked before it is decoded: a file that ends inside an event, an event whose
size cannot be right, or a checksum that does not match stops the reading with
:class:`BinlogFileError`, which names the file and the offset; everything before it has been read.
"""

from __future__ import annotations

import binascii
import re
import struct
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from s3rb_stream.core.gtid import Flavor
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import SourceError
from s3rb_stream.sources.binlog import BinlogItem, EventReader
from s3rb_stream.sources.row_decoder import Implementation
from s3rb_stream.sources.table_map import TableMapCache

MAGIC = b"\xfebin"
HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server id, event size, next position, flags
HEADER_SIZE = HEADER.size
FORMAT_DESCRIPTION = 0x0F
_FIRST_WITH_CHECKSUM = (5, 6, 1)  # format descriptions carry the checksum algorithm from here on
_VERSION = re.compile(rb"^(\d+)\.(\d+)\.(\d+)")
_NUMBERED = re.compile(r"\.\d+$")  # as core.positions.file_index needs
_IN_USE = 0x1  # LOG_EVENT_BINLOG_IN_USE_F
_MAX_EVENT = 1 << 30  # max_allowed_packet's ceiling: a larger size means the header is damaged


class BinlogFileError(SourceError):
    """A binlog file that ends inside an event or is damaged at ``offset``."""

    def __init__(self, path: str, offset: int, what: str) -> None:
        super().__init__(
            f"{path}: {what} at offset {offset}",
            "everything before it was read; copy the file again (mysqlbinlog --raw) if it was cut short",
        )
        self.path = path
        self.offset = offset


class _EndOfFile(Exception):
    """The file ended at an event boundary."""


@dataclass(frozen=True)
class FormatDescription:
    """What a file's format description event says about the events after it."""

    server_version: str
    checksum: int  # bytes of checksum after each event: 4 (CRC32) or 0

    @property
    def mariadb(self) -> bool:
        return "mariadb" in self.server_version.lower()


def format_description(event: bytes) -> FormatDescription:
    """Parse a format description event (header included)."""
    body = event[HEADER_SIZE:]
    version = body[2:52].split(b"\0", 1)[0]
    numbers = _VERSION.match(version)
    has_algorithm = numbers is not None and tuple(int(n) for n in numbers.groups()) >= _FIRST_WITH_CHECKSUM
    algorithm = event[-5] if has_algorithm and len(event) >= HEADER_SIZE + 57 + 5 else 0
    return FormatDescription(version.decode("ascii", "replace"), 4 if algorithm == 1 else 0)


class BinlogFileReader(EventReader):
    """The events of binlog files, in the order given, as :class:`~s3rb_stream.sources.binlog.BinlogReader`
    yields them from a server. Positions name each file by its base name; a name without the
    numeric extension sequences need (``mysql-bin.000042``) gets its place among the files as one."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        source_db: str,
        tables: Mapping[str, SourceTable],
        gtid: Flavor | None = None,
        skip: Container[str] = (),
        decoder: Implementation = "auto",
    ) -> None:
        if not paths:
            raise ValueError("no binlog file to read")
        self.paths = [Path(p) for p in paths]
        self.names = [p.name if _NUMBERED.search(p.name) else f"{p.name}.{i:06d}" for i, p in enumerate(self.paths, 1)]
        start = BinlogPosition(self.names[0], 4, "" if gtid else None, 0 if gtid else None)
        super().__init__(source_db, tables, start, gtid, skip, decoder)
        self.format: FormatDescription | None = None
        self.path: Path | None = None  # the file being read
        self.offset = 0  # where the event being read starts in it (a compressed transaction's, inside one)

    def items(self) -> Iterator[BinlogItem]:
        for path, name in zip(self.paths, self.names, strict=True):
            yield from self._file_items(path, name)

    def _file_items(self, path: Path, name: str) -> Iterator[BinlogItem]:
        with path.open("rb") as handle:
            if handle.read(4) != MAGIC:
                raise BinlogFileError(str(path), 0, "not a binlog file (no magic bytes 0xFE 'bin')")
            self._file, self._pos, self.path = name, 4, path
            read = self._events(handle.read, str(path))
            try:
                first = read()  # the format description: the checksum of every event after it
            except _EndOfFile:
                return
            self._describe(first, str(path))
            replay = [first]

            def packet() -> bytes:
                return replay.pop() if replay else read()

            try:
                yield from self._read(packet)
            except _EndOfFile:
                return

    def _describe(self, packet: bytes, path: str) -> None:
        if packet[5] != FORMAT_DESCRIPTION:
            raise BinlogFileError(path, 4, f"the first event is of type {packet[5]:#x}, not a format description")
        self.format = format_description(packet[1:])
        self._checksum = self.format.checksum
        self._map_cache = TableMapCache(mariadb=self.format.mariadb)

    def _events(self, read: Callable[[int], bytes], path: str) -> Callable[[], bytes]:
        """Whole, checked events behind a status byte, as the stream delivers them."""
        offset = 4

        def event() -> bytes:
            nonlocal offset
            self.offset = offset
            header = read(HEADER_SIZE)
            if not header:
                raise _EndOfFile
            if len(header) < HEADER_SIZE:
                raise BinlogFileError(path, offset, f"the file ends inside an event header ({len(header)} bytes)")
            _ts, etype, _server, size, _next, _flags = HEADER.unpack(header)
            if size < HEADER_SIZE or size > _MAX_EVENT:
                raise BinlogFileError(path, offset, f"an event of type {etype:#x} claims a size of {size} bytes")
            body = read(size - HEADER_SIZE)
            if len(body) < size - HEADER_SIZE:
                raise BinlogFileError(path, offset, f"the file ends inside an event of {size} bytes")
            data = header + body
            if etype == FORMAT_DESCRIPTION:  # it says itself whether it (and what follows) carries a CRC32
                checked = format_description(data).checksum == 4
            else:
                checked = self.format is not None and self.format.checksum == 4
            if checked and not _crc_ok(data):
                raise BinlogFileError(path, offset, f"the checksum of an event of type {etype:#x} does not match")
            offset += size
            return b"\0" + data

        return event


def _crc_ok(event: bytes) -> bool:
    """Whether the event's CRC32 matches. A server sets the format description's "in use" flag
    (LOG_EVENT_BINLOG_IN_USE_F) in a file it writes and clears it in place when it closes the
    file, without computing the checksum again: that event matches with the flag either way."""
    stored = int.from_bytes(event[-4:], "little")
    if binascii.crc32(event[:-4]) & 0xFFFFFFFF == stored:
        return True
    if event[4] != FORMAT_DESCRIPTION:
        return False
    flags = int.from_bytes(event[17:19], "little") ^ _IN_USE
    toggled = event[:17] + flags.to_bytes(2, "little") + event[19:-4]
    return binascii.crc32(toggled) & 0xFFFFFFFF == stored
