"""Connections to the source, table definitions and server facts (the thin adapter over pymysql)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from typing import Any

import pymysql
import pymysql.cursors

from s3rb_stream.core.gtid import Flavor, GtidState
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import (
    grant_problems,
    lock_grant_problems,
    require_binlog_settings,
    server_id_problems,
)
from s3rb_stream.core.schema import MAX_ARROW_DECIMAL, SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError, SourceError, SourceUnavailable
from s3rb_stream.settings import MySQLTarget, OptionTypes, TableConfig, TablesFile, typed_options
from s3rb_stream.sql import mysql as q

PYMYSQL_OPTIONS = OptionTypes(
    bools=frozenset({"ssl_verify_cert", "ssl_verify_identity", "ssl_disabled"}),
    ints=frozenset({"connect_timeout", "read_timeout", "write_timeout"}),
    strs=frozenset({"ssl_ca", "ssl_cert", "ssl_key", "charset", "unix_socket"}),
)


def driver_options(target: MySQLTarget) -> dict[str, Any]:
    """Keyword arguments for pymysql (and the binlog reader), URL query options included."""
    kwargs: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "user": target.user,
        "password": target.password,
        "connect_timeout": 10,
        "charset": "utf8mb4",
    }
    return kwargs | typed_options(target.options, PYMYSQL_OPTIONS, "S3RB_MYSQL_URL")


def connection_error(target: MySQLTarget, code: int) -> SourceError:
    """What a failed connection means, for either driver: a refused login, or an unreachable server."""
    if code in (1044, 1045):
        return SourceError(
            f"MySQL at {target.describe()} refused the login (error {code})",
            "check the user and password in S3RB_MYSQL_URL / S3RB_MYSQL_PASSWORD",
        )
    return SourceUnavailable(
        f"cannot connect to MySQL at {target.describe()} (error {code})",
        "is the server running and reachable from here? check host and port in S3RB_MYSQL_URL",
    )


def connect(target: MySQLTarget, **extra: Any) -> Any:
    """A connection, or one line that says why not: never the driver's traceback."""
    try:
        return pymysql.connect(**{**driver_options(target), "autocommit": True, **extra})
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        raise connection_error(target, code) from None
    except RuntimeError as exc:  # e.g. caching_sha2_password (MySQL 8) without the cryptography package
        raise SourceError(
            f"cannot log in to MySQL at {target.describe()}: {str(exc).splitlines()[0]}",
            "install the Python package it names (pip install cryptography), or give the user mysql_native_password",
        ) from None


def server_variables(conn: Any) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(q.BINLOG_VARIABLES)
        return {str(name).lower(): str(value) for name, value in cur.fetchall()}


def check_binlog(conn: Any, target: MySQLTarget) -> dict[str, str]:
    variables = server_variables(conn)
    require_binlog_settings(variables, f"MySQL at {target.describe()}")
    return variables


def current_position(conn: Any, gtid: Flavor | None = None) -> BinlogPosition:
    """The end of the binlog now; with ``gtid``, with the GTID state there."""
    with conn.cursor() as cur:
        try:
            cur.execute(q.BINARY_LOG_STATUS)
        except pymysql.err.ProgrammingError:
            cur.execute(q.MASTER_STATUS)
        row = cur.fetchone()
    if not row:
        raise SourceError("the source has no binary log position", "enable log_bin on the server")
    position = BinlogPosition(str(row[0]), int(row[1]))
    if gtid == "mysql":
        return with_gtid(position, GtidState.parse(str(row[4] or "") if len(row) > 4 else "", "mysql"))
    return gtid_position(conn, position, gtid) if gtid else position


def gtid_position(conn: Any, position: BinlogPosition, flavor: Flavor) -> BinlogPosition:
    """``position`` with the GTID state there (MariaDB knows it for any file and offset)."""
    if flavor != "mariadb":
        raise SourceError(
            f"the GTID state at {position} cannot be read from MySQL",
            "start GTID positioning at the current position (--start-position current) or from a snapshot",
        )
    with conn.cursor() as cur:
        cur.execute(q.GTID_AT, (position.file, position.pos))
        row = cur.fetchone()
    if row is None or row[0] is None:
        raise SourceError(f"MariaDB found no GTID state at {position}", "is the binlog file still on the server?")
    return with_gtid(position, GtidState.parse(str(row[0]), "mariadb"))


def with_gtid(position: BinlogPosition, state: GtidState) -> BinlogPosition:
    return BinlogPosition(position.file, position.pos, str(state), state.ordinal)


