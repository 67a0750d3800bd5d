"""Capture: binlog → typed changes → per-table micro-batches, handed to the writer.

Three parts, each with one job: this module reads the binlog and assembles transactions (and holds
prepared XA transactions until their outcome); :class:`DefinitionTracker` follows the definitions
rows are written under; :class:`BatchWriter` writes objects and the checkpoint. The reader hands
events here and asks the tracker for definitions; it never calls back into capture.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import count, repeat
from operator import itemgetter
from typing import Any

from s3rb_stream import faultpoints, metrics
from s3rb_stream.core.batching import BatchBuffers, FlushPolicy
from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.batch_writer import BatchWriter
from s3rb_stream.pipeline.definitions import Adopted, DefinitionTracker
from s3rb_stream.pipeline.shared import CaptureProgress
from s3rb_stream.sources.binlog import BinlogReader, Boundary, Ddl, Resolver, RowImages, XaOutcome, XaPrepared
from s3rb_stream.store.base import ObjectStore

log = get_logger(__name__)
new_tuple = tuple.__new__

# How often capture recomputes the source time up to which everything read is in objects: a load
# pass reads it (about every second), and a busy source commits thousands of transactions a second.
DURABLE_EVERY_SECONDS = 0.1


# (tables, start, quarantined, resolve) → a reader of the binlog from ``start`` for those tables;
# the tables and the quarantined names are read live, ``resolve`` is the definition tracker's.
OpenReader = Callable[[Mapping[str, SourceTable], BinlogPosition, Container[str], Resolver], BinlogReader]


@dataclass
class _HeldXa:
    """The rows of a prepared XA transaction, until its XA COMMIT or XA ROLLBACK is read."""

    rows: list[RowImages]
    prepared_at: BinlogPosition


@dataclass
class _Pending:
    """Changes of the transaction being read, stamped with the commit time at its end, and the
    approximate bytes they take per table."""

    rows: dict[str, list[tuple[Op, int, tuple[Any, ...]]]]
    size: dict[str, int]


class Capture:
    def __init__(
        self,
        *,
        store: ObjectStore,
        source_db: str,
        target_schema: str,
        tables: list[SourceTable],
        policy: FlushPolicy,
        start: BinlogPosition,
        resumed: bool = True,
        skip_below: dict[str, int] | None = None,
        one_change_per_transaction: set[str] | None = None,
        describe: Callable[[str], SourceTable | None] | None = None,
        adopt: Callable[[str], Adopted | None] | None = None,
        fixed_keys: set[str] | None = None,
        progress: CaptureProgress | None = None,
        on_written: Callable[[], None] = lambda: None,
    ) -> None:
        """``resumed`` is False on a first run: the start position is then saved even if idle.

        ``skip_below``: per table, the sequence it is already complete to (its last checkpoint, or
        its snapshot's position), when reading starts earlier for another table's sake.
        ``one_change_per_transaction``: tables (SCD2) that keep only each key's last change of a
        transaction: the states inside a transaction are not versions.
        ``describe``, ``adopt``, ``fixed_keys``: see :class:`DefinitionTracker`.
        ``progress``: what capture publishes for the loads (durable time), and reads (caught up).
        ``on_written``: told after each batch object (the loader's cue).
        """
        self.source_db = source_db
        self.target_schema = target_schema
        self.progress = progress or CaptureProgress()
        self.skip_below = skip_below or {}
        self.buffers = BatchBuffers(policy, start)
        definitions: dict[str, SourceTable] = {}
        self.writer = BatchWriter(
            store=store, source_db=source_db, target_schema=target_schema, buffers=self.buffers,
            definitions=definitions, resumed=resumed, skip_below=self.skip_below, on_written=on_written,
        )  # fmt: skip
        self.definitions = DefinitionTracker(
            tables=tables, writer=self.writer, definitions=definitions, resumed=resumed,
            one_change_per_transaction=one_change_per_transaction or set(), describe=describe, adopt=adopt,
            fixed_keys=fixed_keys, progress=self.progress,
        )  # fmt: skip
        self._changes_counter = {op: metrics.CHANGES.labels(source_db, target_schema, op.name.lower()) for op in Op}
        # The source time of the newest transaction read (any table), and the newest source time up
        # to which every change read is in a written object: what a load can make complete.
        self.read_ts: datetime | None = None
        self._durable_at = 0.0  # monotonic time durable_ts was last computed
        self.changes_total = 0
        self.per_table: Counter[str] = Counter()  # changes captured, by table (run's summary)
        self.held_xa: dict[str, _HeldXa] = {}  # prepared XA transactions by XID, their outcome ahead
        self._xa_rows: list[RowImages] = []  # the rows of the XA transaction being read
        self._xa_without_rows: set[str] = set()  # prepared XA transactions with no rows to capture

    # ------------------------------------------------------------------ reading

    @property
    def position(self) -> BinlogPosition:
        """The last transaction boundary read: where a new reader resumes."""
        return self.buffers.last_commit

    def read(
        self,
        open_reader: OpenReader,
        should_stop: Callable[[BinlogPosition], bool],
        on_boundary: Callable[[], None] = lambda: None,
    ) -> bool:
        """Read from :attr:`position` with a reader from ``open_reader`` until ``should_stop`` is true
        at a boundary. True when it stopped to be reopened, because a new table joined."""
        tracker = self.definitions
        reader = open_reader(tracker.tables, self.position, self.writer.quarantined, tracker.resolve)
        connected = metrics.BINLOG_CONNECTED.labels(self.source_db, self.target_schema)
        connected.set(1)
        try:
            self.consume(reader, should_stop, on_boundary)
        finally:
            connected.set(0)
            reader.close()
        reopen, tracker.reopen = tracker.reopen, False
        return reopen

    def consume(
        self,
        reader: BinlogReader,
        should_stop: Callable[[BinlogPosition], bool],
        on_boundary: Callable[[], None] = lambda: None,
    ) -> None:
        """Read until ``should_stop(position)`` is true at a transaction boundary."""
        pending = _Pending({}, {})
        self._xa_rows = []
        policy = self.buffers.policy
        for item in reader.items():
            if isinstance(item, RowImages):
                if reader.in_xa is not None:  # not a change unless its XA transaction commits
                    self._xa_rows.append(item)
                    continue
                self._add_rows(pending, item)
                if (
                    len(pending.rows.get(item.table, ())) >= policy.max_rows
                    or pending.size.get(item.table, 0) >= policy.max_bytes
                ):
                    self._spill(pending, item)
            elif isinstance(item, Ddl):
                self.definitions.follow(item)
            elif isinstance(item, Boundary):
                if item.is_heartbeat:
                    metrics.event_read(self.source_db, self.target_schema, None)  # caught up: no lag
                    self.read_ts = now_utc()
                self._commit(pending, item)
                pending = _Pending({}, {})
                now = time.monotonic()
                self.writer.flush(self.buffers.due(now))
                if now - self._durable_at >= DURABLE_EVERY_SECONDS:  # an older time is only more cautious
                    oldest = self.buffers.oldest_buffered()
                    durable = oldest - timedelta(microseconds=1) if oldest is not None else self.read_ts
                    self.progress.durable_ts = durable
                    self._durable_at = now
                on_boundary()
                if should_stop(item.position) or self.definitions.reopen:
                    return
            elif isinstance(item, XaPrepared):
                self._hold_xa(item)
            elif isinstance(item, XaOutcome):
                self._end_xa(pending, item)

    def _hold_xa(self, item: XaPrepared) -> None:
        """Keep a prepared XA transaction's rows until its outcome, and the checkpoint before it: a
        restart reads it again, since the rows live only here (docs/ARCHITECTURE.md, "XA transactions")."""
        rows, self._xa_rows = self._xa_rows, []
        if not rows:
            self._xa_without_rows.add(item.xid)
            return
        self.held_xa[item.xid] = _HeldXa(rows, item.position)
        self.buffers.hold(item.xid, self.buffers.last_commit)
        log.info("XA transaction prepared: its rows wait for its XA COMMIT or XA ROLLBACK, and the checkpoint"
                 " stays before it", xid=item.xid, position=str(item.position),
                 rows=sum(len(r.rows) for r in rows))  # fmt: skip

    def _end_xa(self, pending: _Pending, item: XaOutcome) -> None:
        """A prepared XA transaction ends: its rows become changes of this (the commit's)
        transaction, numbered where the commit is, or are dropped (a rollback)."""
        held = self.held_xa.pop(item.xid, None)
        if held is None and item.first_seq is None and self._xa_rows:  # one phase, its rows just read
            held, self._xa_rows = _HeldXa(self._xa_rows, item.position), []
        if held is None:
            if item.xid not in self._xa_without_rows:
                log.warning("an XA transaction prepared before capture's start ends here: its rows were not read;"
                            " if it changed captured tables, snapshot them again", xid=item.xid,
                            position=str(item.position), committed=item.committed)  # fmt: skip
            self._xa_without_rows.discard(item.xid)
            return
        self.buffers.release(item.xid)
        if not item.committed:
            log.info("XA transaction rolled back: its rows are dropped", xid=item.xid, position=str(item.position))
            return
        rows = held.rows
        if item.first_seq is not None:
            rows = self._renumber(held, item)
        for images in rows:
            self._add_rows(pending, images)

    def _renumber(self, held: _HeldXa, item: XaOutcome) -> list[RowImages]:
        """The rows with sequences at their commit: numbered at their PREPARE, they would sort
        before every change committed in between, and a load past those would skip them."""
        assert item.first_seq is not None
        out, used = [], 0
        for images in held.rows:
            out.append(replace(images, first_seq=item.first_seq + used))
            used += len(images.rows) // (2 if images.kind == "update" else 1)
        if used > item.room:
            reason = (
                f"the XA transaction {item.xid} committed at {item.position} changes {used:,} rows, more than"
                f" file positions can number inside its XA COMMIT ({item.room}); S3RB_POSITIONING=gtid numbers"
                " any number"
            )
            for table in sorted({images.table for images in held.rows}):
                if table not in self.writer.quarantined:
                    self.writer.quarantine(table, reason, self.buffers.last_commit)
            return []
        return out

    def _add_rows(self, pending: _Pending, item: RowImages) -> None:
        if item.table in self.writer.quarantined:
            return
        if item.first_seq < self.skip_below.get(item.table, 0):
            return  # before where this table is already complete: its rows are in the target
        problem = item.problem
        if problem is None and item.definition is not None:
            problem = self.definitions.rows_under(item.table, item.definition, bool(pending.rows.get(item.table)))
        if problem is not None:
            pending.rows.pop(item.table, None)  # none of this transaction's rows of the table
            pending.size.pop(item.table, None)
            self.writer.quarantine(item.table, problem, self.buffers.last_commit)
            return
        self.definitions.seen.add(item.table)
        self._convert_rows(pending, item)

    def _convert_rows(self, pending: _Pending, item: RowImages) -> None:
        bucket = pending.rows.setdefault(item.table, [])
        already = len(bucket)
        seq = item.first_seq
        if item.kind == "insert":
            bucket.extend(zip(repeat(Op.INSERT), count(seq), item.rows))
        elif item.kind == "delete":
            bucket.extend(zip(repeat(Op.DELETE), count(seq), item.rows))
        else:
            keys = self.definitions.key_positions[item.table]
            rows = item.rows
            for i in range(0, len(rows), 2):
                before, after = rows[i], rows[i + 1]
                if keys and any(before[k] != after[k] for k in keys):
                    # A changed key: the old key disappears, the new one appears.
                    bucket.append((Op.DELETE, seq, before))
                bucket.append((Op.UPDATE, seq, after))
                seq += 1
        added = len(bucket) - already
        image_bytes = item.nbytes // 2 if item.kind == "update" else item.nbytes
        overhead = added * self.definitions.overhead[item.table]
        pending.size[item.table] = pending.size.get(item.table, 0) + image_bytes + overhead

    def _commit(self, pending: _Pending, boundary: Boundary) -> None:
        if not pending.rows:  # a transaction of other tables: it still says how far behind capture is
            self.buffers.advance(boundary.position)
            if boundary.commit_ts is not None:
                metrics.event_read(self.source_db, self.target_schema, boundary.commit_ts)
                self.read_ts = boundary.commit_ts
            return
        ts = boundary.commit_ts or now_utc()
        self.writer.last_event_ts = self.read_ts = ts
        metrics.event_read(self.source_db, self.target_schema, ts)
        committed: dict[str, tuple[list[Change], int]] = {}
        for table, rows in pending.rows.items():
            if table in self.definitions.collapse:
                rows = self._last_per_key(table, rows)
            # tuple.__new__ straight: a named tuple's own __new__ is a Python function, a frame per change
            changes = [new_tuple(Change, (op, seq, ts, values)) for op, seq, values in rows]
            committed[table] = (changes, pending.size[table])
            self._count(table, rows)
        self.buffers.commit(self.buffers.last_commit, boundary.position, committed, time.monotonic())
        faultpoints.reached("capture.commit")

    def _count(self, table: str, rows: list[tuple[Op, int, tuple[Any, ...]]]) -> None:
        self.changes_total += len(rows)
        self.per_table[table] += len(rows)
        if len(rows) == 1:  # the OLTP case: one change per transaction
            self._changes_counter[rows[0][0]].inc()
            return
        for op, n in Counter(map(itemgetter(0), rows)).items():
            self._changes_counter[op].inc(n)

    def _last_per_key(
        self, table: str, rows: list[tuple[Op, int, tuple[Any, ...]]]
    ) -> list[tuple[Op, int, tuple[Any, ...]]]:
        positions = self.definitions.key_positions[table]
        last: dict[tuple[Any, ...], tuple[Op, int, tuple[Any, ...]]] = {}
        for row in rows:
            key = tuple(row[2][i] for i in positions)
            last.pop(key, None)  # re-inserted at the end: the dict keeps the order of last changes
            last[key] = row
        return list(last.values())

    def _spill(self, pending: _Pending, item: RowImages) -> None:
        """Write the rows read so far of a huge transaction, so that memory stays bounded.

        The source committed the transaction (the binlog holds only committed ones); only its end
        is still ahead. The checkpoint stays before it, so a restart reads all of it again, and
        the spill points, counted in rows and binlog bytes, fall the same way. Its rows carry the time of their
        statement rather than of the commit. SCD2 tables keep one change per key per transaction
        and are not spilled.
        """
        if item.table in self.definitions.collapse:
            return
        rows = pending.rows.pop(item.table)
        pending.size.pop(item.table, None)
        self.writer.flush_if_buffered(item.table)  # committed changes of the table go first, in their own object
        ts = datetime.fromtimestamp(item.ts, UTC)
        self.writer.write(item.table, [Change(op, seq, ts, values) for op, seq, values in rows])
        self._count(item.table, rows)
        log.info("a large transaction is written as it is read", table=item.table, rows=len(rows))

    def flush_all(self) -> None:
        """Write every buffer and the checkpoint: every change read is then in an object."""
        self.writer.flush_all()
        self.progress.durable_ts = self.read_ts
