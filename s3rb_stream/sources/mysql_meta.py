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
    Retention,
    grant_problems,
    lock_grant_problems,
    managed_service,
    rds_retention,
    require_binlog_settings,
    retention_notice,
    retention_problem,
    server_id_problems,
    server_release,
    variables_retention,
)
from s3rb_stream.core.schema import MAX_ARROW_DECIMAL, SourceColumn, SourceTable
from s3rb_stream.errors import BinlogSettingsError, SchemaError, SourceError, SourceUnavailable, listed
from s3rb_stream.settings import MySQLTarget, MySQLTls, OptionTypes, TableConfig, TablesFile, typed_options
from s3rb_stream.sources.mysql_tls import CR_SSL_CONNECTION_ERROR, certificate_refused, pymysql_options
from s3rb_stream.sql import mysql as q

PYMYSQL_OPTIONS = OptionTypes(
    bools=frozenset({"ssl_verify_cert", "ssl_verify_identity", "ssl_disabled"}),
    ints=frozenset({"connect_timeout", "read_timeout", "write_timeout"}),
    strs=frozenset({"ssl_ca", "ssl_cert", "ssl_key", "charset", "unix_socket"}),
)
_TLS_OPTIONS = {"ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity", "ssl_disabled"}

# Server and client error codes a connection can end with that no retry will fix.
ER_DBACCESS_DENIED, ER_ACCESS_DENIED = 1044, 1045
ER_SPECIFIC_ACCESS_DENIED = 1227  # "you need (at least one of) the ... privilege(s)"
ER_SP_DOES_NOT_EXIST, ER_PROCACCESS_DENIED = 1305, 1370  # no such procedure; no EXECUTE on it
ER_NOT_SUPPORTED_AUTH_MODE = 1251  # the client cannot speak the account's authentication plugin
ER_PLUGIN_IS_NOT_LOADED = 1524  # e.g. mysql_native_password, off by default in MySQL 8.4
ER_SECURE_TRANSPORT_REQUIRED = 3159  # MySQL: require_secure_transport=ON and no TLS
CR_AUTH_PLUGIN_CANNOT_LOAD, CR_AUTH_PLUGIN_ERR = 2059, 2061
_AUTH_HINT = (
    "MySQL 8.0 and 8.4 log users in with caching_sha2_password, which sends the password over TLS (or"
    " RSA-encrypted, which only the metadata driver does): keep S3RB_MYSQL_SSL_MODE at PREFERRED or above"
    " with TLS on at the server. mysql_native_password is deprecated in 8.0 and off by default in 8.4;"
    " move the user off it: ALTER USER ... IDENTIFIED WITH caching_sha2_password BY '...'"
)


def driver_options(target: MySQLTarget) -> dict[str, Any]:
    """Keyword arguments for pymysql (and the binlog reader): the URL's other query options, and TLS
    as ``target.tls()`` says (the URL's ssl_* options are read there)."""
    kwargs: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "user": target.user,
        "password": target.password,
        "connect_timeout": 10,
        "charset": "utf8mb4",
    }
    options = typed_options(target.options, PYMYSQL_OPTIONS, "S3RB_MYSQL_URL")
    return kwargs | {k: v for k, v in options.items() if k not in _TLS_OPTIONS} | pymysql_options(target.tls())


