"""The round-trip check's scratch schema and its checks of the sample of every type (loaded,
merged again, replayed, read back, found by name, an SCD2 history of JSON): :class:`Roundtrip`.
The edge cases only a real cluster settles are in ``roundtrip_edges``; ``roundtrip`` runs them all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa

from s3rb_stream.core import roundtrip as sample
from s3rb_stream.core.changes import Change
from s3rb_stream.core.object_keys import BatchRef, batch_key, pipeline_prefix
from s3rb_stream.core.overflow import Overflow
from s3rb_stream.core.scd2 import make_spec
from s3rb_stream.core.schema import META_COLUMNS, SourceTable
from s3rb_stream.errors import S3rbError
from s3rb_stream.settings import Mode
from s3rb_stream.sql.identifiers import literal
from s3rb_stream.store import parquet
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import Fence, Sweep, Warehouse

SOURCE_DB = "s3rb_check"
FIRST_SEQ = 1_000


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failed: bool = False

    def ok(self, check: str, detail: str) -> None:
        self.lines.append(f"ok    {check:<14} {detail}")

    def fail(self, check: str, detail: str) -> None:
        self.failed = True
        self.lines.append(f"FAIL  {check:<14} {detail}")


class CheckFailed(Exception):
    """One check's failure: its line is already in the report."""


