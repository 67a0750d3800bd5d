"""Load: find batch objects not yet applied and apply them table by table, oldest first
(:func:`~s3rb_stream.core.object_keys.in_load_order`).

A table whose snapshot or full_sync extract is still being written is held back: its parts share
one sequence with the binlog changes after them, and only in order do they apply correctly. The
check comes after the listing, so every batch listed was written before the extract began.
"""

from __future__ import annotations

import queue
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc

from s3rb_stream import faultpoints, metrics
from s3rb_stream.core.checkpoint import now_utc
from s3rb_stream.core.column_types import same_definition
from s3rb_stream.core.object_keys import BatchRef, aside_key, in_load_order, parse_batch_key
from s3rb_stream.core.overflow import Overflow
from s3rb_stream.core.quarantine import Quarantine
from s3rb_stream.core.query_state import ExtractState
from s3rb_stream.core.scd2 import Scd2Spec, make_spec
from s3rb_stream.core.schema import SourceTable, definition_of, table_from_json
from s3rb_stream.errors import CorruptStateError, S3rbError, WarehouseError
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.pending_index import ensure_indexed
from s3rb_stream.pipeline.shared import CaptureProgress, TableRegistry
from s3rb_stream.retry import transient
from s3rb_stream.settings import Settings, TableConfig
from s3rb_stream.state.extracts import load_extract
from s3rb_stream.state.lease import Lease
from s3rb_stream.state.quarantines import active_quarantines, save_quarantine
from s3rb_stream.state.repairs import repair_held_since
from s3rb_stream.store import parquet
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.store.batches import pending as pending_batches
from s3rb_stream.store.batches import read_note, settle
from s3rb_stream.store.requests import counted
from s3rb_stream.targets import Fence, Sweep, Warehouse, name_rules, open_warehouse
from s3rb_stream.targets.base import Rows, Unread, rows_in
from s3rb_stream.threads import leave_signals_to_main

log = get_logger(__name__)
# A repair writes the rows of the keys that differ, seconds of work; a hold older than this was
# left by a repair that died (verify --repair), and loads go on (docs/ARCHITECTURE.md, "Verify").
REPAIR_HOLD_EXPIRES = timedelta(minutes=10)

# One apply holds its batches decoded in memory: these bound it (the warehouse works on a copy).
MAX_ROWS_PER_LOAD = 100_000
MAX_BYTES_PER_LOAD = 64 * 1024 * 1024


class Unreadable(Exception):
    """A batch object that is not readable Parquet, found while a table loads: it is set aside."""

    def __init__(self, ref: BatchRef, error: CorruptStateError) -> None:
        super().__init__(str(error))
        self.ref = ref
        self.error = error


@dataclass
class LoadStats:
    batches: int = 0
    rows: int = 0
    per_table: dict[str, int] = field(default_factory=dict)  # batches applied, by table
    rows_per_table: dict[str, int] = field(default_factory=dict)  # rows staged, by table
    held_back: list[str] = field(default_factory=list)
    pending: int = 0  # batch objects left unapplied after the pass (held back tables)
    requests: Counter[str] = field(default_factory=Counter)  # object store requests of the pass, by kind


def newest_change(data: Rows) -> datetime | None:
    """The newest source commit time of a batch's changes, read or as its note says."""
    if isinstance(data, Unread):
        return data.newest
    newest: datetime | None = pc.max(data.column("_s3rb_source_ts")).as_py()
    return newest


def add_stats(total: LoadStats, more: LoadStats) -> None:
    total.batches += more.batches
    total.rows += more.rows
    for k, v in more.per_table.items():
        total.per_table[k] = total.per_table.get(k, 0) + v
    for k, v in more.rows_per_table.items():
        total.rows_per_table[k] = total.rows_per_table.get(k, 0) + v
    total.held_back.extend(t for t in more.held_back if t not in total.held_back)


def scd2_spec(config: TableConfig, table: SourceTable) -> Scd2Spec | None:
    """The SCD2 spec of a ``mode: scd2`` table, None otherwise."""
    if config.mode != "scd2":
        return None
    return make_spec(
        table,
        config.scd2_tracked_columns,
        config.scd2_valid_from_column,
        config.scd2_valid_to_column,
        config.scd2_current_column,
        config.scd2_untracked,
    )


