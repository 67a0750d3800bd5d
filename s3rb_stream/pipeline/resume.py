"""Where capture resumes, and whether it can: the checkpoint, completed snapshots, the positioning
setting, and what the server still holds. Never skip ahead: what is gone is named, with the command
that re-snapshots only the affected tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s3rb_stream.core.checkpoint import Checkpoint
from s3rb_stream.core.gtid import Flavor, GtidState
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import Retention, gtid_problems, gtid_warning, server_flavor
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import BinlogGone, BinlogSettingsError, ConfigError, listed
from s3rb_stream.log import get_logger
from s3rb_stream.settings import Settings, TableConfig
from s3rb_stream.sources import mysql_meta
from s3rb_stream.state.extracts import load_extract
from s3rb_stream.store.base import ObjectStore

log = get_logger(__name__)


def snapshot_positions(
    store: ObjectStore, source_db: str, target_schema: str, tables: list[tuple[TableConfig, SourceTable]]
) -> dict[str, BinlogPosition]:
    """Binlog tables whose last snapshot is complete, with the position each is consistent with."""
    positions = {}
    for _, table in tables:
        state = load_extract(store, source_db, target_schema, table.name)
        if state is None or state.kind != "snapshot":
            continue
        if state.status == "running":
            log.warning(
                "a snapshot of this table is unfinished: its loads wait until `s3rb-stream snapshot` completes it",
                table=table.name,
            )
        elif state.position is not None:
            positions[table.name] = state.position
    return positions


def choose_start(
    checkpoint: Checkpoint | None,
    snapshots: dict[str, BinlogPosition],
    tables: list[str],
    fallback: Callable[[], BinlogPosition],
) -> tuple[BinlogPosition, dict[str, int], list[str]]:
    """Where capture starts, per table the sequence below which its rows are already complete, and
    the tables that start at ``fallback`` (``--start-position``).

    Each table starts where its own data begins (docs/ARCHITECTURE.md, "Where capture starts"): a
    table the checkpoint covers at the checkpoint (or later, where it still skipped when the
    checkpoint was saved); a table snapshotted but not captured yet at its snapshot's position; any
    other table at ``fallback``, called only when such a table exists. Capture reads from the
    lowest of them, and each table skips what lies below its own start.
    """
    covered: set[str] = set()
    if checkpoint is not None:
        covered = set(tables) if checkpoint.tables is None else set(checkpoint.tables) & set(tables)
    starts: dict[str, BinlogPosition] = {}
    floors: dict[str, int] = {}
    unstarted: list[str] = []
    for name in tables:
        if checkpoint is not None and name in covered:
            starts[name] = checkpoint.position
            floors[name] = max(checkpoint.position.seq, checkpoint.skip_below.get(name, 0))
        elif name in snapshots:
            starts[name] = snapshots[name]
            floors[name] = snapshots[name].seq
        else:
            unstarted.append(name)
    if unstarted:
        position = fallback()
        for name in unstarted:
            starts[name] = position
            floors[name] = position.seq
    start = min(starts.values(), key=_seq)
    skip = {name: floor for name, floor in floors.items() if floor > start.seq}
    return start, skip, unstarted


def _seq(position: BinlogPosition) -> int:
    return position.seq


def gtid_flavor(
    settings: Settings, variables: dict[str, str], checkpoint: Checkpoint | None, warnings: list[str]
) -> Flavor | None:
    """The server's flavor when positioning by GTID (None by file), once the server and the
    checkpoint agree with the setting: the two number ``_s3rb_seq`` differently."""
    if checkpoint is not None and (checkpoint.position.ordinal is not None) != (settings.positioning == "gtid"):
        was = "gtid" if checkpoint.position.ordinal is not None else "file"
        raise ConfigError(
            f"the checkpoint of {checkpoint.source_db} → {checkpoint.target_schema} was written with"
            f" S3RB_POSITIONING={was}, but it is now {settings.positioning}: the two number _s3rb_seq differently",
            f"set S3RB_POSITIONING={was}; to switch, drop the target tables, delete the checkpoint and snapshot again",
        )
    if settings.positioning != "gtid":
        return None
    problems = gtid_problems(variables)
    if problems:
        raise BinlogSettingsError("GTID positioning cannot work on this source: " + "; ".join(problems))
    warning = gtid_warning(variables)
    if warning:
        warnings.append(warning)
        log.warning(warning)
    return server_flavor(variables)


def lost_range(conn: Any, start: BinlogPosition, now: BinlogPosition, gtid: Flavor | None) -> str | None:
    """What capture would lose resuming at ``start`` on this server, or None when it can resume."""
    if gtid is None:
        logs = mysql_meta.binary_logs(conn)
        if start.file in logs:
            return None
        oldest = logs[0] if logs else "none"
        return (
            f"binlog {start.file} is no longer on the server: changes from {start} up to the start of {oldest} are lost"
        )
    have = GtidState.parse(start.gtid or "", gtid)
    purged = have.missing_since(mysql_meta.purged_gtids(conn, gtid))
    if purged:
        return f"the server's binlogs no longer hold GTIDs up to {', '.join(purged)}: changes after {start} are lost"
    behind = GtidState.parse(now.gtid or "", gtid).missing_since(have)
    if behind:
        return (
            f"the server lacks GTIDs up to {', '.join(behind)} that the target already has: it is behind the"
            " checkpoint (a replica promoted before it caught up?), and resuming would lose or repeat changes"
        )
    return None


def purged_error(
    source_db: str,
    target_schema: str,
    binlog_tables: list[tuple[TableConfig, SourceTable]],
    lost: str,
    retention: Retention | None = None,
) -> BinlogGone:
    """Never skip ahead: name what is lost and the command that re-snapshots only those tables; and
    how long the server keeps binlogs, which the snapshot and the run after it must not outlast."""
    only = " ".join(f"-t {t.name}" for c, t in binlog_tables if c.mode != "append")
    history = [t.name for c, t in binlog_tables if c.mode == "append"]
    append = f"; the history of append tables {listed(history)} in that range cannot be recovered" if history else ""
    kept = ""
    if retention is not None and retention.hours is not None:
        kept = (
            f"; the server {retention.describe()}: the snapshot and the run after it must end within that,"
            " or this happens again"
        )
    return BinlogGone(
        f"cannot resume {source_db} → {target_schema}: {lost}",
        "never skipped silently; re-snapshot the tables captured from the binlog, then run again:"
        f" s3rb-stream snapshot --source-db {source_db} --target-schema {target_schema} {only} --restart"
        + append
        + kept,
    )