def connection_error(target: MySQLTarget, code: int, detail: str = "", driver_note: str = "") -> SourceError:
    """What a failed connection means, for any of the three connections and either driver: a cause
    that no retry fixes (a refused login, TLS, authentication) is terminal; anything else is an
    unreachable server, retried. ``detail``: the driver's message; ``driver_note``: what a TLS
    failure may owe to the driver."""
    where = f"MySQL at {target.describe()}"
    tls = target.tls()
    if code == ER_SECURE_TRANSPORT_REQUIRED or (code == ER_ACCESS_DENIED and _needs_tls(target, tls.mode)):
        why = (
            "require_secure_transport=ON"
            if code == ER_SECURE_TRANSPORT_REQUIRED
            else ("require_secure_transport=ON, or the account's REQUIRE SSL: the same login succeeds over TLS")
        )
        return SourceError(
            f"{where} accepts only encrypted connections ({why}; error {code}), and S3RB_MYSQL_SSL_MODE is {tls.mode}",
            "set S3RB_MYSQL_SSL_MODE=VERIFY_IDENTITY with S3RB_MYSQL_SSL_CA (or REQUIRED: encrypted, the"
            " certificate unchecked)",
        )
    if code in (ER_DBACCESS_DENIED, ER_ACCESS_DENIED):
        return SourceError(
            f"{where} refused the login (error {code})",
            "check the user and password in S3RB_MYSQL_URL / S3RB_MYSQL_PASSWORD",
        )
    if code == CR_SSL_CONNECTION_ERROR:
        return SourceError(f"TLS with {where} failed: {detail}", _tls_hint(tls, detail) + driver_note)
    if code in (ER_PLUGIN_IS_NOT_LOADED, ER_NOT_SUPPORTED_AUTH_MODE, CR_AUTH_PLUGIN_CANNOT_LOAD, CR_AUTH_PLUGIN_ERR):
        return SourceError(f"{where} did not log the user in (error {code}: {detail})", _AUTH_HINT)
    return SourceUnavailable(
        f"cannot connect to MySQL at {target.describe()} (error {code})",
        "is the server running and reachable from here? check host and port in S3RB_MYSQL_URL",
    )


def pymysql_connection_error(target: MySQLTarget, exc: pymysql.err.MySQLError) -> SourceError:
    """:func:`connection_error` for PyMySQL's exception, whose refused certificate is error 2003."""
    refused = certificate_refused(exc)
    if refused is not None:
        return connection_error(target, CR_SSL_CONNECTION_ERROR, f"the server's certificate was refused: {refused}")
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return connection_error(target, code, str(exc.args[1]) if len(exc.args) > 1 else "")


def _tls_hint(tls: MySQLTls, detail: str) -> str:
    if "support" in detail.lower() or "offers no tls" in detail.lower():  # "... the server doesn't support it"
        return (
            f"the server does not offer TLS, and {tls.said_by} asks for {tls.mode}: turn TLS on at the"
            " server (ssl_cert, ssl_key), or set S3RB_MYSQL_SSL_MODE=PREFERRED"
        )
    hint = (
        f"with S3RB_MYSQL_SSL_MODE={tls.mode} the server's certificate must be signed by the CA in"
        " S3RB_MYSQL_SSL_CA (RDS and Aurora: the bundle for the region)"
    )
    if tls.mode == "VERIFY_IDENTITY":
        hint += ", and name the host of S3RB_MYSQL_URL (connect by that name, not by another name or address)"
    return hint


def _needs_tls(target: MySQLTarget, mode: str) -> bool:
    """Whether a login refused without TLS succeeds with it: MariaDB refuses a plain login under
    require_secure_transport as it refuses a wrong password (error 1045), so ask once more encrypted."""
    if mode != "DISABLED":
        return False
    options = driver_options(target) | pymysql_options(MySQLTls("REQUIRED"))
    options.pop("ssl_disabled", None)
    try:
        pymysql.connect(**options).close()
    except pymysql.err.MySQLError:
        return False
    return True


def connect(target: MySQLTarget, **extra: Any) -> Any:
    """A connection, or one line that says why not: never the driver's traceback."""
    try:
        return pymysql.connect(**{**driver_options(target), "autocommit": True, **extra})
    except pymysql.err.MySQLError as exc:
        raise pymysql_connection_error(target, exc) from None
    except RuntimeError as exc:  # caching_sha2_password without the cryptography package PyMySQL needs for it
        raise SourceError(
            f"cannot log in to MySQL at {target.describe()}: {str(exc).splitlines()[0]}",
            "install the Python package it names (pip install cryptography; a dependency of s3rb-stream, so"
            " this install is incomplete)",
        ) from None


def server_variables(conn: Any) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(q.BINLOG_VARIABLES)
        return {str(name).lower(): str(value) for name, value in cur.fetchall()}


def check_binlog(conn: Any, target: MySQLTarget) -> dict[str, str]:
    variables = server_variables(conn)
    require_binlog_settings(variables, f"MySQL at {target.describe()}")
    return variables


