"""DuckDB as warehouse: the embedded default. Batches arrive as Arrow tables (read by our store),
so no DuckDB extension is needed for S3."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from s3rb_stream import faultpoints
from s3rb_stream.core.object_keys import BatchRef
from s3rb_stream.core.overflow import Overflow
from s3rb_stream.core.scd2 import Scd2Spec
from s3rb_stream.core.schema import DELETED_AT, SourceTable, table_to_json
from s3rb_stream.core.target_names import duckdb_rules
from s3rb_stream.errors import FencedOut, WarehouseError, WarehouseUnavailable
from s3rb_stream.log import get_logger
from s3rb_stream.settings import Mode
from s3rb_stream.sql import duckdb as sql
from s3rb_stream.sql import scd2 as scd2_sql
from s3rb_stream.sql.common import Deletes
from s3rb_stream.sql.identifiers import quote_ansi
from s3rb_stream.targets.base import (
    LEDGER_KEYS_PER_QUERY,
    AppliedSummary,
    Fence,
    LedgerEntry,
    Rows,
    Sweep,
    folded,
    rows_in,
    table_of,
)

log = get_logger(__name__)

STAGING = "s3rb_staging"


def open_error(path: str, message: str) -> WarehouseError:
    """Why a DuckDB file did not open, as the OS or DuckDB said it: another process's lock is worth
    waiting for (a daemon retries it); a file or directory this user may not write is not."""
    said = message.splitlines()[0].removeprefix("IO Error: ")
    if "lock" in said.lower():
        return WarehouseUnavailable(
            f"cannot open DuckDB file {path}: {said}",
            "another process (a running pipeline or a DuckDB shell) holds it open; DuckDB lets one process at a time",
        )
    lowered = said.lower()
    if "permission denied" in lowered or "read-only file system" in lowered:
        return WarehouseError(
            f"cannot open DuckDB file {path}: {said}",
            "make the file and its directory writable by the user that runs s3rb-stream",
        )
    return WarehouseError(f"cannot open DuckDB file {path}: {said}")


class DuckDBWarehouse:
    copies_from_store = False  # the load reads each batch and hands DuckDB its rows

    def __init__(self, path: str, read_only: bool = False, memory_limit: str | None = None) -> None:
        """``memory_limit``: DuckDB's buffer pool, e.g. "256MB" (None: DuckDB's default, 80% of RAM)."""
        self.path = path
        self.read_only = read_only
        if read_only and not Path(path).exists():
            raise WarehouseError(f"DuckDB file {path} does not exist yet", "nothing has been loaded into it")
        if not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._config: dict[str, str | bool | int | float | list[str]] = {}
        if memory_limit:
            self._config["memory_limit"] = memory_limit
        self._connection: duckdb.DuckDBPyConnection | None = None
        opened = self._open()  # now: a file another process holds is an error at start, not at the first load
        # The catalog DuckDB attached the file as, which qualifies every name (a file's stem is not
        # always it: main.duckdb is main_db, a.b.duckdb is a): docs/ARCHITECTURE.md, "Names in the target".
        row = opened.execute("SELECT current_database()").fetchone()
        self.catalog = str(row[0]) if row else Path(path).stem
        self._prepared: set[tuple[str, str, str, bool]] = set()  # (schema, table, definition, soft) ready
        # (schema, table) → whether it has _s3rb_deleted_at (kept after soft deletes are turned off)
        self._deleted_at: dict[tuple[str, str], bool] = {}
        self.names = duckdb_rules()

    @property
    def _con(self) -> duckdb.DuckDBPyConnection:
        """The connection, opened again after :meth:`idle` let the file go."""
        return self._open()

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            try:
                self._connection = duckdb.connect(self.path, read_only=self.read_only, config=self._config)
            except duckdb.IOException as exc:
                raise open_error(self.path, str(exc)) from None
        return self._connection

    def idle(self) -> None:
        """Close the file between loads: DuckDB lets one process at a time open it, and between
        loads that may be you, with a DuckDB shell or ``s3rb-stream status``."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _in(self, target_schema: str) -> sql.InCatalog:
        """The target schema as every statement names it: with the file's catalog."""
        return sql.InCatalog(self.catalog, target_schema)

    def table_sql(self, schema: str, table: str) -> str:
        return sql.table_name(self._in(self.names.name(schema)), self.names.name(table))

    def claim(self, target_schema: str, fence: Fence, tables: Sequence[str] = ()) -> None:
        con, schema = self._con, self._in(target_schema)
        con.execute(sql.create_schema(schema))
        con.execute(sql.create_control_table(schema))  # read before any table is created
        con.execute(sql.create_fence_table(schema))
        columns = con.execute(sql.target_columns(), [target_schema, sql.FENCE_TABLE]).fetchall()
        if "table_name" not in {str(c[0]) for c in columns}:
            con.execute(sql.fence_table_upgrade(schema))
        con.execute("BEGIN TRANSACTION")
        try:
            for statement, params in sql.claim_fence(schema, fence.source_db, fence.generation, tables):
                con.execute(statement, list(params))
            newest = self._fence_generation(target_schema, fence)
            if newest != fence.generation:
                raise fence.refused(target_schema, newest)
            con.execute("COMMIT")
        except duckdb.TransactionException as exc:  # a load of the old holder is committing: try again
            con.execute("ROLLBACK")
            raise WarehouseUnavailable(
                f"claiming {target_schema} for lease generation {fence.generation}: {exc}"
            ) from exc
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _hold_fence(self, target_schema: str, fence: Fence, table: str) -> None:
        """Lock the table's fence row while it is ours. DuckDB reports a row changed since this
        transaction began as a conflict: a claim committed meanwhile (refused), or the first load
        of another table (retried)."""
        try:
            for statement, params in sql.hold_fence(self._in(target_schema), fence.source_db, fence.generation, table):
                self._con.execute(statement, list(params))
        except duckdb.TransactionException as exc:
            self._con.execute("ROLLBACK")
            newest = self._fence_generation(target_schema, fence)  # outside the transaction: the newest committed
            self._con.execute("BEGIN TRANSACTION")  # the caller's ROLLBACK ends this one
            if newest != fence.generation:
                raise fence.refused(target_schema, newest) from None
            raise WarehouseUnavailable(
                f"loading {target_schema}.{table}: another load of this instance changed the fence meanwhile ({exc})",
                "nothing to do: the load is tried again",
            ) from exc
        newest = self._fence_generation(target_schema, fence)
        if newest != fence.generation:
            raise fence.refused(target_schema, newest)

    def _fence_generation(self, target_schema: str, fence: Fence) -> int | None:
        row = self._con.execute(sql.fence_generation(self._in(target_schema)), [fence.source_db]).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def describe(self) -> str:
        return f"duckdb:///{self.path}"

    def prepare(
        self,
        target_schema: str,
        table: SourceTable,
        scd2: Scd2Spec | None = None,
        evolve: bool = True,
        soft_delete: bool = False,
    ) -> None:
        done = (target_schema, table.name, table_to_json(table) if evolve else "", soft_delete)
        if done in self._prepared:
            return
        self.names.check_schema(target_schema)
        self.names.check_table(table, scd2)
        schema = self._in(target_schema)
        self._con.execute(sql.create_schema(schema))
        self._con.execute(sql.create_control_table(schema))
        for statement in sql.create_table(schema, table, scd2, soft_delete):
            self._con.execute(statement)
        if not evolve:
            self._prepared.add(done)
            return
        existing = self._column_types(target_schema, table.name)
        for statement in sql.missing_columns(schema, table, set(existing)):
            log.warning("target table evolved", statement=statement)
            self._con.execute(statement)
        if soft_delete and DELETED_AT not in existing:
            log.warning("soft deletes turned on: the target table gets _s3rb_deleted_at", table=table.name)
            self._con.execute(sql.add_deleted_at(schema, table.name))
        self._deleted_at[(target_schema, table.name)] = soft_delete or DELETED_AT in existing
        for statement in sql.widened_columns(schema, table, self._column_types(target_schema, table.name)):
            log.warning("target table evolved: a column widened", statement=statement)
            self._con.execute(statement)
        self._prepared.add(done)

    def _column_types(self, schema: str, table: str) -> dict[str, str]:
        """The target table's columns and their types (sql.common.spelled_type)."""
        rows = self._con.execute(sql.target_columns(), [schema, table]).fetchall()
        return {str(r[0]): sql.spelled_type(str(r[1]), r[2], r[3], r[4]) for r in rows}

    def applied(self, target_schema: str, table: str) -> set[str]:
        rows = self._con.execute(sql.applied_keys(self._in(target_schema)), [table]).fetchall()
        return {str(r[0]) for r in rows}

    def applied_among(self, target_schema: str, table: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        schema = self._in(target_schema)
        for start in range(0, len(keys), LEDGER_KEYS_PER_QUERY):
            chunk = list(keys[start : start + LEDGER_KEYS_PER_QUERY])
            rows = self._ledger_rows(f"{target_schema}.{table}", sql.applied_among(schema, len(chunk)), [table, *chunk])
            found.update(str(r[0]) for r in rows)
        return found

    def applied_before(self, target_schema: str, table: str, before: datetime, limit: int) -> list[LedgerEntry]:
        statement = sql.applied_before(self._in(target_schema), limit)
        rows = self._ledger_rows(f"{target_schema}.{table}", statement, [table, before])
        return [LedgerEntry(str(k), int(f), int(la), int(n)) for k, f, la, n in rows]

    def _ledger_rows(self, what: str, statement: str, params: list[object]) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(statement, params).fetchall()
        except duckdb.Error as exc:
            raise WarehouseError(f"reading the ledger of {what} failed: {exc}", "nothing was changed") from None

    def fold(self, target_schema: str, table: str, entries: Sequence[LedgerEntry], fence: Fence | None) -> None:
        if not entries:
            return
        con, schema = self._con, self._in(target_schema)
        what = f"folding {len(entries)} ledger row(s) of {target_schema}.{table}"
        with self._transaction(what, "nothing was changed; cleanup tries again at its next round"):
            now = con.execute("SELECT now()").fetchone()
            previous = con.execute(sql.folded_row(schema), [table]).fetchone()
            row = folded(entries, tuple(previous) if previous else None, now[0] if now else datetime.now(UTC))
            for statement, params in sql.fold(schema, table, [e.key for e in entries], row):
                con.execute(statement, list(params))
            if fence is not None:
                self._hold_fence(target_schema, fence, table)

    @contextmanager
    def _transaction(self, what: str, hint: str) -> Iterator[None]:
        """One transaction: committed when the block ends; rolled back on any error, a DuckDB
        error raised as a WarehouseError saying ``what`` failed (a fence refusal as it is)."""
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            yield
            con.execute("COMMIT")
        except (FencedOut, WarehouseUnavailable):  # from the fence: rolled back and begun again
            con.execute("ROLLBACK")
            raise
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(f"{what} failed: {exc}", hint) from None

    def load_summary(self, target_schema: str) -> dict[str, AppliedSummary]:
        found = self._con.execute(sql.control_table_exists(), [target_schema, sql.CONTROL_TABLE]).fetchone()
        if not found or not found[0]:
            return {}
        rows = self._con.execute(sql.load_summary(self._in(target_schema))).fetchall()
        return {str(t): AppliedSummary(last, int(seq)) for t, last, seq in rows}

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
        if not batches:
            return 0
        deletes = Deletes(soft_delete, self._deleted_at.get((target_schema, table.name), False))
        staged = pa.concat_tables([table_of(data) for _, data in batches])
        con, schema = self._con, self._in(target_schema)
        what = f"loading {len(batches)} batch(es) into {target_schema}.{table.name}"
        try:
            with self._transaction(what, "nothing was applied; the batches stay pending"):
                con.register(STAGING, staged)
                faultpoints.reached("load.copy")
                row = con.execute(sql.watermark(schema), [table.name]).fetchone()
                mark = int(row[0]) if row else -1
                if mode == "append":
                    con.execute(sql.append(schema, table, STAGING), [mark])
                elif scd2 is not None:
                    for statement in scd2_sql.apply(schema, table, scd2, STAGING, mark, sql.SCD2):
                        con.execute(statement)
                else:
                    con.execute(sql.merge(schema, table, STAGING, deletes), [mark])
                if sweep is not None and scd2 is not None:
                    con.execute(scd2_sql.expire_unseen(schema, table, scd2, sql.SCD2), [sweep.at, sweep.below_seq])
                elif sweep is not None and deletes.soft:
                    statement, params = sql.soft_sweep(schema, table, sweep.below_seq, sweep.at)
                    con.execute(statement, list(params))
                elif sweep is not None:
                    con.execute(sql.sweep(schema, table), [sweep.below_seq])
                for ref, data in batches:
                    con.execute(
                        sql.record_batch(schema),
                        [table.name, ref.key, ref.first_seq, ref.last_seq, rows_in(data)],
                    )
                faultpoints.reached("load.merge")
                if fence is not None:
                    self._hold_fence(target_schema, fence, table.name)
        finally:
            con.unregister(STAGING)
        return int(staged.num_rows)

    def query(self, statement: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        return self._con.execute(statement, params or []).fetchall()

    def drop_schema(self, schema: str) -> None:
        # One part, in the connection's own catalog: DuckDB finds ``DROP SCHEMA analytics.analytics``
        # ambiguous (catalog or schema) where every other statement takes the catalog's name.
        self._con.execute(f"DROP SCHEMA IF EXISTS {quote_ansi(schema)} CASCADE")

    def close(self) -> None:
        self.idle()