def purged_gtids(conn: Any, flavor: Flavor) -> GtidState:
    """What the server no longer has in any binlog: MariaDB's state at the start of its oldest
    binlog, MySQL's ``gtid_purged``."""
    if flavor == "mysql":
        with conn.cursor() as cur:
            cur.execute(q.GTID_PURGED)
            row = cur.fetchone()
        return GtidState.parse(str(row[0] or "") if row else "", "mysql")
    logs = binary_logs(conn)
    if not logs:
        return GtidState.parse("", "mariadb")
    return GtidState.parse(gtid_position(conn, BinlogPosition(logs[0], 4), "mariadb").gtid or "", "mariadb")


def binary_logs(conn: Any) -> list[str]:
    return [name for name, _ in binary_log_sizes(conn)]


def binary_log_sizes(conn: Any) -> list[tuple[str, int]]:
    """``SHOW BINARY LOGS``: every binlog file on the server with its size, oldest first."""
    with conn.cursor() as cur:
        cur.execute(q.BINARY_LOGS)
        return [(str(r[0]), int(r[1])) for r in cur.fetchall()]


def _columns(conn: Any, source_db: str) -> tuple[list[str], dict[str, list[SourceColumn]], dict[str, list[str]]]:
    with conn.cursor() as cur:
        cur.execute(q.TABLES_OF_SCHEMA, (source_db,))
        tables = [str(r[0]) for r in cur.fetchall()]
        cur.execute(q.COLUMNS_OF_TABLES, (source_db,))
        columns: dict[str, list[SourceColumn]] = defaultdict(list)
        for table, name, dtype, ctype, nullable, clen, prec, scale, dprec, default in cur.fetchall():
            columns[str(table)].append(
                SourceColumn(
                    name=str(name),
                    data_type=str(dtype).lower(),
                    column_type=str(ctype),
                    nullable=nullable == "YES",
                    char_length=int(clen) if clen is not None else None,
                    precision=int(prec) if prec is not None else None,
                    scale=int(scale) if scale is not None else None,
                    datetime_precision=int(dprec) if dprec is not None else None,
                    default=str(default) if default is not None else None,
                )
            )
        json_columns = _json_checked_columns(cur, source_db)
        for table, cols in columns.items():
            cols[:] = [
                replace(c, data_type="json") if (table, c.name) in json_columns and c.data_type == "longtext" else c
                for c in cols
            ]
        cur.execute(q.PRIMARY_KEYS, (source_db,))
        keys: dict[str, list[str]] = defaultdict(list)
        for table, column in cur.fetchall():
            keys[str(table)].append(str(column))
    return tables, columns, keys


_JSON_VALID = re.compile(r"^json_valid\(`((?:[^`]|``)+)`\)$", re.I)


def _json_checked_columns(cur: Any, source_db: str) -> set[tuple[str, str]]:
    """(table, column) of MariaDB JSON columns: LONGTEXT guarded by ``json_valid(col)``."""
    try:
        cur.execute(q.JSON_CHECKS, (source_db,))
    except pymysql.err.MySQLError:  # a server without CHECK_CONSTRAINTS has native JSON only
        return set()
    found = set()
    for table, clause in cur.fetchall():
        match = _JSON_VALID.match(str(clause).strip())
        if match:
            found.add((str(table), match.group(1).replace("``", "`")))
    return found


def resolve_tables(
    conn: Any, source_db: str, tables_file: TablesFile, missing_ok: set[str] | None = None
) -> list[tuple[TableConfig, SourceTable]]:
    """The configured tables of ``source_db`` with their definitions; clear errors for gaps.

    Tables in ``missing_ok`` may be gone (dropped while captured): the caller quarantines them.
    """
    entries = tables_file.for_source(source_db)
    if not entries:
        raise SchemaError(
            f"the tables file lists no table of source database {source_db!r}",
            f'add an entry like name: "{source_db}.my_table"',
        )
    existing, columns, keys = _columns(conn, source_db)
    if not existing:
        raise SchemaError(
            f"source database {source_db!r} does not exist or has no tables visible to this user",
            "check --source-db and the user's SELECT grant",
        )
    for entry in entries:
        if (
            not entry.is_pattern
            and entry.table_pattern not in existing
            and entry.table_pattern not in (missing_ok or ())
        ):
            raise SchemaError(
                f"table {entry.name} from the tables file does not exist in the source",
                f"tables in {source_db}: {', '.join(existing[:20])}",
            )
    resolved = []
    for name in existing:
        found = tables_file.resolve(source_db, name)
        if found is None:
            continue
        table = SourceTable(source_db, name, tuple(columns[name]), tuple(keys.get(name, ())))
        resolved.append((found, configured_table(found, table)))
    return resolved


