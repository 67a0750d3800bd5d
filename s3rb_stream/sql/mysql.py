"""Queries the pipeline sends to the MySQL source. Values always go as bound parameters."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from s3rb_stream.sql.identifiers import quote_mysql

TABLES_OF_SCHEMA = """
SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'
ORDER BY TABLE_NAME
"""

COLUMNS_OF_TABLES = """
SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE,
       CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, COLUMN_DEFAULT
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = %s
ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

# MariaDB's JSON is LONGTEXT with a json_valid() check; that check is how we know it is JSON.
# MariaDB only: its CHECK_CONSTRAINTS has TABLE_NAME (constraint names are unique per table there);
# MySQL's has no TABLE_NAME, and MySQL's JSON is a type of its own.
JSON_CHECKS = """
SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = %s AND CHECK_CLAUSE LIKE 'json\\_valid(%%'
"""

PRIMARY_KEYS = """
SELECT TABLE_NAME, COLUMN_NAME
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = %s AND INDEX_NAME = 'PRIMARY'
ORDER BY TABLE_NAME, SEQ_IN_INDEX
"""

BINLOG_VARIABLES = """
SHOW GLOBAL VARIABLES WHERE Variable_name IN (
  'log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata',
  'log_bin_compress', 'binlog_transaction_compression', 'server_id', 'version', 'version_comment',
  'binlog_expire_logs_seconds', 'expire_logs_days', 'gtid_mode', 'gtid_strict_mode',
  'basedir', 'aurora_version'
)
"""

SHOW_GRANTS = "SHOW GRANTS"
BINARY_LOGS = "SHOW BINARY LOGS"
RDS_CONFIGURATION = "CALL mysql.rds_show_configuration"  # RDS and Aurora: rows of (name, value, description)


def binary_log_status(flavor: str, version: tuple[int, int, int]) -> str:
    """The binlog's current file and position: MySQL 8.2 renamed ``SHOW MASTER STATUS`` and 8.4
    removed the old name; MariaDB has only the old one (and ``SHOW BINLOG STATUS``). Chosen by
    version, never by trying one and catching its error."""
    return "SHOW BINARY LOG STATUS" if flavor == "mysql" and version >= (8, 2, 0) else "SHOW MASTER STATUS"


def replica_hosts(flavor: str, version: tuple[int, int, int]) -> str:
    """The replicas registered with the source, (server_id, host, ...) per row: MySQL 8.0.22 added
    ``SHOW REPLICAS`` and 8.4 removed ``SHOW SLAVE HOSTS``, which MariaDB keeps."""
    return "SHOW REPLICAS" if flavor == "mysql" and version >= (8, 0, 22) else "SHOW SLAVE HOSTS"


GTID_AT = "SELECT BINLOG_GTID_POS(%s, %s)"  # MariaDB: the GTID state at a binlog file and offset
GTID_PURGED = "SELECT @@GLOBAL.gtid_purged"  # MySQL: the GTIDs no longer in any binlog

CONSISTENT_SNAPSHOT = "START TRANSACTION WITH CONSISTENT SNAPSHOT"
SNAPSHOT_POSITION = "SHOW STATUS LIKE 'binlog_snapshot_%'"  # MariaDB: the position of that snapshot
# A snapshot's lock on a server without that status (core/snapshot_lock.py), on a connection of its own.
LOCK_WAIT_TIMEOUT = "SET SESSION lock_wait_timeout = %s"
GLOBAL_READ_LOCK = "FLUSH TABLES WITH READ LOCK"
UNLOCK_TABLES = "UNLOCK TABLES"
UTC_SESSION = "SET SESSION time_zone = '+00:00'"
REPEATABLE_READ = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"
TABLE_ROWS_ESTIMATE = "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"


def _after(columns: Sequence[str]) -> str:
    """Row-value ``(a, b) > (%s, %s)`` spelled out, so every server plans it as an index range:
    ``a > %s OR (a = %s AND b > %s)``. Parameters: each prefix of the key, as :func:`after_params` lays out."""
    terms = []
    for i, column in enumerate(columns):
        equal = [f"{quote_mysql(c)} = %s" for c in columns[:i]]
        terms.append("(" + " AND ".join([*equal, f"{quote_mysql(column)} > %s"]) + ")")
    return "(" + " OR ".join(terms) + ")"


def after_params(values: Sequence[Any]) -> list[Any]:
    """Bound values for :func:`_after` over the same key."""
    params: list[Any] = []
    for i in range(len(values)):
        params.extend(values[: i + 1])
    return params


def select_list(columns: Sequence[str], floats: Collection[str] = ()) -> str:
    """The columns a query-based read selects. The text protocol prints a FLOAT to 6 significant
    digits, which loses most float32 values; as DOUBLE it prints the float's exact value."""
    return ", ".join(f"CAST({quote_mysql(c)} AS DOUBLE)" if c in floats else quote_mysql(c) for c in columns)


def keyset_chunk(
    database: str,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    resume: bool,
    limit: int,
    floats: Collection[str] = (),
) -> str:
    """The next ``limit`` rows in key order, after the bound key values when ``resume``."""
    cols = select_list(columns, floats)
    order = ", ".join(quote_mysql(k) for k in key)
    where = f" WHERE {_after(key)}" if resume else ""
    return f"SELECT {cols} FROM {quote_mysql(database)}.{quote_mysql(table)}{where} ORDER BY {order} LIMIT {int(limit)}"


def hybrid_chunk(
    database: str,
    table: str,
    columns: Sequence[str],
    ts: str,
    id_: str,
    mode: str,
    limit: int,
    floats: Collection[str] = (),
) -> str:
    """Rows in (timestamp, id) order.

    ``mode`` "all": every row (the first run); "from": ``ts >= %s`` (the first page of later runs,
    at the watermark minus the look-back); "after": ``(ts, id) > (%s, %s)`` (the following pages).
    Rows whose timestamp is NULL are never read.
    """
    cols = select_list(columns, floats)
    t, i = quote_mysql(ts), quote_mysql(id_)
    where = {"all": "", "from": f" AND {t} >= %s", "after": f" AND {_after([ts, id_])}"}[mode]
    return (
        f"SELECT {cols} FROM {quote_mysql(database)}.{quote_mysql(table)}"
        f" WHERE {t} IS NOT NULL{where} ORDER BY {t}, {i} LIMIT {int(limit)}"
    )


def lock_tables_read(database: str, tables: Sequence[str]) -> str:
    """``LOCK TABLES db.a READ, db.b READ``: held, no transaction that writes them can commit."""
    return "LOCK TABLES " + ", ".join(f"{quote_mysql(database)}.{quote_mysql(t)} READ" for t in tables)
