"""Capture: binlog → typed changes → per-table micro-batches → Parquet objects → checkpoint.

The checkpoint is saved only after the objects holding every change before it are written
(invariant 3), and only at transaction boundaries; and never past a prepared XA transaction
whose outcome is still ahead (docs/ARCHITECTURE.md, "XA transactions").
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import count, repeat
from operator import itemgetter
from typing import Any

from s3rb_stream import faultpoints, metrics
from s3rb_stream.core.batching import BatchBuffers, FlushPolicy
from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.column_types import same_definition
from s3rb_stream.core.ddl import follow_problem, parse_ddl, renames_table
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.quarantine import Quarantine
from s3rb_stream.core.query_state import ExtractState
from s3rb_stream.core.schema import SourceTable, table_to_json
from s3rb_stream.log import get_logger
from s3rb_stream.sources.binlog import BinlogReader, Boundary, Ddl, RowImages, XaOutcome, XaPrepared
from s3rb_stream.sources.row_decoder import fits_table
from s3rb_stream.sources.table_history import AlterHints, reconcile
from s3rb_stream.sources.table_map import TableMap
from s3rb_stream.state.checkpoint import save_checkpoint
from s3rb_stream.state.extracts import save_extract
from s3rb_stream.state.quarantines import save_quarantine
from s3rb_stream.store import parquet
from s3rb_stream.store.base import ObjectStore

log = get_logger(__name__)
new_tuple = tuple.__new__

CHECKPOINT_EVERY_SECONDS = 5.0
# How often capture recomputes the source time up to which everything read is in objects: a load
# pass reads it (about every second), and a busy source commits thousands of transactions a second.
DURABLE_EVERY_SECONDS = 0.1
# (tables, start, quarantined) → a reader of the binlog from ``start`` for those tables
OpenReader = Callable[[dict[str, SourceTable], BinlogPosition, dict[str, str]], BinlogReader]


@dataclass(frozen=True)
class Adopted:
    """A table created while streaming that capture takes on."""

    table: SourceTable
    one_change_per_transaction: bool = False  # SCD2: states inside a transaction are not versions


def row_overhead(table: SourceTable) -> int:
    """Bytes a buffered row takes in memory beyond its values' binlog bytes: the tuple, the change
    record and a Python object per value. Measured with tracemalloc on rows like bench.throughput's
    bulk table: 864 bytes a row of 14 values, about 62 a value; this estimate errs high."""
    return 250 + 60 * len(table.columns)


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
        live: Callable[[], bool] = lambda: True,
    ) -> None:
        """``resumed`` is False on a first run: the start position is then saved even if idle.

        ``skip_below``: per table, the sequence it is already complete to (its last checkpoint, or
        its snapshot's position), when reading starts earlier for another table's sake.
        ``one_change_per_transaction``: tables (SCD2) that keep only each key's last change of a
        transaction: the states inside a transaction are not versions.
        ``describe``: reads a table's definition from the source now, to follow an ALTER.
        ``adopt``: a table just created: its definition (and whether it keeps one change per
        transaction) when the tables file includes it, else None.
        ``fixed_keys``: tables whose key the tables file sets (not their primary key).
        ``live``: whether capture has caught up with where the source was at the start, so that
        the definition ``describe`` reads is the one an ALTER just read made.
        """
        self.store = store
        self.source_db = source_db
        self.target_schema = target_schema
        self.on_written: Callable[[], None] = lambda: None  # a batch object was written (the loader's cue)
        self.tables: dict[str, SourceTable] = {}
        self.catalog: dict[str, SourceTable] = {t.name: t for t in tables}  # as the server last described them
        self.alters: dict[str, AlterHints] = {}  # ALTERs read since a table's last rows
        self.key_positions: dict[str, list[int]] = {}
        self.overhead: dict[str, int] = {}
        for table in tables:
            self._set_definition(table)
        self._changes_counter = {op: metrics.CHANGES.labels(source_db, target_schema, op.name.lower()) for op in Op}
        self.buffers = BatchBuffers(policy, start)
        self.saved_position: BinlogPosition | None = start if resumed else None
        self.resumed = resumed
        self.seen: set[str] = set()  # tables whose rows this capture has read
        self.last_saved_at = time.monotonic()
        self.last_event_ts: datetime | None = None
        # The source time of the newest transaction read (any table), and the newest source time up
        # to which every change read is in a written object: what a load can make complete.
        self.read_ts: datetime | None = None
        self.durable_ts: datetime | None = None
        self._durable_at = 0.0  # monotonic time durable_ts was last computed
        self.changes_total = 0
        self.batches_written = 0
        self.skip_below = skip_below or {}
        self.quarantined: dict[str, str] = {}
        self.describe = describe
        self.adopt = adopt
        self.fixed_keys = fixed_keys or set()
        self.live = live
        self._reopen = False  # the set of captured tables grew: the reader must be reopened
        self.collapse = one_change_per_transaction or set()
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
        reader = open_reader(self.tables, self.position, self.quarantined)
        reader.resolve = self.resolve
        connected = metrics.BINLOG_CONNECTED.labels(self.source_db, self.target_schema)
        connected.set(1)
        try:
            self.consume(reader, should_stop, on_boundary)
        finally:
            connected.set(0)
            reader.close()
        reopen, self._reopen = self._reopen, False
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
                self._check_ddl(item)
            elif isinstance(item, Boundary):
                if item.is_heartbeat:
                    metrics.event_read(self.source_db, self.target_schema, None)  # caught up: no lag
                    self.read_ts = now_utc()
                self._commit(pending, item)
                pending = _Pending({}, {})
                now = time.monotonic()
                self.flush(self.buffers.due(now))
                if now - self._durable_at >= DURABLE_EVERY_SECONDS:  # an older time is only more cautious
                    oldest = self.buffers.oldest_buffered()
                    self.durable_ts = oldest - timedelta(microseconds=1) if oldest is not None else self.read_ts
                    self._durable_at = now
                on_boundary()
                if should_stop(item.position) or self._reopen:
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
                if table not in self.quarantined:
                    self.quarantine(table, reason, self.buffers.last_commit)
            return []
        return out

    def resolve(self, tmap: TableMap, held: SourceTable) -> SourceTable:
        """The definition ``tmap``'s rows were written under (docs/ARCHITECTURE.md, "Schema history")."""
        hints = self.alters.get(held.name)
        if hints is None and fits_table(held, tmap):
            return held
        return reconcile(tmap, held, self.catalog.get(held.name), hints, held.name in self.fixed_keys)

    def _add_rows(self, pending: _Pending, item: RowImages) -> None:
        if item.table in self.quarantined:
            return
        if item.first_seq < self.skip_below.get(item.table, 0):
            return  # before where this table is already complete: its rows are in the target
        problem = item.problem
        if problem is None and item.definition is not None:
            problem = self._change_definition(item.table, item.definition, pending)
        if problem is not None:
            pending.rows.pop(item.table, None)  # none of this transaction's rows of the table
            pending.size.pop(item.table, None)
            self.quarantine(item.table, problem, self.buffers.last_commit)
            return
        self.seen.add(item.table)
        self._convert_rows(pending, item)

    def _change_definition(self, table: str, new: SourceTable, pending: _Pending) -> str | None:
        """Rows arrive under another definition than the last rows (an ALTER between them, or binlog
        written before the server's definition of now): go on with it, in new objects, if the target
        can follow; else why not."""
        old = self.tables[table]
        hints = self.alters.pop(table, None)
        first_sight = hints is None and table not in self.seen
        if same_definition(new, old):  # an ALTER that left the columns as they were (an index, a default)
            self._set_definition(new)
            return None
        if first_sight and not self.resumed:
            problem = None  # older rows than the definition read at the start: theirs is the one to load
        else:
            problem = follow_problem(hints.statement if hints else None, old, new, self._target(table))
        if problem is None and pending.rows.get(table):
            problem = "its definition changed inside a transaction"
        if problem is not None and hints is not None:
            return f"ALTER TABLE at {hints.position}: {problem}"
        if problem is not None:
            return (
                f"rows at {self.buffers.last_commit} were written under a definition capture cannot follow: {problem}"
            )
        self._adopt_definition(new, hints)
        return None

    def _adopt_definition(self, new: SourceTable, hints: AlterHints | None) -> None:
        if new.name in self.buffers.tables():
            self.flush([new.name])  # each object holds rows of one definition
        self._set_definition(new)
        if hints is not None:
            log.info("ALTER followed: new definition adopted", table=new.name, position=str(hints.position),
                     columns=list(new.column_names))  # fmt: skip
        else:
            log.info("rows follow the definition they were written under", table=new.name,
                     after=str(self.buffers.last_commit), columns=list(new.column_names))  # fmt: skip

    def settle_alters(self) -> None:
        """Once capture is live, an ALTER is judged when read, not at the table's next rows (which
        may never come): against the server's definition read right after it. Quarantined if the
        target cannot follow it (the ALTER may itself have changed rows, e.g. cut values), else
        adopted at once, so that the checkpoint carries it."""
        for table, hints in list(self.alters.items()):
            now = self.catalog.get(table)
            if table in self.quarantined or table not in self.tables or now is None:
                self.alters.pop(table)
                continue
            new = hints.applied_to(now)
            problem = follow_problem(hints.statement, self.tables[table], new, self._target(table))
            del self.alters[table]
            if problem is not None:
                self.quarantine(table, f"ALTER TABLE at {hints.position}: {problem}", hints.position)
            elif not same_definition(new, self.tables[table]):
                self._adopt_definition(new, hints)

    def _target(self, table: str) -> str:
        """The target table a quarantine's advice names."""
        return f"{self.target_schema}.{table}"

    def _convert_rows(self, pending: _Pending, item: RowImages) -> None:
        bucket = pending.rows.setdefault(item.table, [])
        already = len(bucket)
        seq = item.first_seq
        if item.kind == "insert":
            bucket.extend(zip(repeat(Op.INSERT), count(seq), item.rows))
        elif item.kind == "delete":
            bucket.extend(zip(repeat(Op.DELETE), count(seq), item.rows))
        else:
            keys = self.key_positions[item.table]
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
        pending.size[item.table] = pending.size.get(item.table, 0) + image_bytes + added * self.overhead[item.table]

    def _set_definition(self, table: SourceTable) -> None:
        """Capture ``table`` with this definition from now on, and what derives from it."""
        self.tables[table.name] = table
        self.key_positions[table.name] = [table.position(k) for k in table.key_columns]
        self.overhead[table.name] = row_overhead(table)

    def _check_ddl(self, item: Ddl) -> None:
        """Follow what can be followed (TRUNCATE); quarantine a table whose shape changed."""
        change = parse_ddl(item.statement, item.schema)
        if change is None:
            return
        if change.verb == "CREATE":
            self._adopt_created(change.tables)
            return
        for db, name in change.tables:
            if db != self.source_db or name not in self.tables or name in self.quarantined:
                continue
            if change.verb == "TRUNCATE":
                self._truncate(name, item.position, item.ts)
            elif change.verb == "ALTER":
                self._follow_alter(name, item)
            else:
                self.quarantine(
                    name,
                    f"{change.verb} TABLE at {item.position} changed its definition, which capture does not follow",
                    item.position,
                )

    def _adopt_created(self, tables: tuple[tuple[str, str], ...]) -> None:
        """A table created while streaming that the tables file includes (by pattern): capture it
        from its CREATE on. The reader filters by table, so it is reopened right after the CREATE."""
        for db, name in tables:
            if db != self.source_db or name in self.tables or self.adopt is None:
                continue
            adopted = self.adopt(name)
            if adopted is None:
                continue
            self._set_definition(adopted.table)
            if adopted.one_change_per_transaction:
                self.collapse.add(name)
            self._reopen = True
            log.info("new table captured from its CREATE on", table=name)

    def _follow_alter(self, table: str, item: Ddl) -> None:
        """Note what the ALTER says that table maps do not (renames, the defaults of added columns);
        the next rows' table map then gives the new definition (:meth:`_change_definition`).

        The server's definition is read again now: live, it is the ALTER's, and the ALTER is settled
        at once (:meth:`settle_alters`); when capture is behind, it may be a later one, whose columns
        are used only where the rows' layout fits them."""
        now = self.describe(table) if self.describe is not None else None
        gone = "the table was renamed" if renames_table(item.statement) else None
        if gone is None and self.describe is not None and now is None:
            gone = "the table is gone"
        if gone is not None:  # no rows will come under this name to follow it with
            self.quarantine(table, f"ALTER TABLE at {item.position}: {gone}", item.position)
            return
        self.alters.setdefault(table, AlterHints(item.position)).note(item.statement)
        if now is not None:
            self.catalog[table] = now
        if table in self.buffers.tables():
            self.flush([table])  # the rows before the ALTER go in their own object
        if self.live():
            self.settle_alters()
        else:
            log.info("ALTER read: the table's next rows follow it", table=table, position=str(item.position))

    def _truncate(self, table: str, position: BinlogPosition, ts: datetime | None = None) -> None:
        """A TRUNCATE is an empty whole-table extract at its position and source time: loading it
        removes every row with an older sequence (SCD2: expires every version; soft deletes: marks
        every live row deleted at that time)."""
        if table in self.buffers.tables():
            self.flush([table])  # the changes before the TRUNCATE go in their own object first
        source = self.tables[table]
        seq = position.seq
        read_at = ts or self.last_event_ts or now_utc()
        key = batch_key(self.store.prefix, self.source_db, self.target_schema, table, seq, seq, read_at, 0)
        self.store.put(key, parquet.encode(parquet.changes_to_table(source, []), self.store.parquet_codec))
        state = ExtractState("truncate", "complete", seq, seq, read_at, position, parts=1, final_key=key)
        save_extract(self.store, self.source_db, self.target_schema, table, state)
        log.info(
            "TRUNCATE followed: the table's rows are removed at the next load", table=table, position=str(position)
        )

    def quarantine(self, table: str, reason: str, position: BinlogPosition) -> None:
        """Stop capturing one table, durably, while the others go on."""
        self.quarantined[table] = reason
        save_quarantine(self.store, self.source_db, self.target_schema, Quarantine(table, reason, position))

    def _commit(self, pending: _Pending, boundary: Boundary) -> None:
        if not pending.rows:  # a transaction of other tables: it still says how far behind capture is
            self.buffers.advance(boundary.position)
            if boundary.commit_ts is not None:
                metrics.event_read(self.source_db, self.target_schema, boundary.commit_ts)
                self.read_ts = boundary.commit_ts
            return
        ts = boundary.commit_ts or now_utc()
        self.last_event_ts = self.read_ts = ts
        metrics.event_read(self.source_db, self.target_schema, ts)
        committed: dict[str, tuple[list[Change], int]] = {}
        for table, rows in pending.rows.items():
            if table in self.collapse:
                rows = self._last_per_key(table, rows)
            # tuple.__new__ straight: a named tuple's own __new__ is a Python function, a frame per change
            changes = [new_tuple(Change, (op, seq, ts, values)) for op, seq, values in rows]
            committed[table] = (changes, pending.size[table])
            self._count(rows)
        self.buffers.commit(self.buffers.last_commit, boundary.position, committed, time.monotonic())
        faultpoints.reached("capture.commit")

    def _count(self, rows: list[tuple[Op, int, tuple[Any, ...]]]) -> None:
        self.changes_total += len(rows)
        if len(rows) == 1:  # the OLTP case: one change per transaction
            self._changes_counter[rows[0][0]].inc()
            return
        for op, n in Counter(map(itemgetter(0), rows)).items():
            self._changes_counter[op].inc(n)

    def _last_per_key(
        self, table: str, rows: list[tuple[Op, int, tuple[Any, ...]]]
    ) -> list[tuple[Op, int, tuple[Any, ...]]]:
        positions = self.key_positions[table]
        last: dict[tuple[Any, ...], tuple[Op, int, tuple[Any, ...]]] = {}
        for row in rows:
            key = tuple(row[2][i] for i in positions)
            last.pop(key, None)  # re-inserted at the end: the dict keeps the order of last changes
            last[key] = row
        return list(last.values())

    # ------------------------------------------------------------------ writing

    def flush(self, tables: list[str]) -> None:
        """Write the named buffers as batch objects, then save the checkpoint they allow."""
        for name in tables:
            self._write(name, self.buffers.peek(name))
            self.buffers.drop([name])
        self.save_checkpoint(force=bool(tables))

    def _write(self, name: str, changes: list[Change]) -> None:
        key = batch_key(
            self.store.prefix,
            self.source_db,
            self.target_schema,
            name,
            changes[0].seq,
            changes[-1].seq,
            changes[0].source_ts,
        )
        self.store.put(
            key, parquet.encode(parquet.changes_to_table(self.tables[name], changes), self.store.parquet_codec)
        )
        self.batches_written += 1
        self.on_written()
        metrics.BATCHES_WRITTEN.labels(self.source_db, self.target_schema, name).inc()
        log.debug("batch written", key=key, rows=len(changes))

    def _spill(self, pending: _Pending, item: RowImages) -> None:
        """Write the rows read so far of a huge transaction, so that memory stays bounded.

        The source committed the transaction (the binlog holds only committed ones); only its end
        is still ahead. The checkpoint stays before it, so a restart reads all of it again, and
        the spill points, counted in rows and binlog bytes, fall the same way. Its rows carry the time of their
        statement rather than of the commit. SCD2 tables keep one change per key per transaction
        and are not spilled.
        """
        if item.table in self.collapse:
            return
        rows = pending.rows.pop(item.table)
        pending.size.pop(item.table, None)
        if item.table in self.buffers.tables():
            self.flush([item.table])  # committed changes of the table go first, in their own object
        ts = datetime.fromtimestamp(item.ts, UTC)
        self._write(item.table, [Change(op, seq, ts, values) for op, seq, values in rows])
        self._count(rows)
        log.info("a large transaction is written as it is read", table=item.table, rows=len(rows))

    def flush_all(self) -> None:
        self.flush(self.buffers.tables())
        self.save_checkpoint(force=True)

    def save_checkpoint(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last_saved_at < CHECKPOINT_EVERY_SECONDS:
            return  # asked at every transaction: the cheap test first
        position = self.buffers.checkpoint_position()
        if position == self.saved_position:
            return
        checkpoint = Checkpoint(
            position,
            self.source_db,
            self.target_schema,
            now_utc(),
            self.last_event_ts,
            tuple(sorted(t for t in self.tables if t not in self.quarantined)),
            {name: table_to_json(t) for name, t in self.tables.items() if name not in self.quarantined},
            {name: seq for name, seq in self.skip_below.items() if seq > position.seq and name in self.tables},
        )
        faultpoints.reached("checkpoint.write")
        save_checkpoint(self.store, checkpoint)
        self.saved_position = position
        self.last_saved_at = time.monotonic()
