"""Redshift as warehouse: COPY batch objects from S3 through a manifest, then a Redshift-valid apply.

Every statement of one load, and the record of its batches, commit in one transaction. A load, the
preparation of a table and the claim of the fence are each retried with backoff after an isolation
conflict (error 1023, under SERIALIZABLE or SNAPSHOT isolation) or a dropped connection, told
apart by SQLSTATE and error number (redshift_errors.py), with the one retry helper (retry.py); a
statement that ran out of time is an outage the daemon retries later (docs/ARCHITECTURE.md,
"Redshift: statement time").
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import redshift_connector

from s3rb_stream import faultpoints, metrics
from s3rb_stream.core.object_keys import BatchRef, fitted_key, source_db_of
from s3rb_stream.core.object_keys import manifest_key as manifest_key_of
from s3rb_stream.core.overflow import Overflow, fit_table
from s3rb_stream.core.scd2 import Scd2Spec
from s3rb_stream.core.schema import DELETED_AT, SourceTable, table_to_json
from s3rb_stream.core.target_names import redshift_rules
from s3rb_stream.errors import ConfigError, S3rbError, WarehouseError, WarehouseUnavailable
from s3rb_stream.log import get_logger
from s3rb_stream.retry import Policy, Retry
from s3rb_stream.settings import Mode, OptionTypes, WarehouseLocation, typed_options
from s3rb_stream.sql import redshift as sql
from s3rb_stream.sql import scd2 as scd2_sql
from s3rb_stream.sql.common import HARD_DELETES, Deletes
from s3rb_stream.sql.identifiers import quote_ansi as q
from s3rb_stream.store import parquet
from s3rb_stream.store.manifest import ManifestEntry, manifest_json
from s3rb_stream.store.s3 import S3Store
from s3rb_stream.targets.base import (
    LEDGER_KEYS_PER_QUERY,
    AppliedSummary,
    Fence,
    LedgerEntry,
    Rows,
    Sweep,
    Unread,
    folded,
    rows_in,
)
from s3rb_stream.targets.redshift_errors import (
    Failure,
    classify,
    error_fields,
    redshift_code,
    server_message,
    timed_out,
    worth_retrying,
)

log = get_logger(__name__)

T = TypeVar("T")
# A load, a table's preparation, the fence's claim: 5 tries, 1, 2, 4 and 8 s apart (retry.py).
TRANSACTION_RETRY = Policy(first=1.0, tries=5, retry_if=worth_retrying)
TIMEOUT_HINT = (
    "nothing was applied and it is retried later; if it needs longer, raise"
    " S3RB_REDSHIFT_STATEMENT_TIMEOUT_SECONDS (and ?timeout= in S3RB_WAREHOUSE_URL, if set)"
)
# Callables shown every statement sent, e.g. by tests that lint them; none by default.
STATEMENT_OBSERVERS: list[Callable[[str], None]] = []


REDSHIFT_OPTIONS = OptionTypes(
    bools=frozenset({"ssl", "iam", "tcp_keepalive"}),
    ints=frozenset({"timeout", "tcp_keepalive_idle", "tcp_keepalive_interval", "tcp_keepalive_count"}),
    strs=frozenset({"sslmode", "cluster_identifier", "region", "db_user", "profile", "serverless_work_group"}),
)


# The timeout policy (docs/ARCHITECTURE.md, "Redshift: statement time"). A COPY or MERGE may run for
# minutes, so the socket timeout (on every read, redshift_connector's ``timeout``) is only a
# backstop above Redshift's own ``statement_timeout``, which cancels the statement on the server and
# frees its locks. A connection that died silently is found by TCP keepalive within about two
# minutes, however long the statement runs.
SOCKET_TIMEOUT_MARGIN_SECONDS = 120
KEEPALIVE = {"tcp_keepalive": True, "tcp_keepalive_idle": 60, "tcp_keepalive_interval": 10, "tcp_keepalive_count": 6}


def connect_options(location: WarehouseLocation, statement_timeout: int = 0) -> dict[str, Any]:
    """redshift_connector arguments: the URL's parts, the timeout policy for ``statement_timeout``
    seconds (0: none), plus the URL's query options (``?iam=true&timeout=...``), which win."""
    kwargs: dict[str, Any] = {
        "host": location.host,
        "port": location.port,
        "user": location.user,
        "password": location.password,
        "database": location.database,
        "ssl": True,
        "timeout": statement_timeout + SOCKET_TIMEOUT_MARGIN_SECONDS if statement_timeout else None,
        **KEEPALIVE,
    } | typed_options(location.options, REDSHIFT_OPTIONS, "S3RB_WAREHOUSE_URL")
    if kwargs.get("iam"):
        kwargs.pop("password")  # IAM: temporary credentials come from the AWS chain and db_user
    return kwargs


