"""``s3rb-stream check --warehouse-roundtrip``: prove the configured store and warehouse on the
user's own cluster, in a scratch schema, before the first real load.

It writes the sample of core.roundtrip as Parquet batch objects to the configured store, loads
them with the same code a pipeline uses (COPY through the IAM role, MERGE, the batch ledger), reads
the rows back and compares them value by value, then drops the scratch schema and its objects.
Each check prints one line; the first failure stops the checks but never the cleanup.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa

from s3rb_stream.core import roundtrip as sample
from s3rb_stream.core.changes import Change
from s3rb_stream.core.object_keys import BatchRef, batch_key, join
from s3rb_stream.core.scd2 import make_spec
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import S3rbError
from s3rb_stream.settings import Settings
from s3rb_stream.store import open_store, parquet
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import Warehouse, open_warehouse

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

    def apply(self, table: SourceTable, changes: list[Change], scd2: bool = False) -> int:
        ref, data = self.put(table, changes)
        spec = make_spec(table, None, "valid_from", "valid_to", "is_current", "update") if scd2 else None
        self.warehouse.prepare(self.schema, table, spec)
        return self.warehouse.apply(self.schema, table, "scd2" if scd2 else "merge", [(ref, data)], scd2=spec)

    def name(self, name: str) -> str:
        return self.warehouse.names.name(name)

    def select(self, table: str, columns: list[str], order: str) -> list[tuple[object, ...]]:
        names = ", ".join(q(self.name(c)) for c in columns)
        return self.warehouse.query(
            f"SELECT {names} FROM {self.warehouse.table_sql(self.schema, table)} ORDER BY {order}"
        )

    def run(self) -> None:
        table, evolved = sample.table(), sample.evolved()
        with self.check("store"):
            self.store.check()
            self.ok("store", f"{self.store.describe()} takes objects (Parquet, {self.store.parquet_codec})")
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
            shown = f"{table.name}.createdAt"
            spelled = f"{self.name(table.name)}.{self.name('createdAt')}"
            self.ok("names", f"mixed-case {shown} is {spelled} in the warehouse, found again by its lookups")
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
            for key in self.store.list(join(self.store.prefix, SOURCE_DB, self.schema) + "/"):
                self.store.delete(key)  # manifests and fitted copies the loads wrote
            self.report.ok("cleanup", f"dropped scratch schema {self.schema} and its objects")
        except Exception as exc:
            self.report.fail("cleanup", f"{type(exc).__name__}: {exc}; drop schema {self.schema} by hand")
        self.echo(self.report.lines[-1])


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def warehouse_roundtrip(settings: Settings, echo: Callable[[str], None]) -> Report:
    """Run every check against the configured store and warehouse; the report says what passed."""
    report = Report()
    schema = f"s3rb_check_{secrets.token_hex(4)}"
    store = open_store(settings)
    try:
        warehouse = open_warehouse(settings)
    except S3rbError as exc:
        report.fail("connect", str(exc))
        echo(report.lines[-1])
        return report
    report.ok("connect", warehouse.describe())
    echo(report.lines[-1])
    trip = Roundtrip(store, warehouse, schema, report, echo)
    try:
        trip.run()
    except CheckFailed:
        pass
    finally:
        trip.clean_up()
        warehouse.close()
    return report
