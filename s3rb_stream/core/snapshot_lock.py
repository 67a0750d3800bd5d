"""How a snapshot is made consistent with the binlog position streaming resumes from.

See docs/ARCHITECTURE.md, "Snapshots". A snapshot at position P must see every transaction that
is in the binlog before P. MySQL writes a transaction to the binlog before its InnoDB commit
becomes visible, so a position read just before the snapshot opens can lie after a transaction
the snapshot does not see: neither delivered by the snapshot nor replayed after P, it would be
lost. Either the server reports the snapshot's own position (MariaDB, Percona Server), or P is
read and the snapshot opened while a lock keeps every transaction that touches the snapshotted
tables out of commit. Pure: the choice, and what each way is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from s3rb_stream.core.gtid import Flavor
from s3rb_stream.core.positions import BinlogPosition

# S3RB_SNAPSHOT_LOCKING: what a server without an exact snapshot position (MySQL) gets.
Locking = Literal["tables", "global", "none"]
# What a snapshot did: "server" when the server reported the snapshot's position, else the lock.
Method = Literal["server", "tables", "global", "none"]

DESCRIPTIONS: dict[Method, str] = {
    "server": "exact: the position the server reported for the snapshot",
    "tables": "exact: read under LOCK TABLES ... READ on the snapshotted tables",
    "global": "exact: read under FLUSH TABLES WITH READ LOCK",
    "none": (
        "NOT exact: read without a lock (S3RB_SNAPSHOT_LOCKING=none); a transaction committing"
        " at that moment may be missing from the target until its rows change again"
    ),
}


def choose_method(snapshot_status: dict[str, str], locking: Locking, gtid_flavor: Flavor | None) -> Method:
    """``server`` when ``SHOW STATUS LIKE 'binlog_snapshot_%'`` reports a position, and, with GTID
    positioning on MySQL (``gtid_flavor``), the GTID set there too; otherwise the configured lock.

    MariaDB reports the GTID state of any position (``BINLOG_GTID_POS``); MySQL only of the
    present, which the lock makes the snapshot's.
    """
    status = {k.lower(): v for k, v in snapshot_status.items()}
    if not (status.get("binlog_snapshot_file") and status.get("binlog_snapshot_position")):
        return locking
    if gtid_flavor == "mysql" and status.get("binlog_snapshot_gtid_executed") is None:
        return locking
    return "server"


@dataclass(frozen=True)
class SnapshotLock:
    """What :meth:`QueryReader.begin_snapshot` does: ``method``, and for ``tables`` which tables;
    ``wait_seconds`` bounds the wait for the lock (``lock_wait_timeout``)."""

    method: Method
    database: str = ""
    tables: Sequence[str] = ()
    wait_seconds: int = 10


@dataclass(frozen=True)
class OpenedSnapshot:
    """A snapshot transaction that is open, and the position it is consistent with (None without a
    binary log). ``gtid_executed``: MySQL's GTID set read with it, if the server said it."""

    position: BinlogPosition | None
    method: Method
    gtid_executed: str | None = None
    lock_waited: float = 0.0  # seconds the lock statement waited
    lock_held: float = 0.0  # seconds the lock was held

    @property
    def exact(self) -> bool:
        return self.method != "none"
