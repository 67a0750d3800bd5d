"""The roundtrip check's lines for what the emulator may get wrong and only the user's own cluster
settles (docs/ARCHITECTURE.md, "The roundtrip check"): its version and isolation level, names that
object keys percent-encode, a manifest of several objects, the fence, the DDL Redshift restricts,
values at the VARCHAR and VARBYTE limits, keys that differ by trailing blanks, and soft deletes. The tables and
the rows they must end with are in ``core.roundtrip_edges``; each line can fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from s3rb_stream.commands.roundtrip_checks import Roundtrip
from s3rb_stream.core import roundtrip_edges as edge
from s3rb_stream.core.object_keys import segment
from s3rb_stream.core.overflow import Overflow
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import FencedOut
from s3rb_stream.sql import redshift as redshift_sql
from s3rb_stream.sql.identifiers import quote_ansi as _q
from s3rb_stream.targets import Fence, Sweep

SEQ = 5_000  # above the sample's sequences: every table here is its own
ISOLATION = "SELECT TRIM(isolation_level) FROM stv_db_isolation_level WHERE TRIM(db_name) = current_database()"


class Edges:
    def __init__(self, trip: Roundtrip) -> None:
        self.trip = trip

    def read(self, table: SourceTable, order: str = "id") -> list[tuple[object, ...]]:
        return self.trip.select(table.name, list(table.column_names), _q(self.trip.name(order)))

    def compare(self, check: str, table: SourceTable, want: Sequence[tuple[Any, ...]], order: str = "id") -> None:
        problems = edge.row_differences(self.read(table, order), want, table.columns)
        if problems:
            self.trip.fail(check, f"{len(problems)} value(s) differ; first: " + "; ".join(problems[:2]))

    def cluster(self) -> None:
        """The version and isolation level, first: what the other lines ran against."""
        trip = self.trip
        with trip.check("cluster"):
            version = str(trip.warehouse.query("SELECT version()")[0][0])
            if not trip.redshift:
                trip.ok("cluster", f"{version}; snapshot isolation (DuckDB's only level)")
                return
            try:
                level = str(trip.warehouse.query(ISOLATION)[0][0]).strip()
            except Exception as exc:  # a user who may not read STV views: say so, the rest still runs
                level = f"not readable here ({type(exc).__name__})"
            problem = edge.version_problem(version)
            if problem:
                trip.fail("cluster", f"{problem}; isolation level {level}")
            trip.ok("cluster", f"Redshift {edge.cluster_version(version)}, isolation level {level}")

    def encoded_names(self) -> None:
        """Object keys percent-encode a name with non-ASCII letters, a space or ``%``: COPY must read
        the keys as they are written in the manifest."""
        trip, table = self.trip, edge.ENCODED
        with trip.check("key encoding"):
            trip.apply(table, edge.changes(SEQ, *edge.ENCODED_ROWS))
            self.compare("key encoding", table, edge.ENCODED_ROWS)
            if trip.missing_columns(table):
                trip.fail("key encoding", f"the lookups by name found no columns of {table.name!r}")
            trip.ok("key encoding", f"table {table.name!r}, objects under {segment(table.name)}/, COPY'd and found")

    def manifest(self) -> None:
        trip, table = self.trip, edge.PARTS
        with trip.check("manifest"):
            batches = edge.parts_batches(SEQ)
            trip.apply(table, *batches)
            self.compare("manifest", table, edge.PARTS_ROWS)
            trip.ok("manifest", f"one COPY of a manifest of {len(batches)} objects, the newest change of each key kept")

    def fence(self) -> None:
        """A claim, a fenced load, a newer claim; then a load under the old generation must be
        refused and leave nothing (docs/ARCHITECTURE.md, "Fencing")."""
        trip, table = self.trip, edge.FENCED
        first, stale, newer = edge.fenced_batches(SEQ)
        old, new = Fence(edge.DB, 1), Fence(edge.DB, 2)
        with trip.check("fence"):
            trip.warehouse.claim(trip.schema, old, [table.name])
            trip.apply(table, first, fence=old)
            trip.warehouse.claim(trip.schema, new, [table.name])
            try:
                trip.apply(table, stale, fence=old)
            except FencedOut:
                pass
            else:
                trip.fail("fence", "a load under lease generation 1 committed after generation 2 claimed the target")
            trip.apply(table, newer, fence=new)
            self.compare("fence", table, edge.FENCED_ROWS)
            trip.ok("fence", "claimed, loaded; after a newer claim, a load under the old generation was refused")

    def evolve(self) -> None:
        """A VARCHAR widened (outside a transaction), a column renamed, one added with a default
        (backfilled), one that has a default rebuilt wider (Redshift refuses ALTER COLUMN TYPE)."""
        trip = self.trip
        before, after = edge.EVOLVE_BEFORE, edge.EVOLVE_AFTER
        with trip.check("evolve"):
            trip.apply(before, edge.changes(SEQ, edge.EVOLVE_FIRST))
            target = f"{_q(trip.name(trip.schema))}.{_q(trip.name(before.name))}"
            # as a release before the rule against defaults added it
            trip.warehouse.query(
                f"ALTER TABLE {target} ADD COLUMN {_q(edge.LEGACY)} {edge.LEGACY_TYPE} DEFAULT '{edge.LEGACY_DEFAULT}'"
            )
            trip.apply(after, edge.changes(SEQ + 10, edge.EVOLVE_SECOND))
            self.compare("evolve", after, edge.EVOLVE_ROWS)
            trip.ok(
                "evolve", "a VARCHAR widened, a column renamed, one added with a default, one with a default rebuilt"
            )

    def limits(self) -> None:
        """Values at and one byte over the VARCHAR and VARBYTE limits, through the fitted copy."""
        trip, table = self.trip, edge.LIMITS
        limits = redshift_sql.byte_limits(table) if trip.redshift else {}
        with trip.check("limits"):
            trip.apply(table, edge.changes(SEQ, *edge.LIMITS_WRITTEN), overflow=Overflow(default="truncate"))
            self.compare("limits", table, edge.limits_expected(limits))
            if limits:
                shown = f"VARCHAR {edge.VARCHAR_LIMIT} and VARBYTE {edge.VARBYTE_LIMIT} bytes"
                trip.ok("limits", f"values at {shown} loaded whole, one byte over cut to fit (overflow: truncate)")
            else:
                trip.ok("limits", "values of 64 KB and 1 MB loaded whole (no limit here)")

    def blanks(self) -> None:
        """Keys 'a' and 'a ' stay two rows, and an update of one leaves the other: Redshift's
        comparison ignores trailing blanks (docs/ARCHITECTURE.md, "Redshift")."""
        trip, table = self.trip, edge.BLANKS
        first, update = edge.blanks_batches(SEQ)
        with trip.check("blanks"):
            trip.apply(table, first)
            trip.apply(table, update)
            self.compare("blanks", table, edge.BLANKS_ROWS, order="n")
            trip.ok("blanks", "keys 'a' and 'a ' are two rows, and an update of one leaves the other")

    def soft_deletes(self) -> None:
        """A delete kept as a marked row (MERGE writes it), then an extract's sweep marking a row it
        did not see (an UPDATE); a row marked earlier keeps its time (docs/ARCHITECTURE.md, "Deletes")."""
        trip, table = self.trip, edge.SOFT
        inserts, delete, extract, sweep = edge.soft_batches(SEQ)
        with trip.check("soft deletes"):
            trip.apply(table, inserts, soft_delete=True)
            trip.apply(table, delete, soft_delete=True)
            trip.apply(table, extract, soft_delete=True, sweep=Sweep(*sweep))
            got = trip.select(table.name, ["id", "_s3rb_op", "_s3rb_deleted_at"], _q(trip.name("id")))
            problem = edge.soft_problem(got)
            if problem:
                trip.fail("soft deletes", problem)
            trip.ok("soft deletes", "a delete kept as a marked row, a row an extract missed marked at its read time")
