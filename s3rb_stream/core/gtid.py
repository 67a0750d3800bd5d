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

    MariaDB: domain → (server_id, seq_no) of the last transaction. MySQL: uuid → sorted, merged
    closed intervals of transaction numbers.
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
                for interval in rest.split(":") if rest else []:
                    match = _MYSQL_INTERVAL.match(interval)
                    if not match:
                        raise ValueError(f"{interval!r} in {part!r} is not a GTID interval (N or N-M)")
                    low = int(match.group(1))
                    high = int(match.group(2) or low)
                    state._add_interval(uuid.strip().lower(), low, high)
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
            uuid, _, number = gtid.partition(":")
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
        return ",".join(
            uuid + "".join(f":{a}" if a == b else f":{a}-{b}" for a, b in ranges)
            for uuid, ranges in sorted(self.intervals.items())
        )

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