def overflow_policy(config: TableConfig) -> Overflow:
    """What a load does with values too long for their target column (``overflow``, ``overflow_columns``)."""
    return Overflow(config.overflow, config.overflow_columns)


def check_target_names(settings: Settings, target_schema: str, tables: list[tuple[TableConfig, SourceTable]]) -> None:
    """Every name the target will hold can be created and found again, before anything is written."""
    rules = name_rules(settings)
    rules.check_schema(target_schema)
    for config, table in tables:
        rules.check_table(table, scd2_spec(config, table))
    rules.check_tables(table for _, table in tables)


class Loader:
    def __init__(
        self,
        store: ObjectStore,
        warehouse: Warehouse,
        source_db: str,
        target_schema: str,
        tables: TableRegistry | list[tuple[TableConfig, SourceTable]],
        fence: Fence | None = None,
        helpers: Sequence[Warehouse] = (),
        progress: CaptureProgress | None = None,
    ) -> None:
        """``tables``: the tables loaded (a run's registry, to which capture may add one).
        ``fence``: the lease generation every load commits under (None: a one-off command that
        holds no lease). ``helpers``: more connections to the same warehouse, so that as many
        tables load at once (``S3RB_LOAD_CONCURRENCY``); a table is loaded by one at a time.
        ``progress``: how far capture is (pipeline/shared.py); None for a command that only loads."""
        self.store = store
        self.warehouse = warehouse
        self.source_db = source_db
        self.target_schema = target_schema
        self.tables = tables if isinstance(tables, TableRegistry) else TableRegistry(tables)
        self.fence = fence
        self.helpers = list(helpers)
        self.progress = progress or CaptureProgress()
        self._not_captured: set[str] = set()  # quarantined: their changes stopped reaching objects
        self._indexed = False  # whether this run has seen the pipeline's batches all have notes

    def pending(self, table: SourceTable, warehouse: Warehouse | None = None) -> list[BatchRef]:
        """The table's batches waiting to be applied, in load order: found by their notes, and
        checked against the ledger for those alone, so a pass costs what waits, not the history."""
        keys = pending_batches(self.store, self.source_db, self.target_schema, table.name)
        refs = [r for r in map(parse_batch_key, keys) if r is not None and r.table == table.name]
        if not refs:
            return []
        applied = (warehouse or self.warehouse).applied_among(self.target_schema, table.name, [r.key for r in refs])
        if applied:  # applied by a run that stopped before it removed their notes
            settle(self.store, sorted(applied))
        return in_load_order([r for r in refs if r.key not in applied])

    def load_all(self, idle: bool = True) -> LoadStats:
        """One pass: every table's pending batches, table by table, or as many tables at once as
        there are connections; the first error is raised once the others' loads are over.

        ``idle``: let the warehouse go after the pass (a DuckDB file's lock); False when another
        pass follows at once (the load worker, while capture writes faster than it loads: closing
        a DuckDB file checkpoints it, a cost paid then once instead of at every pass)."""
        with counted() as requests:
            stats = self._pass(idle, requests)
        for kind in ("list", "get", "put", "delete", "head"):
            metrics.LOAD_PASS_REQUESTS.labels(self.source_db, self.target_schema, kind).set(requests[kind])
        stats.requests = requests
        return stats

    def _pass(self, idle: bool, requests: Counter[str]) -> LoadStats:
        try:
            if not self._indexed:  # once per run: the batches written before pending notes
                ensure_indexed(self.store, self.warehouse, self.source_db, self.target_schema)
                self._indexed = True
            stats = LoadStats()
            durable = self.progress.durable_ts  # before listing: every change up to it is in an object listed below
            # Whether a table with nothing to load may be created (or evolved) from its configured
            # definition: not while capture replays binlog written under older definitions, whose
            # batches create and evolve it in order (docs/ARCHITECTURE.md, "Schema history").
            create = self.progress.caught_up  # once a pass: capture may catch up meanwhile
            quarantined = active_quarantines(self.store, self.source_db, self.target_schema)  # one read for both
            holds = {table for table, quarantine in quarantined.items() if quarantine.holds_loads}
            self._not_captured = set(quarantined)
            tables = self.tables.entries()  # capture may add one meanwhile
            work = [(c, t) for c, t in tables if t.name not in holds]
            stats.held_back.extend(t.name for _, t in tables if t.name in holds)
            if not self.helpers:
                for config, table in work:
                    add_stats(stats, self._load_one(self.warehouse, config, table, durable, create))
            else:
                for config, table in work if create else ():  # one at a time: concurrent
                    # CREATE ... IF NOT EXISTS can collide
                    self.warehouse.prepare(
                        self.target_schema,
                        table,
                        scd2_spec(config, table),
                        evolve=False,
                        soft_delete=config.soft_delete,
                    )
                for done in self._in_parallel(work, durable, create, requests):
                    add_stats(stats, done)
        finally:
            if idle:
                self.idle()
        if stats.batches:
            log.info(
                "loaded", batches=stats.batches, rows=stats.rows, tables=stats.per_table, target=self.target_schema
            )
        return stats

    def idle(self) -> None:
        for warehouse in (self.warehouse, *self.helpers):
            warehouse.idle()

    def _in_parallel(
        self,
        work: list[tuple[TableConfig, SourceTable]],
        durable: datetime | None,
        create: bool,
        requests: Counter[str],
    ) -> list[LoadStats]:
        free: queue.SimpleQueue[Warehouse] = queue.SimpleQueue()
        for warehouse in (self.warehouse, *self.helpers):
            free.put(warehouse)

        def load(config: TableConfig, table: SourceTable) -> LoadStats:
            warehouse = free.get()
            try:
                with counted(requests):  # this worker's requests are the pass's too
                    return self._load_one(warehouse, config, table, durable, create)
            finally:
                free.put(warehouse)

        with ThreadPoolExecutor(len(self.helpers) + 1, f"s3rb-load-{self.source_db}", leave_signals_to_main) as pool:
            futures = [pool.submit(load, config, table) for config, table in work]
        errors = [error for f in futures if (error := f.exception()) is not None]
        if errors:  # a fatal error first: it ends the run, where an outage would only be retried
            raise ([e for e in errors if not transient(e)] or errors)[0]
        return [f.result() for f in futures]

    def _load_one(
        self,
        warehouse: Warehouse,
        config: TableConfig,
        table: SourceTable,
        durable: datetime | None,
        create: bool,
    ) -> LoadStats:
        """One table's pending batches, through ``warehouse``. ``create``: the pass's one answer to
        whether an empty table may be created (with parallel loads, after the pass created them one
        at a time: concurrent CREATE ... IF NOT EXISTS of one table collide)."""
        stats = LoadStats()
        if create:  # the target evolves from the batches' own definitions, in order
            warehouse.prepare(
                self.target_schema, table, scd2_spec(config, table), evolve=False, soft_delete=config.soft_delete
            )
        refs = self.pending(table, warehouse)
        extract = load_extract(self.store, self.source_db, self.target_schema, table.name) if refs else None
        if extract is not None and extract.status == "running":
            log.info(
                "load held back: an extract of the table is being written",
                table=table.name,
                kind=extract.kind,
                pending=len(refs),
            )
            stats.held_back.append(table.name)
            stats.pending += len(refs)
            metrics.BATCHES_PENDING.labels(self.source_db, self.target_schema, table.name).set(len(refs))
            return stats
        held = repair_held_since(self.store, self.source_db, self.target_schema, table.name) if refs else None
        if held is not None and now_utc() - held < REPAIR_HOLD_EXPIRES:  # its rows apply before later changes
            log.info("load held back: a repair of the table is being written", table=table.name, since=str(held))
            stats.held_back.append(table.name)
            stats.pending += len(refs)
            return stats
        if held is not None:  # a repair that died while it held the loads: they go on
            log.warning(
                "a repair's hold on the table's loads is older than it may be: ignored",
                table=table.name,
                since=str(held),
                hint="a `verify --repair` stopped while it wrote; run it again",
            )
        sweep = extract if extract is not None and config.mode != "append" else None
        if not self._load_table(warehouse, config, table, refs, sweep, stats):
            stats.held_back.append(table.name)
            stats.pending += len(refs)
            return stats
        metrics.BATCHES_PENDING.labels(self.source_db, self.target_schema, table.name).set(0)
        if durable is not None and config.cdc_strategy == "binlog" and table.name not in self._not_captured:
            metrics.complete(self.source_db, self.target_schema, table.name, durable)  # idle tables too
        if refs:
            stats.per_table[table.name] = len(refs)
        return stats

    def _load_table(
        self,
        warehouse: Warehouse,
        config: TableConfig,
        table: SourceTable,
        refs: list[BatchRef],
        sweep: ExtractState | None,
        stats: LoadStats,
    ) -> bool:
        """Apply a table's pending batches in bounded chunks; False when one had to be set aside."""
        chunk: list[tuple[BatchRef, Rows]] = []
        definition = table
        rows = size = 0
        top = -1  # the highest last_seq of the binlog batches in the chunk

        def apply_chunk() -> None:
            nonlocal chunk, rows, size, top
            if chunk:
                staged = self._apply_or_set_aside(warehouse, config, definition, chunk, sweep)
                settle(self.store, [ref.key for ref, _ in chunk])
                stats.rows += staged
                stats.rows_per_table[table.name] = stats.rows_per_table.get(table.name, 0) + staged
                stats.batches += len(chunk)
            chunk, rows, size, top = [], 0, 0, -1

        try:
            for ref in refs:
                found = self._rows(warehouse, table, ref)
                if found is None:  # a note whose batch was removed by hand: nothing to apply
                    log.warning("a pending batch object is gone; its note is removed", key=ref.key, table=table.name)
                    settle(self.store, [ref.key])
                    continue
                data, written_with = found
                # One definition per load (the target evolves between), and no two binlog batches
                # whose ranges overlap: a replay after a crash may cut the same changes into other
                # batches, and only separate loads let the watermark drop the copies (append mode).
                overlaps = ref.part is None and ref.first_seq <= top
                # Two snapshot runs at one position: the later run's rows must win, and within one
                # apply rows of equal sequence have no order, so each run applies on its own.
                rerun = ref.part is not None and any(
                    r.part is not None and r.first_seq == ref.first_seq and r.run != ref.run for r, _ in chunk
                )
                if not same_definition(written_with, definition) or overlaps or rerun:
                    apply_chunk()
                    definition = written_with  # the chunk's first: it carries the renames to the columns
                chunk.append((ref, data))
                rows += rows_in(data)
                size += data.nbytes if isinstance(data, pa.Table) else data.size
                if ref.part is None:
                    top = max(top, ref.last_seq)
                full = rows >= MAX_ROWS_PER_LOAD or size >= MAX_BYTES_PER_LOAD
                if full or (sweep is not None and ref.key == sweep.final_key):
                    apply_chunk()
            apply_chunk()
        except Unreadable as bad:
            self._set_aside(table, bad.ref, bad.error)
            return False  # nothing more of this table until a snapshot replaces what was lost
        return True

    def _rows(self, warehouse: Warehouse, table: SourceTable, ref: BatchRef) -> tuple[Rows, SourceTable] | None:
        """A batch's rows and the definition it was written with; None when the object is gone. A
        warehouse whose COPY reads the store gets what the batch's note says, the object unread,
        unless the note says too little (a batch indexed after an upgrade)."""
        if warehouse.copies_from_store:
            note = read_note(self.store, ref.key)
            if note is not None and note.rows is not None and note.longest is not None:  # says enough
                where = f"the pending note of {ref.key}"
                written = table_from_json(note.definition, where) if note.definition else None
                unread = Unread(note.rows, note.size, note.longest, note.newest, partial(self._read, ref))
                return unread, written or table
        decoded = self._decoded(ref)
        return (decoded, definition_of(decoded, ref.key) or table) if decoded is not None else None

    def _decoded(self, ref: BatchRef) -> pa.Table | None:
        """A batch object's rows; None when it is gone; Unreadable when it is not Parquet."""
        data = self.store.get(ref.key)
        if data is None:
            return None
        try:
            return parquet.decode(data, ref.key)
        except CorruptStateError as exc:
            raise Unreadable(ref, exc) from None

    def _read(self, ref: BatchRef) -> pa.Table:
        """An unread batch, read after all (a value to fit, or COPY refused the chunk)."""
        decoded = self._decoded(ref)
        if decoded is None:
            raise CorruptStateError(f"batch object {ref.key} is gone while it was being loaded")
        return decoded

    def _apply_or_set_aside(
        self,
        warehouse: Warehouse,
        config: TableConfig,
        table: SourceTable,
        chunk: list[tuple[BatchRef, Rows]],
        sweep: ExtractState | None,
    ) -> int:
        """Apply a chunk. When the warehouse refuses one of unread batches, each is read: an
        unreadable object is set aside as the load of a read one would have (Unreadable); if all
        read well, the warehouse's error stands."""
        try:
            return self._apply(warehouse, config, table, chunk, sweep)
        except WarehouseError as exc:
            if transient(exc) or not any(isinstance(data, Unread) for _, data in chunk):
                raise
            for _, data in chunk:
                if isinstance(data, Unread):
                    data.read()  # raises Unreadable for the first object that is not Parquet
            raise

    def _set_aside(self, table: SourceTable, ref: BatchRef, exc: CorruptStateError) -> None:
        """A batch object that cannot be read is never loaded as if good: it is moved aside (kept
        for inspection, docs/ARCHITECTURE.md, "Object layout"), and the table is quarantined with
        its loads held until a snapshot taken after the object's changes lifts it. The other
        tables go on."""
        aside = aside_key(ref.key)
        data = self.store.get(ref.key)
        if data is not None:
            self.store.put(aside, data)
            self.store.delete(ref.key)
        settle(self.store, [ref.key])
        metrics.ERRORS.labels(self.source_db, self.target_schema, table.name, "load").inc()
        reason = f"batch object {ref.key} is unreadable ({exc}); it was moved to {aside}"
        quarantine = Quarantine(table.name, reason, None, hold_loads_below=ref.last_seq)
        save_quarantine(self.store, self.source_db, self.target_schema, quarantine)

    def _apply(
        self,
        warehouse: Warehouse,
        config: TableConfig,
        table: SourceTable,
        chunk: list[tuple[BatchRef, Rows]],
        extract: ExtractState | None,
    ) -> int:
        """Apply one chunk; when it holds the extract's final part, sweep what the extract did not see."""
        sweep = None
        if extract is not None and any(ref.key == extract.final_key for ref, _ in chunk):
            sweep = Sweep(extract.first_seq, extract.started_at)
            log.info(
                "extract complete: removing (soft deletes: marking) the rows it did not see",
                table=table.name,
                kind=extract.kind,
            )
        spec = scd2_spec(config, table)
        labels = (self.source_db, self.target_schema, table.name)
        started = time.monotonic()
        try:
            # adds the columns this definition brings (and _s3rb_deleted_at, soft deletes turned on)
            warehouse.prepare(self.target_schema, table, spec, soft_delete=config.soft_delete)
            faultpoints.reached("load.begin")
            rows = warehouse.apply(
                self.target_schema,
                table,
                config.mode,
                chunk,
                sweep,
                spec,
                overflow_policy(config),
                fence=self.fence,
                soft_delete=config.soft_delete,
            )
        except S3rbError:
            metrics.ERRORS.labels(*labels, "load").inc()
            raise
        metrics.LOAD_SECONDS.labels(*labels).observe(time.monotonic() - started)
        metrics.LOADED_ROWS.labels(*labels).inc(rows)
        newest = [newest_change(data) for _, data in chunk if rows_in(data)]
        known = [ts for ts in newest if ts is not None]
        metrics.applied(*labels, max(known) if known else None)
        return rows


def load_fenced(
    settings: Settings,
    store: ObjectStore,
    source_db: str,
    target_schema: str,
    selected: list[tuple[TableConfig, SourceTable]],
    lease: Lease,
    warehouse: Warehouse | None,
) -> LoadStats:
    """Load what a one-off command wrote (a sync, a repair), fenced by the lease as a daemon's loads are."""
    own = warehouse is None
    wh = warehouse or open_warehouse(settings)
    try:
        fence = Fence(source_db, lease.generation)
        wh.claim(target_schema, fence, [t.name for _, t in selected])
        return Loader(store, wh, source_db, target_schema, selected, fence).load_all()
    finally:
        if own:
            wh.close()