def _step(statement: str) -> str:
    """What a statement does, in two words, for an error message: "COPY", "MERGE INTO", ..."""
    return " ".join(statement.split()[:2]) if not statement.startswith("COPY") else "COPY"


def too_wide_hint(exc: Exception, table: SourceTable) -> str | None:
    """What to do when Redshift refuses a row as too wide for query processing (error 8001: "The
    combined length of columns processed in the SQL statement exceeded the query-processing limit"),
    naming the table's widest columns; None for any other error."""
    if redshift_code(error_fields(exc)) != "8001" and "query-processing limit" not in str(exc):
        return None
    widths = sorted(((_declared_bytes(sql.column_type(c)), c.name) for c in table.columns), key=lambda w: (-w[0], w[1]))
    widest = ", ".join(f"{name} ({size} bytes)" for size, name in widths[:3] if size)
    return (
        f"the rows of {table.name} are too wide for Redshift's query processing (error 8001); its widest"
        f" columns are {widest}: narrow them at the source or leave the table out of the tables file."
        " Nothing was applied; the batches stay pending"
    )


def _declared_bytes(column_type: str) -> int:
    """The declared size of a VARCHAR(n), CHAR(n) or VARBYTE(n) column, else 0."""
    head, _, rest = column_type.partition("(")
    size = rest.rstrip(")")
    return int(size) if head in ("VARCHAR", "CHAR", "VARBYTE") and size.isdigit() else 0


