"""The optional heartbeat table (``S3RB_HEARTBEAT_TABLE``), as Debezium's heartbeat action query:
on a source where nothing else is written for a while, the pipeline writes one row every
``S3RB_HEARTBEAT_TABLE_SECONDS``, so the binlog moves: capture's position, checkpoint and lag
follow real transactions, end to end, and the replication connection is never idle."""

from __future__ import annotations

from typing import Any

from s3rb_stream import metrics
from s3rb_stream.errors import S3rbError
from s3rb_stream.log import get_logger
from s3rb_stream.settings import MySQLTarget
from s3rb_stream.sources import mysql_meta
from s3rb_stream.sql.identifiers import quote_mysql

log = get_logger(__name__)


class HeartbeatWriter:
    def __init__(self, target: MySQLTarget, table: str, labels: tuple[str, str]) -> None:
        database, _, name = table.partition(".")
        self.target = target
        self.table = f"{quote_mysql(database)}.{quote_mysql(name)}"
        self.labels = labels
        self._created = False

    def beat(self) -> None:
        """One row, upserted; a failure is logged and counted, never the end of capture."""
        conn: Any = None
        try:
            conn = mysql_meta.connect(self.target)
            with conn.cursor() as cur:
                if not self._created:
                    cur.execute(
                        f"CREATE TABLE IF NOT EXISTS {self.table}"
                        " (id TINYINT PRIMARY KEY, beat_at DATETIME(6) NOT NULL)"
                    )
                    self._created = True
                cur.execute(
                    f"INSERT INTO {self.table} (id, beat_at) VALUES (1, NOW(6))"
                    " ON DUPLICATE KEY UPDATE beat_at = VALUES(beat_at)"
                )
        except S3rbError as exc:
            self._failed(str(exc))
        except Exception as exc:  # a driver error: no grant, no database
            self._failed(f"{type(exc).__name__}: {exc}")
        finally:
            if conn is not None:
                conn.close()

    def _failed(self, why: str) -> None:
        metrics.ERRORS.labels(*self.labels, "", "heartbeat").inc()
        log.warning(
            "heartbeat table not written",
            table=self.table,
            error=why,
            fix="grant CREATE, INSERT and UPDATE on it to the pipeline's user, or unset S3RB_HEARTBEAT_TABLE",
        )
