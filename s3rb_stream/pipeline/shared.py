"""The objects the threads of one run share (docs/ARCHITECTURE.md, "Concurrency").

Capture's thread writes, the load thread reads. Each object guards itself, so that neither thread
reaches into the other's attributes, and what crosses between them is named here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from s3rb_stream.core.schema import SourceTable
from s3rb_stream.settings import TableConfig


class CaptureProgress:
    """How far capture is, as a load pass needs to know it. Capture's thread alone writes it; each
    field is one reference, read and replaced whole (atomic in CPython), so it needs no lock.

    - ``caught_up``: capture has reached where the source was at the run's start (it stays so).
      Before that, a table with nothing to load is not created from its configured definition: the
      batches of older binlog create and evolve it in order (docs/ARCHITECTURE.md, "Schema history").
    - ``durable_ts``: the newest source time up to which every change read is in a written object.
      A table a pass leaves with nothing pending is complete up to it (freshness).

    A one-off command that loads without capturing uses the default: caught up, no time known.
    """

    __slots__ = ("caught_up", "durable_ts")

    def __init__(self, *, caught_up: bool = True, durable_ts: datetime | None = None) -> None:
        self.caught_up = caught_up
        self.durable_ts = durable_ts


TableEntry = tuple[TableConfig, SourceTable]


class TableRegistry:
    """The tables a run loads. Capture adds a table created while streaming (the load thread
    meanwhile iterates over a copy): no list is shared between the threads."""

    def __init__(self, tables: Iterable[TableEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._tables = list(tables)

    def add(self, config: TableConfig, table: SourceTable) -> None:
        with self._lock:
            self._tables.append((config, table))

    def entries(self) -> list[TableEntry]:
        """The tables as they are now: a copy, safe to iterate while another thread adds one."""
        with self._lock:
            return list(self._tables)

    def __iter__(self) -> Iterator[TableEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._tables)
