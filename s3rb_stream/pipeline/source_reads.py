"""What every query-based read of the source does first: the tables it reads, resolved against
the source (``snapshot``, ``sync``, ``verify``), and how a snapshot is made consistent with a
binlog position (docs/ARCHITECTURE.md, "Snapshots"), settled before anything is written."""

from __future__ import annotations

from dataclasses import dataclass

from s3rb_stream.core.gtid import Flavor, GtidState
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import server_flavor
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.core.snapshot_lock import Method, OpenedSnapshot, choose_method
from s3rb_stream.errors import SourceError
from s3rb_stream.log import get_logger
from s3rb_stream.settings import Settings, TableConfig, load_tables_file
from s3rb_stream.sources import mysql_meta

log = get_logger(__name__)


def resolve_for_query(settings: Settings, source_db: str, need_binlog: bool) -> list[tuple[TableConfig, SourceTable]]:
    tables_file = load_tables_file(settings.tables_file)
    mysql = settings.mysql()
    conn = mysql_meta.connect(mysql)
    try:
        named = [e.table_pattern for e in tables_file.for_source(source_db) if not e.is_pattern]
        mysql_meta.check_access(conn, mysql, source_db, named, replication=False)
        if need_binlog:
            variables = mysql_meta.check_binlog(conn, mysql)
            # A snapshot that outlasts the binlogs kept cannot be followed by capture (docs/source.md).
            for note in mysql_meta.check_retention(conn, mysql, variables, settings.min_binlog_retention_hours)[1]:
                log.warning(note)
        return mysql_meta.resolve_tables(conn, source_db, tables_file)
    finally:
        conn.close()


@dataclass(frozen=True)
class SnapshotPlan:
    method: Method
    flavor: Flavor


def plan_snapshot(settings: Settings, source_db: str) -> SnapshotPlan:
    """How the snapshot is made consistent with its position, settled before anything is written:
    the server's own position, else the configured lock, whose privilege is checked here. Without
    a lock (``none``), a warning that says what can be lost."""
    mysql = settings.mysql()
    conn = mysql_meta.connect(mysql)
    try:
        flavor = server_flavor(mysql_meta.server_variables(conn))
        gtid_flavor = flavor if settings.positioning == "gtid" else None
        method = choose_method(mysql_meta.snapshot_status(conn), settings.snapshot_locking, gtid_flavor)
        mysql_meta.check_lock_access(conn, mysql, source_db, method)
    finally:
        conn.close()
    if method == "none":
        log.warning(
            "snapshot without a lock (S3RB_SNAPSHOT_LOCKING=none): a transaction that commits while the"
            " position is read can be missing from the target until its rows change again",
            source=mysql.describe(),
        )
    return SnapshotPlan(method, flavor)


def with_gtid_state(settings: Settings, plan: SnapshotPlan, opened: OpenedSnapshot) -> BinlogPosition | None:
    """With GTID positioning, the snapshot's position with the GTID state there: MariaDB tells it
    for any position; MySQL's is the executed set read with the position (under the lock)."""
    position = opened.position
    if settings.positioning != "gtid" or position is None:
        return position
    if plan.flavor == "mysql":
        if opened.gtid_executed is None:
            raise SourceError(
                "MySQL reported no executed GTID set with the snapshot's position",
                "is gtid_mode=ON on the source? Otherwise use S3RB_POSITIONING=file",
            )
        return mysql_meta.with_gtid(position, GtidState.parse(opened.gtid_executed, "mysql"))
    conn = mysql_meta.connect(settings.mysql())
    try:
        return mysql_meta.gtid_position(conn, position, "mariadb")
    finally:
        conn.close()
