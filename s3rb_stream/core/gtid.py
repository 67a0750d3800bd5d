"""GTID states and the sequence derived from them (invariant 1 across a failover).

With file/offset positions ``_s3rb_seq`` is only comparable on one server: a promoted replica
writes its own binlog files, and a change read there could get a lower sequence than an older one
from the old primary, and never apply. With GTID positioning the sequence comes from the
transaction's place in the replicated history instead, which every server of the topology shares:

* the *ordinal* of a GTID state is the number of transactions it covers: the sum of the last
  ``seq_no`` of every MariaDB domain, or the size of a MySQL ``uuid:interval`` set;
* a row change gets ``ordinal << ROW_BITS | index`` (its transaction's ordinal, the row's index in
  the transaction); a point between transactions gets ``ordinal << ROW_BITS | ROW_MASK``, above
  every row of that transaction and below every row of the next.

The ordinal grows by at least one per transaction in binlog order. A failover keeps it right as
long as the new primary logged the shared transactions in the same order, as replication does.

MySQL 8.3+ may tag GTIDs (``uuid:tag:N``; in sets ``uuid:1-5:tag:1-3``): a tagged GTID numbers its
transactions apart from the untagged ones of its uuid, so a set keeps each (uuid, tag) apart.
Tags are case-insensitive and kept in lower case, as MySQL normalises them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from s3rb_stream.errors import SourceError

Flavor = Literal["mariadb", "mysql"]

ROW_BITS = 22
ROW_MASK = (1 << ROW_BITS) - 1
MAX_ORDINAL = (1 << (63 - ROW_BITS)) - 1
MAX_ROWS_PER_TRANSACTION = ROW_MASK  # row indexes 0 .. ROW_MASK - 1; ROW_MASK is the boundary

_MARIADB_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")
_MYSQL_INTERVAL = re.compile(r"^(\d+)(?:-(\d+))?$")
_MYSQL_TAG = re.compile(r"^[a-z_][a-z0-9_]{0,31}$", re.I)  # MySQL 8.3+ GTID tags


def row_seq(ordinal: int, index: int) -> int:
    """The sequence of the ``index``-th row change of the transaction with ``ordinal``."""
    if not 0 <= index < MAX_ROWS_PER_TRANSACTION:
        raise SourceError(
            f"a transaction changes more than {MAX_ROWS_PER_TRANSACTION:,} rows, the most GTID positioning"
            " numbers inside one transaction",
            "split the transaction at the source, or use S3RB_POSITIONING=file for this source",
        )
    if ordinal > MAX_ORDINAL:
        raise SourceError(f"GTID ordinal {ordinal} exceeds {MAX_ORDINAL}", "use S3RB_POSITIONING=file")
    return (ordinal << ROW_BITS) | index


def boundary_seq(ordinal: int) -> int:
    """The sequence of the point after the transaction with ``ordinal`` (and before the next)."""
    return (ordinal << ROW_BITS) | ROW_MASK


@dataclass
class GtidState:
    """A server's executed GTIDs, updated transaction by transaction (mutable while reading).

    MariaDB: domain → (server_id, seq_no) of the last transaction. MySQL: ``uuid`` or
    ``uuid:tag`` → sorted, merged closed intervals of transaction numbers.
    """

    flavor: Flavor
    domains: dict[int, tuple[int, int]]
    intervals: dict[str, list[tuple[int, int]]]
    ordinal: int

    @classmethod
    def parse(cls, text: str, flavor: Flavor) -> GtidState:
        text = (text or "").replace("\n", "").strip()
        state = cls(flavor, {}, {}, 0)
        if not text:
            return state
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if flavor == "mariadb":
                match = _MARIADB_GTID.match(part)
                if not match:
                    raise ValueError(f"{part!r} is not a MariaDB GTID (domain-server-seq)")
                domain, server, seq = (int(g) for g in match.groups())
                state.domains[domain] = (server, seq)
            else:
                uuid, _, rest = part.partition(":")
                uuid = uuid.strip().lower()
                key = uuid
                for piece in rest.split(":") if rest else []:
                    piece = piece.strip()
                    match = _MYSQL_INTERVAL.match(piece)
                    if match:
                        low = int(match.group(1))
                        state._add_interval(key, low, int(match.group(2) or low))
                    elif _MYSQL_TAG.match(piece):
                        key = f"{uuid}:{piece.lower()}"  # the intervals after a tag are that tag's
                    else:
                        raise ValueError(f"{piece!r} in {part!r} is neither a GTID interval (N or N-M) nor a tag")
        state.ordinal = state._count()
        return state

    def copy(self) -> GtidState:
        return GtidState(self.flavor, dict(self.domains), {k: list(v) for k, v in self.intervals.items()}, self.ordinal)

    def add(self, gtid: str) -> int:
        """Record one transaction's GTID; return the state's new ordinal (that transaction's)."""
        if self.flavor == "mariadb":
            match = _MARIADB_GTID.match(gtid)
            if not match:
                raise ValueError(f"{gtid!r} is not a MariaDB GTID")
            domain, server, seq = (int(g) for g in match.groups())
            last = self.domains.get(domain, (0, 0))[1]
            if seq <= last:
                raise SourceError(
                    f"GTID {gtid} does not follow {domain}-*-{last} in its domain: the binlog is out of GTID order",
                    "GTID positioning needs gtid_strict_mode=ON on the source; use S3RB_POSITIONING=file otherwise",
                )
            self.domains[domain] = (server, seq)
            self.ordinal += seq - last
        else:
            uuid, _, number = gtid.rpartition(":")  # uuid:N, or uuid:tag:N (MySQL 8.3+)
            gno = int(number)
            uuid = uuid.lower()
            if any(low <= gno <= high for low, high in self.intervals.get(uuid, ())):
                raise SourceError(f"GTID {gtid} arrived twice", "report this with the server version")
            self._add_interval(uuid, gno, gno)
            self.ordinal += 1
        return self.ordinal

    def _add_interval(self, uuid: str, low: int, high: int) -> None:
        merged: list[tuple[int, int]] = []
        for a, b in sorted([*self.intervals.get(uuid, []), (low, high)]):
            if merged and a <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.intervals[uuid] = merged

    def _count(self) -> int:
        if self.flavor == "mariadb":
            return sum(seq for _, seq in self.domains.values())
        return sum(high - low + 1 for ranges in self.intervals.values() for low, high in ranges)

    def __str__(self) -> str:
        if self.flavor == "mariadb":
            return ",".join(f"{d}-{s}-{n}" for d, (s, n) in sorted(self.domains.items()))
        members: dict[str, str] = {}  # uuid → its text; the untagged intervals first, then each tag's
        for key, ranges in sorted(self.intervals.items()):
            uuid, _, tag = key.partition(":")
            text = "".join(f":{a}" if a == b else f":{a}-{b}" for a, b in ranges)
            members[uuid] = members.get(uuid, uuid) + (f":{tag}" if tag else "") + text
        return ",".join(members.values())

    def missing_since(self, older: GtidState) -> list[str]:
        """The parts of ``older`` this state lacks (MariaDB domains whose seq_no is lower)."""
        if self.flavor == "mariadb":
            return [f"{d}-{s}-{n}" for d, (s, n) in sorted(older.domains.items()) if self.domains.get(d, (0, 0))[1] < n]
        lacking = []
        for uuid, ranges in older.intervals.items():
            mine = self.intervals.get(uuid, [])
            for low, high in ranges:
                if not any(a <= low and high <= b for a, b in mine):
                    lacking.append(f"{uuid}:{low}-{high}")
        return lacking


# --------------------------------------------------------------------------- MySQL's binary GTID sets
#
# A replica sends its GTID set in the dump request (COM_BINLOG_DUMP_GTID), and a binlog file opens
# with the set before it (PREVIOUS_GTIDS), both in the server's binary encoding: a u64 count of
# (uuid, intervals) members, each the 16 uuid bytes, a u64 interval count and [start, end) u64
# pairs. A set with tags (8.3+) says so in its first 8 bytes (format 1 in the lowest and highest
# byte, the count between) and gives each member its tag, a length in the serialization library's
# variable-length integers and the bytes (length 0: no tag).

_TAGGED_FORMAT = 1


def varlen_bytes(value: int) -> bytes:
    """An unsigned integer in the MySQL serialization library's variable-length encoding: 1-9
    bytes, little-endian, the count of low one-bits in the first byte saying how many follow."""
    for n in range(1, 9):
        if value < 1 << (7 * n):
            return ((value << n) | ((1 << (n - 1)) - 1)).to_bytes(n, "little")
    return b"\xff" + value.to_bytes(8, "little")


def read_varlen(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of a variable-length unsigned integer (see :func:`varlen_bytes`)."""
    first = data[pos]
    n = 1
    while n < 9 and first >> (n - 1) & 1:
        n += 1
    if n == 9:
        return int.from_bytes(data[pos + 1 : pos + 9], "little"), pos + 9
    if pos + n > len(data):
        raise ValueError("a variable-length integer runs past the end of its data")
    return int.from_bytes(data[pos : pos + n], "little") >> n, pos + n


def encode_mysql_set(state: GtidState) -> bytes:
    """``state`` as MySQL encodes a GTID set; the tagged format only when a member has a tag, so
    that a server before 8.3 reads a set without tags as it always did."""
    tagged = any(":" in key for key in state.intervals)
    members = sorted(state.intervals.items())
    count = len(members)
    out = [((_TAGGED_FORMAT << 56) | (count << 8) | _TAGGED_FORMAT if tagged else count).to_bytes(8, "little")]
    for key, ranges in members:
        uuid, _, tag = key.partition(":")
        out.append(bytes.fromhex(uuid.replace("-", "")))
        if tagged:
            out.append(varlen_bytes(len(tag)) + tag.encode("ascii"))
        out.append(len(ranges).to_bytes(8, "little"))
        out.extend(low.to_bytes(8, "little") + (high + 1).to_bytes(8, "little") for low, high in ranges)
    return b"".join(out)


def decode_mysql_set(data: bytes) -> GtidState:
    """A GTID set in MySQL's binary encoding (see :func:`encode_mysql_set`)."""
    head = int.from_bytes(data[0:8], "little")
    tagged = head >> 56 == _TAGGED_FORMAT and head & 0xFF == _TAGGED_FORMAT
    count = (head >> 8) & ((1 << 48) - 1) if tagged else head
    state = GtidState("mysql", {}, {}, 0)
    pos = 8
    for _ in range(count):
        raw = data[pos : pos + 16].hex()
        if len(raw) != 32:
            raise ValueError("a binary GTID set ends inside a uuid")
        key = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
        pos += 16
        if tagged:
            length, pos = read_varlen(data, pos)
            if length:
                key += ":" + data[pos : pos + length].decode("ascii").lower()
            pos += length
        intervals = int.from_bytes(data[pos : pos + 8], "little")
        pos += 8
        for _ in range(intervals):
            low, end = int.from_bytes(data[pos : pos + 8], "little"), int.from_bytes(data[pos + 8 : pos + 16], "little")
            if end <= low:
                raise ValueError(f"a binary GTID set holds the empty interval [{low}, {end})")
            state._add_interval(key, low, end - 1)
            pos += 16
    if pos != len(data):
        raise ValueError(f"a binary GTID set of {len(data)} bytes holds {pos}")
    state.ordinal = state._count()
    return state
