"""``s3rb-stream check``: preflight a pipeline without writing anything, one ``ok`` or ``FAIL`` line
per check: the tables file, the source and its grants, the binlog settings, each table, the names
in the target, the store, the warehouse, and where capture would start.

A check that fails does not hide the others: each runs when what it needs is there. The command
exits 1 when it printed a ``FAIL`` (docs/commands.md, "Exit codes").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from s3rb_stream import speedups
from s3rb_stream.core.object_keys import write_check_key
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import S3rbError
from s3rb_stream.pipeline.load import check_target_names
from s3rb_stream.pipeline.runner import default_server_id, prepare, refuse_unloadable
from s3rb_stream.settings import Settings, TableConfig, TablesFile, load_tables_file
from s3rb_stream.sources import mysql_meta
from s3rb_stream.state.checkpoint import load_checkpoint
from s3rb_stream.state.quarantines import active_quarantines
from s3rb_stream.store import open_store
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import open_warehouse

T = TypeVar("T")


@dataclass
class CheckReport:
    """The lines printed so far, and whether any check failed."""

    echo: Callable[[str], None]
    failed: list[str] = field(default_factory=list)
    warned: set[str] = field(default_factory=set)

    def ok(self, what: str) -> None:
        self.echo(f"ok    {what}")

    def fail(self, what: str, problem: str) -> None:
        self.failed.append(what)
        self.echo(f"FAIL  {what}: {problem}")

    def skip(self, what: str, why: str) -> None:
        self.echo(f"skip  {what}: {why}")

    def warn(self, text: str) -> None:
        if text not in self.warned:  # preflight repeats what the checks before it said
            self.warned.add(text)
            self.echo(f"warn  {text}")

    def passes(self, what: str, step: Callable[[], object]) -> bool:
        """Run one check whose success is not raising; False after a ``FAIL`` line."""
        try:
            step()
        except S3rbError as exc:
            self.fail(what, str(exc))
            return False
        return True

    def attempt(self, what: str, step: Callable[[], T]) -> T | None:
        """Run one check: its result, or None after a ``FAIL`` line naming what is wrong."""
        try:
            return step()
        except S3rbError as exc:
            self.fail(what, str(exc))
            return None


def check_pipeline(settings: Settings, source_db: str, target_schema: str, echo: Callable[[str], None]) -> CheckReport:
    """Every check of one pipeline, printed through ``echo`` as it runs; nothing is written
    (the store's write probe aside)."""
    report = CheckReport(echo)
    tables_file = report.attempt("tables file", lambda: load_tables_file(settings.tables_file))
    entries = tables_file.for_source(source_db) if tables_file is not None else []
    if tables_file is not None and not entries:
        report.fail(
            "tables file",
            f"{settings.tables_file} lists no table of source database {source_db!r}"
            f' (add an entry like name: "{source_db}.my_table")',
        )
    elif tables_file is not None:
        report.ok(f"tables file: {settings.tables_file}, {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
    store = report.attempt("store", lambda: open_store(settings))  # opening writes nothing
    gone_ok = _captured_or_quarantined(store, source_db, target_schema) if store is not None else set()
    tables = (
        _check_source(report, settings, source_db, target_schema, tables_file, entries, gone_ok) if entries else None
    )
    if tables and report.passes("target names", lambda: check_target_names(settings, target_schema, tables)):
        report.ok(f"target names: {len(tables)} table(s) fit {target_schema} in the warehouse")
    if report.failed:  # the probes below write (a store object, a DuckDB file): not while anything is wrong
        report.skip("store and warehouse", "probed once the checks above pass (the probes write)")
        return _end(report)
    if store is not None and report.passes("store", store.check):
        report.ok(f"store: {settings.store().describe()} can be written and read")
        _check_removal(report, settings, store)
    warehouse = report.attempt("warehouse", lambda: open_warehouse(settings))
    if warehouse is not None:
        warehouse.close()
        report.ok(f"warehouse: {settings.warehouse().describe()} answers")
    if not report.failed and tables_file is not None:
        prepared = report.attempt("capture", lambda: prepare(settings, source_db, target_schema, "earliest"))
        if prepared is not None:
            for warning in prepared.warnings:
                report.warn(warning)
            start = f"starts at {prepared.start}" if prepared.start is not None else "no table on the binlog"
            resumed = ", from its checkpoint" if prepared.resumed and prepared.start is not None else ""
            report.ok(f"capture: {start}{resumed}")
    return _end(report)


def _check_removal(report: CheckReport, settings: Settings, store: ObjectStore) -> None:
    """Cleanup removes applied batches (unless kept for good): the store must let it delete. A
    refusal is a warning: loads go on, only the objects stay."""
    if settings.retention() is None:
        report.ok("store: applied batches are kept for good (S3RB_RETAIN_APPLIED_HOURS=forever)")
        return
    try:
        store.delete_many([write_check_key(store.prefix)])
    except S3rbError as exc:
        report.warn(
            f"cleanup cannot remove applied batches ({exc}); they stay in the store: allow s3:DeleteObject,"
            " or set S3RB_RETAIN_APPLIED_HOURS=forever"
        )
        return
    report.ok(f"store: applied batches can be removed, {settings.retain_applied_hours:g} hours after their load")


def _end(report: CheckReport) -> CheckReport:
    if speedups.compiled is None:
        report.warn(
            f"the compiled speed-ups do not run ({speedups.missing}): capture runs their pure-Python references,"
            " about half as fast; reinstall the package where a C compiler is"
        )
    return report


def _captured_or_quarantined(store: ObjectStore, source_db: str, target_schema: str) -> set[str]:
    """Tables that may be gone from the source without a FAIL: capture quarantines them, and the
    others go on (preflight then warns)."""
    try:
        checkpoint = load_checkpoint(store, source_db, target_schema)
        quarantined = active_quarantines(store, source_db, target_schema)
    except S3rbError:
        return set()  # the store's own check says what is wrong with it
    captured = set(checkpoint.tables or ()) if checkpoint is not None else set()
    return captured | set(quarantined)


def _check_source(
    report: CheckReport,
    settings: Settings,
    source_db: str,
    target_schema: str,
    tables_file: TablesFile | None,
    entries: list[TableConfig],
    gone_ok: set[str],
) -> list[tuple[TableConfig, SourceTable]] | None:
    """The source, its grants and binlog settings, and each table the tables file names or matches."""
    assert tables_file is not None
    mysql = report.attempt("source", settings.mysql)
    conn = report.attempt("source", lambda: mysql_meta.connect(mysql)) if mysql is not None else None
    if mysql is None or conn is None:
        return None
    try:
        report.ok(f"source: {mysql.describe()} answers ({conn.get_server_info()})")
        binlog = any(e.cdc_strategy == "binlog" for e in entries)
        named = [e.table_pattern for e in entries if not e.is_pattern]
        if not report.passes("grants", lambda: mysql_meta.check_access(conn, mysql, source_db, named, binlog)):
            report.skip("binlog settings and tables", "read once the grants above pass")
            return None
        what = "REPLICATION SLAVE, REPLICATION CLIENT and SELECT" if binlog else "SELECT"
        report.ok(f"grants: {what} on {source_db}")
        if binlog:
            _check_binlog(report, settings, conn, mysql, source_db, target_schema)
        return _check_tables(report, conn, source_db, tables_file, entries, gone_ok)
    finally:
        conn.close()


def _check_binlog(
    report: CheckReport, settings: Settings, conn: Any, mysql: Any, source_db: str, target_schema: str
) -> None:
    variables = report.attempt("binlog settings", lambda: mysql_meta.check_binlog(conn, mysql))
    if variables is None:
        return
    found = report.attempt(
        "binlog retention",
        lambda: mysql_meta.check_retention(conn, mysql, variables, settings.min_binlog_retention_hours),
    )
    server_id = settings.server_id or default_server_id(source_db, target_schema)
    note = report.attempt("server id", lambda: mysql_meta.check_server_id(conn, variables, server_id))
    report.ok(
        f"binlog settings: binlog_format={variables.get('binlog_format', '?')},"
        f" binlog_row_image={variables.get('binlog_row_image', '?')}"
    )
    if found is not None:
        retention, notes = found
        for text in notes:
            report.warn(text)
        report.ok(f"binlog retention: the source {retention.describe()}")
    if note:
        report.warn(note)


def _check_tables(
    report: CheckReport,
    conn: Any,
    source_db: str,
    tables_file: TablesFile,
    entries: list[TableConfig],
    gone_ok: set[str],
) -> list[tuple[TableConfig, SourceTable]]:
    """One line per table, and one per tables-file entry that matches none."""
    listing = report.attempt("tables", lambda: mysql_meta.list_schema(conn, source_db))
    if listing is None:
        return []
    existing = listing[0]
    if not existing:
        report.fail("tables", f"source database {source_db!r} does not exist or has no tables this user can see")
        return []
    resolved: list[tuple[TableConfig, SourceTable]] = []
    for entry in entries:
        matched = [name for name in existing if tables_file.resolve(source_db, name) is entry]
        if not matched and not entry.is_pattern and entry.table_pattern in gone_ok:
            continue  # gone while captured: quarantined, the rest goes on (the capture check warns)
        if not matched:
            problem = (
                f"matches no table of {source_db}" if entry.is_pattern else f"there is no table {entry.table_pattern}"
            )
            report.fail(f"table {entry.name}", f"{problem} (tables there: {', '.join(existing[:20])})")
            continue
        for name in matched:
            table = report.attempt(f"table {source_db}.{name}", partial(_usable, entry, listing, source_db, name))
            if table is None:
                continue
            resolved.append((entry, table))
            key = ", ".join(table.key_columns) or "-"
            deletes = " deletes=soft" if entry.soft_delete else ""
            report.ok(f"table {source_db}.{name:24} {entry.cdc_strategy:9} mode={entry.mode:7} key=({key}){deletes}")
    return resolved


def _usable(entry: TableConfig, listing: mysql_meta.Listing, source_db: str, name: str) -> SourceTable:
    """The table as captured, having checked everything a run would refuse it for."""
    table = mysql_meta.configured_table(entry, mysql_meta.listed_table(listing, source_db, name))
    refuse_unloadable(entry, table)
    return table
