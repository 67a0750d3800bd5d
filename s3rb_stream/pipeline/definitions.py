"""The definitions capture decodes and writes rows under, followed through DDL.

The binlog reader asks :meth:`DefinitionTracker.resolve` which definition a table map's rows were
written under; capture hands it each DDL statement and each definition rows arrive under. It
decides whether the target can follow (else the table is quarantined), and when a definition
changes, the rows before go in objects of their own (docs/ARCHITECTURE.md, "Schema history").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from s3rb_stream.core.column_types import same_definition
from s3rb_stream.core.ddl import follow_problem, parse_ddl, renames_table
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.batch_writer import BatchWriter
from s3rb_stream.pipeline.shared import CaptureProgress
from s3rb_stream.sources.binlog import Ddl
from s3rb_stream.sources.row_decoder import fits_table
from s3rb_stream.sources.table_history import AlterHints, reconcile
from s3rb_stream.sources.table_map import TableMap

log = get_logger(__name__)


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


class DefinitionTracker:
    """The captured tables' definitions, and how each follows DDL.

    ``describe``: reads a table's definition from the source now, to follow an ALTER.
    ``adopt``: a table just created: its definition (and whether it keeps one change per
    transaction) when the tables file includes it, else None.
    ``fixed_keys``: tables whose key the tables file sets (not their primary key).
    ``progress``: whether capture has caught up with where the source was at the start, so that
    the definition ``describe`` reads is the one an ALTER just read made.
    ``resumed``: False on a first run, whose oldest rows may precede the definition read at start.
    """

    def __init__(
        self,
        *,
        tables: list[SourceTable],
        writer: BatchWriter,
        definitions: dict[str, SourceTable],
        resumed: bool,
        one_change_per_transaction: set[str],
        describe: Callable[[str], SourceTable | None] | None = None,
        adopt: Callable[[str], Adopted | None] | None = None,
        fixed_keys: set[str] | None = None,
        progress: CaptureProgress | None = None,
    ) -> None:
        self.writer = writer
        self.tables = definitions  # by name: the one the writer reads, changed only here
        self.catalog: dict[str, SourceTable] = {t.name: t for t in tables}  # as the server last described them
        self.alters: dict[str, AlterHints] = {}  # ALTERs read since a table's last rows
        self.key_positions: dict[str, list[int]] = {}
        self.overhead: dict[str, int] = {}
        self.resumed = resumed
        self.collapse = one_change_per_transaction
        self.describe = describe
        self.adopt = adopt
        self.fixed_keys = fixed_keys or set()
        self.progress = progress or CaptureProgress()
        self.seen: set[str] = set()  # tables whose rows this capture has read
        self.reopen = False  # the set of captured tables grew: the reader must be reopened
        for table in tables:
            self.set_definition(table)

    @property
    def quarantined(self) -> dict[str, str]:
        return self.writer.quarantined

    def set_definition(self, table: SourceTable) -> None:
        """Capture ``table`` with this definition from now on, and what derives from it."""
        self.tables[table.name] = table
        self.key_positions[table.name] = [table.position(k) for k in table.key_columns]
        self.overhead[table.name] = row_overhead(table)

    def resolve(self, tmap: TableMap, held: SourceTable) -> SourceTable:
        """The definition ``tmap``'s rows were written under (docs/ARCHITECTURE.md, "Schema history")."""
        hints = self.alters.get(held.name)
        if hints is None and fits_table(held, tmap):
            return held
        return reconcile(tmap, held, self.catalog.get(held.name), hints, held.name in self.fixed_keys)

    def rows_under(self, table: str, new: SourceTable, mid_transaction: bool) -> str | None:
        """Rows arrive under another definition than the last rows (an ALTER between them, or binlog
        written before the server's definition of now): go on with it, in new objects, if the target
        can follow; else why not. ``mid_transaction``: rows of the table came earlier in the same
        transaction, under the old definition."""
        old = self.tables[table]
        hints = self.alters.pop(table, None)
        first_sight = hints is None and table not in self.seen
        if same_definition(new, old):  # an ALTER that left the columns as they were (an index, a default)
            self.set_definition(new)
            return None
        if first_sight and not self.resumed:
            problem = None  # older rows than the definition read at the start: theirs is the one to load
        else:
            problem = follow_problem(hints.statement if hints else None, old, new, self._target(table))
        if problem is None and mid_transaction:
            problem = "its definition changed inside a transaction"
        if problem is not None and hints is not None:
            return f"ALTER TABLE at {hints.position}: {problem}"
        if problem is not None:
            last_commit = self.writer.buffers.last_commit
            return f"rows at {last_commit} were written under a definition capture cannot follow: {problem}"
        self._adopt_definition(new, hints)
        return None

    def _adopt_definition(self, new: SourceTable, hints: AlterHints | None) -> None:
        self.writer.flush_if_buffered(new.name)  # each object holds rows of one definition
        self.set_definition(new)
        if hints is not None:
            log.info("ALTER followed: new definition adopted", table=new.name, position=str(hints.position),
                     columns=list(new.column_names))  # fmt: skip
        else:
            log.info("rows follow the definition they were written under", table=new.name,
                     after=str(self.writer.buffers.last_commit), columns=list(new.column_names))  # fmt: skip

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
                self.writer.quarantine(table, f"ALTER TABLE at {hints.position}: {problem}", hints.position)
            elif not same_definition(new, self.tables[table]):
                self._adopt_definition(new, hints)

    def _target(self, table: str) -> str:
        """The target table a quarantine's advice names."""
        return f"{self.writer.target_schema}.{table}"

    def follow(self, item: Ddl) -> None:
        """Follow what can be followed (CREATE of an included table, TRUNCATE, ALTER); quarantine a
        table whose shape changed otherwise."""
        change = parse_ddl(item.statement, item.schema)
        if change is None:
            return
        if change.verb == "CREATE":
            self._adopt_created(change.tables)
            return
        source_db = self.writer.source_db
        for db, name in change.tables:
            if db != source_db or name not in self.tables or name in self.quarantined:
                continue
            if change.verb == "TRUNCATE":
                self.writer.truncate(name, item.position, item.ts)
            elif change.verb == "ALTER":
                self._follow_alter(name, item)
            else:
                self.writer.quarantine(
                    name,
                    f"{change.verb} TABLE at {item.position} changed its definition, which capture does not follow",
                    item.position,
                )

    def _adopt_created(self, tables: tuple[tuple[str, str], ...]) -> None:
        """A table created while streaming that the tables file includes (by pattern): capture it
        from its CREATE on. The reader filters by table, so it is reopened right after the CREATE."""
        for db, name in tables:
            if db != self.writer.source_db or name in self.tables or self.adopt is None:
                continue
            adopted = self.adopt(name)
            if adopted is None:
                continue
            self.set_definition(adopted.table)
            if adopted.one_change_per_transaction:
                self.collapse.add(name)
            self.reopen = True
            log.info("new table captured from its CREATE on", table=name)

    def _follow_alter(self, table: str, item: Ddl) -> None:
        """Note what the ALTER says that table maps do not (renames, the defaults of added columns);
        the next rows' table map then gives the new definition (:meth:`rows_under`).

        The server's definition is read again now: live, it is the ALTER's, and the ALTER is settled
        at once (:meth:`settle_alters`); when capture is behind, it may be a later one, whose columns
        are used only where the rows' layout fits them."""
        now = self.describe(table) if self.describe is not None else None
        gone = "the table was renamed" if renames_table(item.statement) else None
        if gone is None and self.describe is not None and now is None:
            gone = "the table is gone"
        if gone is not None:  # no rows will come under this name to follow it with
            self.writer.quarantine(table, f"ALTER TABLE at {item.position}: {gone}", item.position)
            return
        self.alters.setdefault(table, AlterHints(item.position)).note(item.statement)
        if now is not None:
            self.catalog[table] = now
        self.writer.flush_if_buffered(table)  # the rows before the ALTER go in their own object
        if self.progress.caught_up:
            self.settle_alters()
        else:
            log.info("ALTER read: the table's next rows follow it", table=table, position=str(item.position))
