"""What every warehouse offers the pipeline (the :class:`Warehouse` protocol) and the records it
takes: the fence, the sweep of an extract, the ledger's summary. The adapters import this; the
package's face (``targets/__init__.py``) picks an adapter."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeAlias

import pyarrow as pa

from s3rb_stream.core.object_keys import BatchRef
from s3rb_stream.core.overflow import Overflow
from s3rb_stream.core.scd2 import Scd2Spec
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.core.target_names import NameRules
from s3rb_stream.errors import FencedOut
from s3rb_stream.settings import Mode


@dataclass(frozen=True)
class Unread:
    """A batch the load did not read, as its pending note describes it: a warehouse whose COPY reads
    the objects from the store itself gets this, and reads the object (``read``) only when a value
    must be fitted to its limits (docs/ARCHITECTURE.md, "Finding new batches")."""

    rows: int
    size: int  # bytes of the object
    longest: Mapping[str, int]  # bytes of the longest value of each text or binary column
    newest: datetime | None  # the newest source commit time of its changes
    read: Callable[[], pa.Table] = field(compare=False)


Rows: TypeAlias = pa.Table | Unread  # a batch's rows as a load hands them to the warehouse


def rows_in(data: Rows) -> int:
    return data.num_rows if isinstance(data, pa.Table) else data.rows


def table_of(data: Rows) -> pa.Table:
    return data if isinstance(data, pa.Table) else data.read()


@dataclass(frozen=True)
class AppliedSummary:
    last_applied_at: datetime | None
    max_seq: int  # the table's load watermark: every change at or below it is in effect


LEDGER_KEYS_PER_QUERY = 500  # keys asked about in one ledger query (each a bound parameter)


@dataclass(frozen=True)
class LedgerEntry:
    """One applied batch as the ledger records it."""

    key: str
    first_seq: int
    last_seq: int
    rows: int


def folded(
    entries: Sequence[LedgerEntry], previous: tuple[int, int, int, datetime] | None, at: datetime
) -> tuple[int, int, int, datetime]:
    """The folded row that stands for ``entries`` and the ``previous`` folded row: lowest first
    sequence, highest last, rows summed; applied at the newest of the previous and ``at``."""
    first = min(e.first_seq for e in entries)
    last = max(e.last_seq for e in entries)
    rows = sum(e.rows for e in entries)
    if previous is not None:
        first, last, rows = min(first, previous[0]), max(last, previous[1]), rows + previous[2]
        at = max(at, previous[3])
    return first, last, rows, at


@dataclass(frozen=True)
class Fence:
    """Who may write: the lease generation of this instance for its source schema
    (docs/ARCHITECTURE.md, "Fencing"). A warehouse refuses a commit under a lower generation than
    the newest it has seen claimed."""

    source_db: str
    generation: int

    def refused(self, target_schema: str, newest: int | None) -> FencedOut:
        return FencedOut(
            f"{self.source_db} → {target_schema}: another instance took over (lease generation {newest}, ours"
            f" {self.generation}); this one stops writing, and its uncommitted load was rolled back",
            "run one instance per source schema; the others with --standby",
        )


@dataclass(frozen=True)
class Sweep:
    """The end of a whole-table extract: every row it saw carries ``below_seq`` or higher."""

    below_seq: int
    at: datetime  # when the extract read the table: when the rows it did not see ended (SCD2, soft deletes)


class Warehouse(Protocol):
    names: NameRules  # how this warehouse spells source names
    # Whether COPY reads the batch objects from the store itself (Redshift): the load then hands it
    # what the objects' notes say (Unread) instead of reading them.
    copies_from_store: bool

    def describe(self) -> str: ...

    def query(self, statement: str) -> list[tuple[object, ...]]:
        """Rows of a read-only statement (checks and tests)."""

    def table_sql(self, schema: str, table: str) -> str:
        """A target table's name in SQL, spelled and qualified as this warehouse needs it (DuckDB:
        with the file's catalog; see docs/ARCHITECTURE.md, "Names in the target")."""

    def drop_schema(self, schema: str) -> None:
        """Drop a schema and everything in it (the roundtrip check's scratch schema)."""

    def claim(self, target_schema: str, fence: Fence, tables: Sequence[str] = ()) -> None:
        """Raise the target's fence to ``fence.generation``, in its own transaction, right after
        the lease is taken, with a row for each of ``tables`` (the source tables it will load);
        :class:`FencedOut` if a newer generation already claimed it."""

    def idle(self) -> None:
        """Nothing to do until the next load: let go of what other processes may need (a DuckDB
        file's lock). The next call reconnects."""

    def prepare(
        self,
        target_schema: str,
        table: SourceTable,
        scd2: Scd2Spec | None = None,
        evolve: bool = True,
        soft_delete: bool = False,
    ) -> None:
        """Create the schema, the control table and the target table if missing; with ``evolve``,
        also give an existing table what ``table`` has that it lacks (columns added, renamed,
        widened, and ``_s3rb_deleted_at`` with ``soft_delete``). Without: a table that exists is
        left as it is."""

    def applied(self, target_schema: str, table: str) -> set[str]:
        """Object keys of every batch the ledger records for ``table`` (the one-time index of
        batches written before pending notes; a load pass asks :meth:`applied_among`)."""

    def applied_among(self, target_schema: str, table: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` the ledger records as applied to ``table``: what a pass reads is what
        it found waiting, however long the ledger's history."""

    def applied_before(self, target_schema: str, table: str, before: datetime, limit: int) -> list[LedgerEntry]:
        """The oldest batches applied to ``table`` before ``before`` (at most ``limit``), not yet folded."""

    def fold(self, target_schema: str, table: str, entries: Sequence[LedgerEntry], fence: Fence | None) -> None:
        """Replace the ledger rows of ``entries`` by the table's one folded row, in one transaction
        (under ``fence`` like a load): the ledger keeps its watermark and stays small."""

    def apply(
        self,
        target_schema: str,
        table: SourceTable,
        mode: Mode,
        batches: list[tuple[BatchRef, Rows]],
        sweep: Sweep | None = None,
        scd2: Scd2Spec | None = None,
        overflow: Overflow | None = None,
        fence: Fence | None = None,
        soft_delete: bool = False,
    ) -> int:
        """Apply the batches and record them, in one transaction. Returns rows staged.

        ``fence``: the transaction commits only while the target's fence still carries this
        generation (:class:`FencedOut` otherwise; nothing is applied).

        ``sweep``: these batches complete a whole-table extract; target rows it did not see are
        deleted (or, for SCD2, expired) in the same transaction. ``scd2``: for ``mode: scd2``.
        ``overflow``: what to do with values too long for their target column, where there is a limit.
        ``soft_delete``: a delete (or a sweep) marks the row with ``_s3rb_deleted_at`` instead of
        removing it; the table was prepared with it.
        """

    def load_summary(self, target_schema: str) -> dict[str, AppliedSummary]:
        """Per table: what the control table says has been applied."""

    def close(self) -> None: ...