def configured_table(entry: TableConfig, table: SourceTable) -> SourceTable:
    """The source table as its tables-file entry has it captured: its ``decimal_overflow`` on wide
    DECIMAL columns, its ``key_columns``; the columns the entry names checked."""
    defined = tuple(
        replace(c, decimal_overflow=entry.decimal_overflow)
        if c.data_type == "decimal" and (c.precision or 10) > MAX_ARROW_DECIMAL
        else c
        for c in table.columns
    )
    table = SourceTable(table.database, table.name, defined, table.key_columns)
    if entry.key_columns:
        table = table.with_key(entry.key_columns)
    check_config_columns(entry, table)
    if entry.mode != "append" and not table.key_columns:
        raise SchemaError(
            f"table {table.database}.{table.name} has no primary key, which mode {entry.mode} needs",
            "add a primary key, set key_columns: [...] for it in the tables file, or use mode: append",
        )
    return table


_TIMESTAMP_TYPES = {"datetime", "timestamp", "date"}


def check_config_columns(entry: TableConfig, table: SourceTable) -> None:
    """Columns the tables file names must exist, with types their strategy can use."""
    where = f"{table.database}.{table.name}"
    by_name = {c.name: c for c in table.columns}
    named = {
        "cdc_timestamp_column": [entry.cdc_timestamp_column] if entry.cdc_timestamp_column else [],
        "cdc_id_column": [entry.cdc_id_column] if entry.cdc_id_column else [],
        "scd2_tracked_columns": list(entry.scd2_tracked_columns or ()),
        "overflow_columns": list(entry.overflow_columns),
    }
    for option, columns in named.items():
        missing = [c for c in columns if c not in by_name]
        if missing:
            raise SchemaError(
                f"{option} {missing} of {where} in the tables file are not columns of the table",
                f"columns are: {', '.join(table.column_names)}",
            )
    if entry.cdc_timestamp_column and by_name[entry.cdc_timestamp_column].data_type not in _TIMESTAMP_TYPES:
        column = by_name[entry.cdc_timestamp_column]
        raise SchemaError(
            f"cdc_timestamp_column {column.name} of {where} is {column.column_type}, not a DATETIME or TIMESTAMP",
            "name the column that records when each row was last changed",
        )
    if entry.cdc_id_column and by_name[entry.cdc_id_column].nullable:
        raise SchemaError(
            f"cdc_id_column {entry.cdc_id_column} of {where} is nullable; the hybrid keyset skips NULL ids",
            "use a NOT NULL unique column, usually the primary key",
        )


def check_access(conn: Any, target: MySQLTarget, source_db: str, tables: list[str], replication: bool) -> None:
    """Grants: REPLICATION SLAVE and CLIENT for binlog capture, SELECT on the source tables."""
    with conn.cursor() as cur:
        cur.execute(q.SHOW_GRANTS)
        grants = [str(r[0]) for r in cur.fetchall()]  # never logged: lines may carry password hashes
    problems = grant_problems(grants, source_db, tables, replication)
    if problems:
        raise SourceError(f"MySQL user at {target.describe()} lacks privileges: " + "; ".join(problems))


def check_lock_access(conn: Any, target: MySQLTarget, source_db: str, method: str) -> None:
    """The privilege a snapshot's lock needs (``lock_grant_problems``), before anything is written."""
    with conn.cursor() as cur:
        cur.execute(q.SHOW_GRANTS)
        grants = [str(r[0]) for r in cur.fetchall()]  # never logged: lines may carry password hashes
    problems = lock_grant_problems(grants, source_db, method)
    if problems:
        raise SourceError(f"MySQL user at {target.describe()} lacks privileges: " + "; ".join(problems))


def snapshot_status(conn: Any) -> dict[str, str]:
    """``binlog_snapshot_*`` status: what a server that reports a snapshot's own position (MariaDB,
    Percona Server) shows; empty on MySQL."""
    with conn.cursor() as cur:
        cur.execute(q.SNAPSHOT_POSITION)
        return {str(name).lower(): str(value) for name, value in cur.fetchall()}


def check_server_id(conn: Any, variables: dict[str, str], server_id: int) -> None:
    """Our replica id must be unique among the source and its registered replicas."""
    with conn.cursor() as cur:
        try:
            cur.execute(q.REPLICA_HOSTS)
            replicas = [(int(r[0]), str(r[1] or "")) for r in cur.fetchall()]
        except pymysql.err.MySQLError:  # not allowed to list them: the binlog dump will say so
            replicas = []
    source_id = int(variables["server_id"]) if variables.get("server_id", "").isdigit() else None
    problems = server_id_problems(server_id, source_id, replicas)
    if problems:
        raise SourceError("; ".join(problems))
