"""What capture writes to the store: batch objects, TRUNCATE extracts, quarantines and the checkpoint.

The checkpoint is saved only after the objects holding every change before it are written
(invariant 3), and only at transaction boundaries the buffers allow: never past a prepared XA
transaction whose outcome is still ahead (docs/ARCHITECTURE.md, "XA transactions").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

from s3rb_stream import faultpoints, metrics
from s3rb_stream.core.batching import BatchBuffers
from s3rb_stream.core.changes import Change
from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.quarantine import Quarantine
from s3rb_stream.core.query_state import ExtractState
from s3rb_stream.core.schema import SourceTable, table_to_json
from s3rb_stream.log import get_logger
from s3rb_stream.state.checkpoint import save_checkpoint
from s3rb_stream.state.extracts import save_extract
from s3rb_stream.state.quarantines import save_quarantine
from s3rb_stream.store import parquet
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.store.batches import put_batch

log = get_logger(__name__)

CHECKPOINT_EVERY_SECONDS = 5.0


class BatchWriter:
    """Writes the buffered changes of capture as objects, and the checkpoint they allow.

    ``definitions``: the captured tables' definitions now, by name (the :class:`DefinitionTracker`
    keeps them; read here, never changed). ``on_written``: told after each batch object (the
    loader's cue). ``resumed`` is False on a first run: the start position is then saved even if idle.
    ``skip_below``: per table, the sequence it is already complete to, carried in the checkpoint
    while reading is still below it.
    """

    def __init__(
        self,
        *,
        store: ObjectStore,
        source_db: str,
        target_schema: str,
        buffers: BatchBuffers,
        definitions: Mapping[str, SourceTable],
        resumed: bool,
        skip_below: Mapping[str, int],
        on_written: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.source_db = source_db
        self.target_schema = target_schema
        self.buffers = buffers
        self.definitions = definitions
        self.skip_below = skip_below
        self.on_written = on_written
        self.saved_position: BinlogPosition | None = buffers.last_commit if resumed else None
        self.last_saved_at = time.monotonic()
        self.last_event_ts: datetime | None = None  # the newest commit time of captured changes
        self.batches_written = 0
        self.quarantined: dict[str, str] = {}  # tables no longer captured, and why

    def flush(self, tables: list[str]) -> None:
        """Write the named buffers as batch objects, then save the checkpoint they allow."""
        for name in tables:
            self.write(name, self.buffers.peek(name))
            self.buffers.drop([name])
        self.save_checkpoint(force=bool(tables))

    def flush_if_buffered(self, table: str) -> None:
        """Write the table's buffered changes before what comes next goes in an object of its own."""
        if table in self.buffers.tables():
            self.flush([table])

    def flush_all(self) -> None:
        self.flush(self.buffers.tables())
        self.save_checkpoint(force=True)

    def write(self, name: str, changes: list[Change]) -> None:
        """One batch object of ``changes`` (in order, one definition) of table ``name``."""
        first = changes[0]
        key = batch_key(
            self.store.prefix, self.source_db, self.target_schema, name, first.seq, changes[-1].seq, first.source_ts
        )
        put_batch(self.store, key, parquet.changes_to_table(self.definitions[name], changes))
        self.batches_written += 1
        self.on_written()
        metrics.BATCHES_WRITTEN.labels(self.source_db, self.target_schema, name).inc()
        log.debug("batch written", key=key, rows=len(changes))

    def truncate(self, table: str, position: BinlogPosition, ts: datetime | None) -> None:
        """A TRUNCATE is an empty whole-table extract at its position and source time: loading it
        removes every row with an older sequence (SCD2: expires every version; soft deletes: marks
        every live row deleted at that time)."""
        self.flush_if_buffered(table)  # the changes before the TRUNCATE go in their own object first
        seq = position.seq
        read_at = ts or self.last_event_ts or now_utc()
        key = batch_key(self.store.prefix, self.source_db, self.target_schema, table, seq, seq, read_at, 0)
        empty = parquet.changes_to_table(self.definitions[table], [])
        put_batch(self.store, key, empty)
        state = ExtractState("truncate", "complete", seq, seq, read_at, position, parts=1, final_key=key)
        save_extract(self.store, self.source_db, self.target_schema, table, state)
        log.info(
            "TRUNCATE followed: the table's rows are removed at the next load", table=table, position=str(position)
        )

    def quarantine(self, table: str, reason: str, position: BinlogPosition) -> None:
        """Stop capturing one table, durably, while the others go on."""
        self.quarantined[table] = reason
        save_quarantine(self.store, self.source_db, self.target_schema, Quarantine(table, reason, position))

    def save_checkpoint(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last_saved_at < CHECKPOINT_EVERY_SECONDS:
            return  # asked at every transaction: the cheap test first
        position = self.buffers.checkpoint_position()
        if position == self.saved_position:
            return
        captured = {name: t for name, t in self.definitions.items() if name not in self.quarantined}
        checkpoint = Checkpoint(
            position,
            self.source_db,
            self.target_schema,
            now_utc(),
            self.last_event_ts,
            tuple(sorted(captured)),
            {name: table_to_json(t) for name, t in captured.items()},
            {name: seq for name, seq in self.skip_below.items() if seq > position.seq and name in self.definitions},
        )
        faultpoints.reached("checkpoint.write")
        save_checkpoint(self.store, checkpoint)
        self.saved_position = position
        self.last_saved_at = time.monotonic()