@dataclass
class Roundtrip:
    store: ObjectStore
    warehouse: Warehouse
    schema: str
    report: Report
    echo: Callable[[str], None]
    written: list[str] = field(default_factory=list)

    @contextmanager
    def check(self, name: str) -> Iterator[None]:
        try:
            yield
        except CheckFailed:
            raise
        except S3rbError as exc:
            self.fail(name, str(exc))
        except Exception as exc:  # the user's warehouse said something we did not foresee: show it
            self.fail(name, f"{type(exc).__name__}: {exc}")

    def ok(self, name: str, detail: str) -> None:
        self.report.ok(name, detail)
        self.echo(self.report.lines[-1])

    def fail(self, name: str, detail: str) -> None:
        self.report.fail(name, detail)
        self.echo(self.report.lines[-1])
        raise CheckFailed(name)

    def put(self, table: SourceTable, changes: list[Change], replay: bool = False) -> tuple[BatchRef, pa.Table]:
        """One batch object, as capture writes it; ``replay``: the same changes under another name,
        as a run that crashed and replayed its range would write them."""
        first, last = changes[0].seq, changes[-1].seq + (1 if replay else 0)
        key = batch_key(self.store.prefix, SOURCE_DB, self.schema, table.name, first, last, changes[0].source_ts)
        data = parquet.changes_to_table(table, changes)
        self.store.put(key, parquet.encode(data, self.store.parquet_codec))
        self.written.append(key)
        return BatchRef(first, last, key, table.name), data

    def apply(
        self,
        table: SourceTable,
        *batches: list[Change],
        scd2: bool = False,
        fence: Fence | None = None,
        overflow: Overflow | None = None,
        soft_delete: bool = False,
        sweep: Sweep | None = None,
    ) -> int:
        """The batches as objects, loaded in one COPY (one manifest lists them all)."""
        written = [self.put(table, changes) for changes in batches]
        spec = make_spec(table, None, "valid_from", "valid_to", "is_current", "update") if scd2 else None
        self.warehouse.prepare(self.schema, table, spec, soft_delete=soft_delete)
        mode: Mode = "scd2" if scd2 else "merge"
        return self.warehouse.apply(
            self.schema,
            table,
            mode,
            written,
            sweep,
            scd2=spec,
            fence=fence,
            overflow=overflow,
            soft_delete=soft_delete,
        )

    def name(self, name: str) -> str:
        return self.warehouse.names.name(name)

    def select(self, table: str, columns: list[str], order: str) -> list[tuple[object, ...]]:
        names = ", ".join(q(self.name(c)) for c in columns)
        return self.warehouse.query(
            f"SELECT {names} FROM {self.warehouse.table_sql(self.schema, table)} ORDER BY {order}"
        )

    @property
    def redshift(self) -> bool:
        return self.warehouse.names.warehouse == "Redshift"

    def store_takes_objects(self) -> None:
        with self.check("store"):
            self.store.check()
            self.ok("store", f"{self.store.describe()} takes objects (Parquet, {self.store.parquet_codec})")

    def loads(self) -> None:
        """The sample of every type: loaded, merged again, replayed, read back, looked up by name."""
        table, evolved = sample.table(), sample.evolved()
        with self.check("copy+merge"):
            rows = self.apply(table, sample.first_batch(FIRST_SEQ))
            where = f"{self.schema}.{table.name}"
            self.ok("copy+merge", f"{rows} rows of every type loaded into {where} (COPY, MERGE, ledger)")
        with self.check("merge again"):
            rows = self.apply(evolved, sample.second_batch(FIRST_SEQ + 10))
            self.ok("merge again", f"an update, a delete and an insert ({rows} changes), and a column added")
        with self.check("replay"):
            ref, data = self.put(table, sample.first_batch(FIRST_SEQ), replay=True)
            self.warehouse.apply(self.schema, table, "merge", [(ref, data)])
            self.ok("replay", "an older batch applied again changes nothing")
        columns = [c.name for c in evolved.columns]
        with self.check("values"):
            got = self.select(table.name, columns, q(self.name("id")))
            problems = sample.differences(got, evolved.columns)
            if problems:
                self.fail("values", f"{len(problems)} value(s) differ; first: " + "; ".join(problems[:3]))
            self.ok("values", f"{len(got)} rows × {len(columns)} columns read back equal, value by value")
        with self.check("names"):
            missing = self.missing_columns(evolved)
            if missing:
                self.fail("names", f"the lookups by name found no column {', '.join(missing)} of {self.schema}")
            shown = f"{table.name}.createdAt"
            spelled = f"{self.name(table.name)}.{self.name('createdAt')}"
            self.ok("names", f"mixed-case {shown} is {spelled} in the warehouse, found again by its lookups")

    def missing_columns(self, table: SourceTable) -> list[str]:
        """Columns of ``table`` the warehouse's catalog does not show under the names the loads
        look them up by (information_schema, as preparing a table reads it)."""
        found = self.warehouse.query(
            "SELECT column_name FROM information_schema.columns"
            f" WHERE table_schema = {literal(self.name(self.schema))} AND table_name = {literal(self.name(table.name))}"
        )
        names = {str(r[0]) for r in found}
        return [self.name(c) for c in [*table.column_names, *META_COLUMNS] if self.name(c) not in names]

    def history(self) -> None:
        with self.check("json + scd2"):
            history = sample.history()
            for batch in sample.history_batches(FIRST_SEQ + 100):
                self.apply(history, batch, scd2=True)
            versions = self.select(history.name, ["id", "profile", "is_current"], q("_s3rb_seq"))
            profiles = [sample.normalise(v[1], history.columns[2]) for v in versions]
            if profiles != [{"since": 2020}, {"since": 2021}] or [bool(v[2]) for v in versions] != [False, True]:
                self.fail("json + scd2", f"expected two versions of the JSON profile, got {versions}")
            self.ok("json + scd2", "a JSON column, and an SCD2 history of it: 2 versions")

    def clean_up(self) -> None:
        try:
            self.warehouse.drop_schema(self.schema)
            for key in self.written:
                self.store.delete(key)
            for key in self.store.list(pipeline_prefix(self.store.prefix, SOURCE_DB, self.schema) + "/"):
                self.store.delete(key)  # manifests and fitted copies the loads wrote
            self.report.ok("cleanup", f"dropped scratch schema {self.schema} and its objects")
        except Exception as exc:
            self.report.fail("cleanup", f"{type(exc).__name__}: {exc}; drop schema {self.schema} by hand")
        self.echo(self.report.lines[-1])


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
