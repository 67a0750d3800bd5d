"""Run MySQL's snapshot path against MariaDB, and hold commits in the window it must close.

MySQL has no ``binlog_snapshot_file`` status; :data:`STATUS_MYSQL_LACKS` stands in for the
status query, so that a MariaDB server answers as MySQL does (nothing) and the snapshot takes the
MySQL path (docs/ARCHITECTURE.md, "Snapshots").

The window: a transaction that is in the binlog but whose InnoDB commit is not visible yet.
Semi-synchronous replication with ``rpl_semi_sync_master_wait_point=AFTER_SYNC`` (lossless
semi-sync, MySQL's default wait point) holds a commit exactly there until a replica acknowledges
it; with no replica, until ``rpl_semi_sync_master_timeout``, after which the server turns
semi-sync off until it is switched on again. So :func:`arm` holds the next commits in the window
for ``timeout_ms``, on a real server, with no debug build.
"""

from __future__ import annotations

from s3rb_stream.testing.mariadb import MariaDBServer

STATUS_MYSQL_LACKS = "SHOW STATUS LIKE 'binlog\\_snapshot\\_on\\_mysql\\_there\\_is\\_none'"


def arm(server: MariaDBServer, timeout_ms: int) -> None:
    """Hold the commits that start from now on in the window, for up to ``timeout_ms`` each."""
    server.execute(
        "SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'",
        f"SET GLOBAL rpl_semi_sync_master_timeout = {int(timeout_ms)}",
        "SET GLOBAL rpl_semi_sync_master_enabled = OFF",  # off and on again: waits again after a timeout
        "SET GLOBAL rpl_semi_sync_master_enabled = ON",
    )


def disarm(server: MariaDBServer) -> None:
    server.execute("SET GLOBAL rpl_semi_sync_master_enabled = OFF")


def commits_held(server: MariaDBServer) -> int:
    """How many commits wait in the window now (binlogged, not yet visible)."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_wait_sessions'")
            row = cur.fetchone()
        return int(row[1]) if row else 0
    finally:
        conn.close()