def binlog_retention(conn: Any, variables: dict[str, str]) -> Retention:
    """How long the source keeps binlogs: on RDS and Aurora ``binlog retention hours`` (the server's
    own expiry is not what purges them there), elsewhere the server's expiry."""
    service = managed_service(variables)
    if service is None:
        return variables_retention(variables)
    with conn.cursor() as cur:
        try:
            cur.execute(q.RDS_CONFIGURATION)
            rows = cur.fetchall()
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else 0
            if code not in (ER_PROCACCESS_DENIED, ER_SP_DOES_NOT_EXIST):
                raise
            return Retention(None, "binlog retention hours", service, unread=f"error {code}: {exc.args[1]}")
    values = {str(row[0]).strip().lower(): row[1] for row in rows if row}
    if "binlog retention hours" not in values:
        return Retention(None, "binlog retention hours", service, unread="mysql.rds_show_configuration has no such row")
    value = values["binlog retention hours"]
    return rds_retention(service, None if value is None else str(value))


def check_retention(
    conn: Any, target: MySQLTarget, variables: dict[str, str], min_hours: int
) -> tuple[Retention, list[str]]:
    """Refuse a source that keeps binlogs less than ``min_hours`` (S3RB_MIN_BINLOG_RETENTION_HOURS);
    the retention, and warnings (a retention that could not be read)."""
    retention = binlog_retention(conn, variables)
    problem = retention_problem(retention, min_hours)
    if problem is not None:
        raise BinlogSettingsError(f"MySQL at {target.describe()} {problem[0]}", problem[1])
    notice = retention_notice(retention, min_hours)
    return retention, [notice] if notice else []


def current_position(conn: Any, gtid: Flavor | None = None) -> BinlogPosition:
    """The end of the binlog now; with ``gtid``, with the GTID state there."""
    with conn.cursor() as cur:
        cur.execute(q.binary_log_status(*server_release(conn.get_server_info())))
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
    flavor, _ = server_release(conn.get_server_info())
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
        json_columns = _json_checked_columns(cur, source_db) if flavor == "mariadb" else set()
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
    """(table, column) of MariaDB JSON columns: LONGTEXT guarded by ``json_valid(col)``. MariaDB only:
    MySQL's JSON is a type of its own, and a LONGTEXT with such a check stays text there."""
    cur.execute(q.JSON_CHECKS, (source_db,))
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
    listing = _columns(conn, source_db)
    existing = listing[0]
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
        resolved.append((found, configured_table(found, listed_table(listing, source_db, name))))
    return resolved


Listing = tuple[list[str], dict[str, list[SourceColumn]], dict[str, list[str]]]


def list_schema(conn: Any, source_db: str) -> Listing:
    """The tables of ``source_db``, their columns and primary keys, in one read (``check`` walks
    them one by one to say what each lacks)."""
    return _columns(conn, source_db)


def listed_table(listing: Listing, source_db: str, name: str) -> SourceTable:
    """One table of a :func:`list_schema` listing, as the server defines it."""
    _, columns, keys = listing
    return SourceTable(source_db, name, tuple(columns[name]), tuple(keys.get(name, ())))


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
                f"{option} {listed(missing)} of {where} in the tables file are not columns of the table",
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


def check_server_id(conn: Any, variables: dict[str, str], server_id: int) -> str | None:
    """Our replica id must be unique among the source and its registered replicas. A warning when
    the user may not list the replicas (MariaDB 10.5+ asks REPLICATION MASTER ADMIN for it)."""
    flavor, version = server_release(variables.get("version", "") or conn.get_server_info())
    statement = q.replica_hosts(flavor, version)
    warning = None
    with conn.cursor() as cur:
        try:
            cur.execute(statement)
            replicas = [(int(r[0]), str(r[1] or "")) for r in cur.fetchall()]
        except pymysql.err.OperationalError as exc:
            if not exc.args or exc.args[0] != ER_SPECIFIC_ACCESS_DENIED:
                raise
            replicas = []
            grant = "REPLICATION MASTER ADMIN" if flavor == "mariadb" else "REPLICATION SLAVE"
            warning = (
                f"the user may not run {statement}, so S3RB_SERVER_ID={server_id} was not compared with the"
                f" replicas' server_id (a clash makes the server drop one of the two connections):"
                f" GRANT {grant} ON *.* TO <user>"
            )
    source_id = int(variables["server_id"]) if variables.get("server_id", "").isdigit() else None
    problems = server_id_problems(server_id, source_id, replicas)
    if problems:
        raise SourceError("; ".join(problems))
    return warning