class RedshiftWarehouse:
    copies_from_store = True  # COPY reads the objects: the load reads none unless it must fit a value

    def __init__(
        self, location: WarehouseLocation, iam_role: str | None, store: Any, statement_timeout: int = 3600
    ) -> None:
        if not isinstance(store, S3Store):
            raise ConfigError(
                "the Redshift target needs an s3:// store: COPY reads the batch objects from S3",
                "set S3RB_STORE_URL=s3://bucket/prefix",
            )
        if not iam_role:
            raise ConfigError(
                "S3RB_REDSHIFT_IAM_ROLE is not set",
                "COPY reads S3 with an IAM role: arn:aws:iam::<account>:role/<role> attached to the cluster",
            )
        self.location = location
        self.iam_role = iam_role
        self.store = store
        self.last_statement: str | None = None  # what an error names as the step that failed
        self.coercions: dict[tuple[str, str, str], int] = {}  # (table, column, action) → values
        self._prepared: set[tuple[str, str, str, bool]] = set()  # (schema, table, definition, soft) ready
        # (schema, table) as Redshift spells them → whether it has _s3rb_deleted_at (kept after
        # soft deletes are turned off)
        self._deleted_at: dict[tuple[str, str], bool] = {}
        self.names = redshift_rules()  # every name is created and looked up in lower case
        self.statement_timeout = statement_timeout  # seconds; 0: none
        self._connection: Any | None = self._connect()  # now: an unreachable cluster is an error at start

    def describe(self) -> str:
        return self.location.describe()

    def table_sql(self, schema: str, table: str) -> str:
        return f"{q(self.names.name(schema))}.{q(self.names.name(table))}"

    def _connect(self) -> Any:
        try:
            conn = redshift_connector.connect(**connect_options(self.location, self.statement_timeout))
        except (redshift_connector.error.InterfaceError, OSError) as exc:
            raise WarehouseUnavailable(
                f"cannot connect to Redshift at {self.describe()}: {type(exc).__name__}",
                "check host, port and security groups; use ?ssl=false only for a local emulator",
            ) from None
        except redshift_connector.error.ProgrammingError as exc:
            raise WarehouseError(f"Redshift at {self.describe()} refused the login: {exc}") from None
        try:
            conn.cursor().execute(f"SET statement_timeout TO {self.statement_timeout * 1000}")
            conn.commit()
        except (redshift_connector.error.Error, OSError) as exc:
            conn.close()
            raise WarehouseUnavailable(
                f"Redshift at {self.describe()} did not take statement_timeout: {type(exc).__name__}"
            ) from None
        return conn

    def _run(self, cursor: Any, statement: str, params: Any = None) -> None:
        """Run one statement, logged at debug level: COPY names the IAM role, never a key."""
        self.last_statement = statement
        for observe in STATEMENT_OBSERVERS:
            observe(statement)
        log.debug("redshift statement", sql=statement)
        cursor.execute(statement, params)

    @property
    def _conn(self) -> Any:
        """The connection; a new one after the last was dropped (the loader retries on this object)."""
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _drop(self) -> None:
        """Forget a connection that broke or may still answer an old statement: never reuse it."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    @contextlib.contextmanager
    def _reachable(self, what: str) -> Iterator[None]:
        """A dropped or refused connection is an outage, which the daemon rides out (retryable)."""
        try:
            yield
        except (redshift_connector.error.InterfaceError, OSError) as exc:
            self._drop()
            raise WarehouseUnavailable(
                f"lost the connection to Redshift at {self.describe()} while {what}: {type(exc).__name__}",
                "retried from the checkpoint with backoff; nothing was applied by the failed step",
            ) from None

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
        schema, target, spec = self.names.name(target_schema), self.names.table(table), self.names.spec(scd2)
        self._attempts(
            f"preparing {target_schema}.{table.name}",
            lambda: self._prepare(schema, target, spec, evolve, soft_delete),
        )
        self._prepared.add(done)

    def _prepare(
        self, target_schema: str, table: SourceTable, scd2: Scd2Spec | None, evolve: bool = True, soft: bool = False
    ) -> None:
        cur = self._conn.cursor()
        for statement in (
            sql.create_schema(target_schema),
            sql.create_control_table(target_schema),
            *sql.create_table(target_schema, table, scd2, soft),
        ):
            self._run(cur, statement)
        if not evolve:
            # Committed now: another connection creating the same table (a parallel load) would
            # otherwise wait on this uncommitted CREATE and then fail on its catalog row.
            self._conn.commit()
            return
        types, _ = self._columns(cur, target_schema, table.name)
        for statement in sql.missing_columns(target_schema, table, set(types)):
            log.warning("target table evolved", statement=statement)
            self._run(cur, statement)
        if soft and DELETED_AT not in types:
            log.warning("soft deletes turned on: the target table gets _s3rb_deleted_at", table=table.name)
            self._run(cur, sql.add_deleted_at(target_schema, table.name))
        self._deleted_at[(target_schema, table.name)] = soft or DELETED_AT in types
        types, defaults = self._columns(cur, target_schema, table.name)
        alone, rebuilt = sql.widened_columns(target_schema, table, types, defaults)
        for statement in rebuilt:
            log.warning("target table evolved: a column rebuilt wider", statement=statement)
            self._run(cur, statement)
        self._conn.commit()
        if alone:  # ALTER COLUMN TYPE cannot run inside a transaction block on Redshift
            self._conn.autocommit = True
            try:
                for statement in alone:
                    log.warning("target table evolved: a VARCHAR widened", statement=statement)
                    self._run(self._conn.cursor(), statement)
            finally:
                self._conn.autocommit = False

    def _columns(self, cur: Any, schema: str, table: str) -> tuple[dict[str, str], set[str]]:
        """The target table's columns with their types (sql.spelled_type), and those that have a default."""
        self._run(cur, sql.target_columns(), (schema, table))
        rows = cur.fetchall()
        types = {str(r[0]): sql.spelled_type(str(r[1]), r[2], r[3], r[4]) for r in rows}
        return types, {str(r[0]) for r in rows if r[5]}

    def applied(self, target_schema: str, table: str) -> set[str]:
        with self._reachable(f"reading the batches applied to {target_schema}.{table}"):
            cur = self._conn.cursor()
            self._run(cur, sql.applied_keys(self.names.name(target_schema)), (table,))
            keys = {str(r[0]) for r in cur.fetchall()}
            self._conn.commit()
        return keys

    def applied_among(self, target_schema: str, table: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        schema = self.names.name(target_schema)
        with self._reachable(f"reading which batches of {target_schema}.{table} are applied"):
            cur = self._conn.cursor()
            for start in range(0, len(keys), LEDGER_KEYS_PER_QUERY):
                chunk = list(keys[start : start + LEDGER_KEYS_PER_QUERY])
                self._run(cur, sql.applied_among(schema, len(chunk)), (table, *chunk))
                found.update(str(r[0]) for r in cur.fetchall())
            self._conn.commit()
        return found

    def applied_before(self, target_schema: str, table: str, before: datetime, limit: int) -> list[LedgerEntry]:
        with self._reachable(f"reading the oldest batches applied to {target_schema}.{table}"):
            cur = self._conn.cursor()
            self._run(cur, sql.applied_before(self.names.name(target_schema), limit), (table, before))
            rows = cur.fetchall()
            self._conn.commit()
        return [LedgerEntry(str(k), int(f), int(la), int(n)) for k, f, la, n in rows]

    def fold(self, target_schema: str, table: str, entries: Sequence[LedgerEntry], fence: Fence | None) -> None:
        if entries:
            schema = self.names.name(target_schema)
            self._attempts(
                f"folding {len(entries)} ledger row(s) of {target_schema}.{table}",
                lambda: self._fold_once(schema, table, entries, fence),
            )

    def _fold_once(self, schema: str, table: str, entries: Sequence[LedgerEntry], fence: Fence | None) -> None:
        cur = self._conn.cursor()
        self._run(cur, "SELECT GETDATE()")
        now = cur.fetchall()[0][0]
        self._run(cur, sql.folded_row(schema), (table,))
        previous = cur.fetchall()
        at = now.replace(tzinfo=UTC) if isinstance(now, datetime) and now.tzinfo is None else now
        row = folded(entries, tuple(previous[0]) if previous else None, at)
        for statement, params in sql.fold(schema, table, [e.key for e in entries], row):
            self._run(cur, statement, params)
        if fence is not None:
            self._hold_fence(cur, schema, fence, table)
        self._conn.commit()

    def load_summary(self, target_schema: str) -> dict[str, AppliedSummary]:
        with self._reachable(f"reading the load summary of {target_schema}"):
            cur = self._conn.cursor()
            schema = self.names.name(target_schema)
            self._run(cur, sql.control_table_exists(), (schema, sql.CONTROL_TABLE))
            if not cur.fetchall()[0][0]:
                self._conn.commit()
                return {}
            self._run(cur, sql.load_summary(schema))
            rows = cur.fetchall()
            self._conn.commit()
        out = {}
        for name, last, seq in rows:
            applied_at = last if isinstance(last, datetime) else None
            out[str(name)] = AppliedSummary(applied_at, int(seq))
        return out

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
        refs = [ref for ref, _ in batches]
        load = uuid.uuid4().hex[:12]  # this load's manifest and fitted copies are its own
        manifest_key = manifest_key_of(refs[0].key, refs[0].first_seq, refs[-1].last_seq, load)
        entries = [
            self._fitted_object(target_schema, table, ref, data, overflow or Overflow(), load) for ref, data in batches
        ]
        self.store.put(manifest_key, manifest_json(self.store.bucket, entries))
        rows = int(sum(rows_in(data) for _, data in batches))
        schema, target, spec = self.names.name(target_schema), self.names.table(table), self.names.spec(scd2)
        where = f"loading {len(batches)} batch(es) into {target_schema}.{table.name}"

        def hint(exc: Exception, step: str) -> str:
            told = too_wide_hint(exc, table) or "nothing was applied; the batches stay pending"
            if step == "COPY":
                told += "; on Redshift, SYS_LOAD_ERROR_DETAIL names the object, row and column"
            return told

        deletes = Deletes(soft_delete, self._deleted_at.get((schema, target.name), False))
        manifest = self.store.url(manifest_key)
        self._attempts(
            where,
            lambda: self._apply_once(schema, target, table.name, mode, batches, manifest, sweep, spec, fence, deletes),
            hint,
        )
        # Only COPY reads the manifest and the fitted copies; what a crash leaves here, cleanup removes.
        fitted = [entry.key for entry, ref in zip(entries, refs, strict=True) if entry.key != ref.key]
        self._forget([manifest_key, *fitted])
        return rows

    def _forget(self, keys: list[str]) -> None:
        try:
            self.store.delete_many(keys)
        except S3rbError as exc:  # the load is committed: a leftover only costs space until cleanup
            log.warning("could not remove a load's manifest or fitted copies; cleanup will", error=str(exc))

    def _attempts(self, what: str, step: Callable[[], T], hint: Callable[[Exception, str], str] | None = None) -> T:
        """``step``, one transaction, tried again with backoff after an isolation conflict or a
        dropped connection (rolled back first; ``TRANSACTION_RETRY``). A timeout, or what is left
        after the retries, is a WarehouseUnavailable the daemon retries later; any other error a
        WarehouseError with the server's words and the step that failed; a fence refusal is raised
        as it is."""

        def retrying(exc: Exception, attempt: int) -> None:
            self._rollback()
            log.warning("redshift transaction retrying", step=what, attempt=attempt, error=str(exc))
            if classify(exc) is Failure.DROPPED:
                self._reconnect()

        try:
            return Retry(TRANSACTION_RETRY).call(step, retrying)
        except (redshift_connector.error.Error, OSError) as exc:
            how = timed_out(exc)
            if how is not None:  # retried by the daemon later, not at once: it would only time out again
                self._reconnect()
                raise WarehouseUnavailable(
                    f"{what} ran out of time at {self._last_step()}: {how}", TIMEOUT_HINT
                ) from None
            self._rollback()
            step_name = self._last_step()
            told = hint(exc, step_name) if hint else "nothing of it was committed"
            # Still unreachable or in conflict after the retries: the daemon tries again later.
            error = WarehouseUnavailable if worth_retrying(exc) else WarehouseError
            raise error(f"{what} failed at {step_name}: {server_message(exc)}", told) from None
        except BaseException:  # a fence refusal, a stop, or an error of ours: leave no transaction open
            self._rollback()
            raise

    def _fitted_object(
        self, schema: str, table: SourceTable, ref: BatchRef, data: Rows, overflow: Overflow, load: str
    ) -> ManifestEntry:
        """The object COPY reads for a batch: the batch itself, or a fitted copy of it when values
        exceed their VARCHAR and the overflow policy allows changing them. A batch the load did not
        read is read here only when its note says a value is over a limit."""
        limits = sql.byte_limits(table)
        if isinstance(data, Unread):
            if all(data.longest.get(column, limit + 1) <= limit for column, limit in limits.items()):
                return ManifestEntry(ref.key, data.size)
            data = data.read()
        if not limits:
            return ManifestEntry(ref.key, self.store.size(ref.key))
        json_columns = {c.name for c in table.columns if c.data_type.lower() == "json"}
        fitted, done = fit_table(data, limits, json_columns, overflow, f"{schema}.{table.name}")
        if not done:
            return ManifestEntry(ref.key, self.store.size(ref.key))
        for report in done:
            counted = (table.name, report.column, report.action)
            first = counted not in self.coercions
            self.coercions[counted] = self.coercions.get(counted, 0) + report.count
            labels = (source_db_of(ref.key), schema, table.name, report.column, report.action)
            metrics.COERCIONS.labels(*labels).inc(report.count)
            (log.warning if first else log.debug)(
                f"values {report.action} to fit Redshift" + (" (logged once per column; counted)" if first else ""),
                table=table.name,
                column=report.column,
                count=report.count,
                total=self.coercions[counted],
                longest_bytes=report.longest,
                batch=ref.key,
            )
        key = fitted_key(ref.key, load)
        body = parquet.encode(fitted, self.store.parquet_codec)
        self.store.put(key, body)
        return ManifestEntry(key, len(body))

    def _apply_once(
        self,
        schema: str,
        table: SourceTable,
        ledger_name: str,
        mode: Mode,
        batches: list[tuple[BatchRef, Rows]],
        manifest: str,
        sweep: Sweep | None,
        scd2: Scd2Spec | None,
        fence: Fence | None = None,
        deletes: Deletes = HARD_DELETES,
    ) -> None:
        """``schema`` and ``table`` as Redshift spells them; ``ledger_name``: the source table's name,
        which the control table records."""
        cur = self._conn.cursor()
        self._run(cur, sql.watermark(schema), (ledger_name,))
        mark = int(cur.fetchall()[0][0])
        if scd2 is not None:
            steps = [
                *sql.stage_load(table, manifest, self.iam_role),
                *scd2_sql.apply(schema, table, scd2, sql.STAGE, mark, sql.SCD2),
            ]
        elif mode == "append":
            steps = sql.append_load(schema, table, manifest, self.iam_role, mark)
        else:
            steps = sql.merge_load(schema, table, manifest, self.iam_role, mark, deletes)
        for statement in steps:
            self._run(cur, statement)
            if statement.lstrip().upper().startswith("COPY"):
                faultpoints.reached("load.copy")
        if sweep is not None and scd2 is not None:
            self._run(cur, scd2_sql.expire_unseen(schema, table, scd2, sql.SCD2), (sweep.at, sweep.below_seq))
        elif sweep is not None and deletes.soft:
            self._run(cur, *sql.soft_sweep(schema, table, sweep.below_seq, sweep.at))
        elif sweep is not None:
            self._run(cur, sql.sweep(schema, table), (sweep.below_seq,))
        for ref, data in batches:
            self._run(cur, sql.record_batch(schema), (ledger_name, ref.key, ref.first_seq, ref.last_seq, rows_in(data)))
        faultpoints.reached("load.merge")
        if fence is not None:  # last: lock the table's fence row while it is ours, or see that it is not
            self._hold_fence(cur, schema, fence, ledger_name)
        self._conn.commit()

    def _hold_fence(self, cur: Any, schema: str, fence: Fence, table: str) -> None:
        """Lock ``table``'s fence row in the open transaction, or raise FencedOut when a newer
        generation holds the target (docs/ARCHITECTURE.md, "Fencing")."""
        for statement, params in sql.hold_fence(schema, fence.source_db, fence.generation, table):
            self._run(cur, statement, params)
        newest = self._fence_generation(cur, schema, fence)
        if newest != fence.generation:
            raise fence.refused(schema, newest)

    def _last_step(self) -> str:
        return _step(self.last_statement) if self.last_statement else "connect"

    def _reconnect(self) -> None:
        """A connection whose statement timed out may still answer it later: the next use gets a new one."""
        self._drop()

    def _rollback(self) -> None:
        try:
            self._conn.rollback()
        except Exception:  # a dropped connection cannot roll back; the server already did
            self._drop()

    def idle(self) -> None:
        """Nothing to let go: Redshift serves many sessions."""

    def claim(self, target_schema: str, fence: Fence, tables: Sequence[str] = ()) -> None:
        schema = self.names.name(target_schema)
        self._attempts(
            f"claiming {target_schema} for lease generation {fence.generation}",
            lambda: self._claim(schema, target_schema, fence, tables),
        )

    def _claim(self, schema: str, target_schema: str, fence: Fence, tables: Sequence[str]) -> None:
        cur = self._conn.cursor()
        self._run(cur, sql.create_schema(schema))
        self._run(cur, sql.create_control_table(schema))  # read before any table is created
        self._run(cur, sql.create_fence_table(schema))
        if "table_name" not in self._columns(cur, schema, sql.FENCE_TABLE)[0]:
            self._run(cur, sql.fence_table_upgrade(schema))
        self._conn.commit()
        for statement, params in sql.claim_fence(schema, fence.source_db, fence.generation, tables):
            self._run(cur, statement, params)
        newest = self._fence_generation(cur, schema, fence)
        if newest != fence.generation:
            raise fence.refused(target_schema, newest)
        self._conn.commit()

    def _fence_generation(self, cur: Any, schema: str, fence: Fence) -> int | None:
        self._run(cur, sql.fence_generation(schema), (fence.source_db,))
        rows = cur.fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def query(self, statement: str) -> list[tuple[object, ...]]:
        """Rows of ``statement`` (none for a statement without any), committed; a refused
        statement is rolled back, so the connection stays usable."""
        with self._reachable("reading back"):
            cur = self._conn.cursor()
            try:
                self._run(cur, statement)
                rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
            except redshift_connector.error.ProgrammingError:
                self._rollback()
                raise
            self._conn.commit()
        return rows

    def drop_schema(self, schema: str) -> None:
        with self._reachable(f"dropping schema {schema}"):
            self._run(self._conn.cursor(), f"DROP SCHEMA IF EXISTS {q(self.names.name(schema))} CASCADE")
            self._conn.commit()

    def close(self) -> None:
        self._drop()
