"""Checks of the source server's binlog settings, as pure functions of ``SHOW VARIABLES``."""

from __future__ import annotations

import re

from s3rb_stream.core.gtid import Flavor
from s3rb_stream.errors import BinlogSettingsError


def binlog_problems(variables: dict[str, str]) -> list[str]:
    """Every reason row-based capture cannot work on a server with these global variables."""
    v = {k.lower(): str(val) for k, val in variables.items()}
    problems = []
    if v.get("log_bin", "OFF").upper() not in ("ON", "1"):
        problems.append("log_bin is OFF: start the server with log_bin (binary logging)")
    if v.get("binlog_format", "").upper() != "ROW":
        problems.append(f"binlog_format={v.get('binlog_format', '?')}: set binlog_format=ROW")
    if v.get("binlog_row_image", "FULL").upper() != "FULL":
        problems.append(f"binlog_row_image={v.get('binlog_row_image')}: set binlog_row_image=FULL")
    if "binlog_row_metadata" in v and v["binlog_row_metadata"].upper() != "FULL":
        problems.append(f"binlog_row_metadata={v['binlog_row_metadata']}: set binlog_row_metadata=FULL")
    if v.get("log_bin_compress", "OFF").upper() in ("ON", "1"):
        problems.append("log_bin_compress=ON: compressed binlog events are not supported yet; set log_bin_compress=OFF")
    # binlog_transaction_compression (MySQL) is fine: capture decompresses each transaction as it reads it.
    return problems


def require_binlog_settings(variables: dict[str, str], where: str) -> None:
    problems = binlog_problems(variables)
    if problems:
        raise BinlogSettingsError(f"{where} cannot be captured: " + "; ".join(problems))


def server_flavor(variables: dict[str, str]) -> Flavor:
    text = " ".join(variables.get(k, "") for k in ("version", "version_comment"))
    return "mariadb" if "mariadb" in text.lower() else "mysql"


def gtid_problems(variables: dict[str, str]) -> list[str]:
    """Why GTID positioning (S3RB_POSITIONING=gtid) cannot work on this server, if it cannot."""
    if server_flavor(variables) == "mysql" and variables.get("gtid_mode", "OFF").upper() != "ON":
        return [f"gtid_mode={variables.get('gtid_mode', 'OFF')}: set gtid_mode=ON (and enforce_gtid_consistency=ON)"]
    return []


def gtid_warning(variables: dict[str, str]) -> str | None:
    if server_flavor(variables) == "mariadb" and variables.get("gtid_strict_mode", "OFF").upper() not in ("ON", "1"):
        return (
            "gtid_strict_mode is OFF on the source: GTID positioning stops with an error if a domain's"
            " seq_no ever goes back; set gtid_strict_mode=ON on every server of the topology"
        )
    return None


# --------------------------------------------------------------------------- grants

_GRANT = re.compile(r"^GRANT (?P<privs>.+?) ON (?P<object>(?:\*|`(?:[^`]|``)*`)\.(?:\*|`(?:[^`]|``)*`)) TO ", re.S)
_REPLICATION_CLIENT = {"REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"}


def _privileges(text: str) -> set[str]:
    """``SELECT (a, b), REPLICATION SLAVE`` → {"SELECT", "REPLICATION SLAVE"} (column lists dropped)."""
    without_columns = re.sub(r"\([^)]*\)", "", text)
    return {p.strip().upper() for p in without_columns.split(",") if p.strip()}


def _name(part: str) -> str | None:
    """A grant's database or table part: None for ``*``, the unquoted name otherwise."""
    return None if part == "*" else part[1:-1].replace("``", "`")


def _db_matches(pattern: str, db: str) -> bool:
    """Database names in grants are LIKE patterns: ``%`` and ``_`` are wildcards unless escaped."""
    regex = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, db) is not None


def grant_problems(grants: list[str], source_db: str, tables: list[str], replication: bool) -> list[str]:
    """What the grants of the pipeline's MySQL user lack, each with the statement that fixes it.

    ``grants`` are the lines of ``SHOW GRANTS``. Privileges that come through roles are not
    resolved here: with a role grant present, nothing is reported.
    """
    global_privs: set[str] = set()
    db_select = False
    table_select: set[str] = set()
    roles = False
    for line in grants:
        match = _GRANT.match(line)
        if not match:
            roles = roles or (line.upper().startswith("GRANT ") and " ON " not in line.upper())
            continue
        privs = _privileges(match["privs"])
        db_part, _, table_part = match["object"].partition(".")
        db, table = _name(db_part), _name(table_part)
        if db is None:
            global_privs |= privs
        elif _db_matches(db, source_db) and privs & {"SELECT", "ALL PRIVILEGES", "ALL"}:
            if table is None:
                db_select = True
            else:
                table_select.add(table)
    if roles:
        return []
    has_all = bool(global_privs & {"ALL PRIVILEGES", "ALL"})
    problems = []
    if replication and not has_all and "REPLICATION SLAVE" not in global_privs:
        problems.append("the user lacks REPLICATION SLAVE: GRANT REPLICATION SLAVE ON *.* TO <user>")
    if replication and not has_all and not global_privs & _REPLICATION_CLIENT:
        problems.append(
            "the user lacks REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5+):"
            " GRANT REPLICATION CLIENT ON *.* TO <user>"
        )
    if not (has_all or "SELECT" in global_privs or db_select):
        missing = [t for t in tables if t not in table_select]
        if missing:
            problems.append(
                f"the user cannot SELECT from {source_db} ({', '.join(missing[:5])}):"
                f" GRANT SELECT ON `{source_db}`.* TO <user>"
            )
    return problems


# --------------------------------------------------------------------------- retention and server_id


def retention_seconds(variables: dict[str, str]) -> float | None:
    """How long the server keeps binlogs; None when it keeps them until purged by hand."""
    v = {k.lower(): str(val) for k, val in variables.items()}
    seconds = float(v.get("binlog_expire_logs_seconds", "0") or 0)
    if seconds <= 0:
        seconds = float(v.get("expire_logs_days", "0") or 0) * 86400
    return seconds if seconds > 0 else None


def retention_warning(variables: dict[str, str], checkpoint_age_seconds: float) -> str | None:
    """A warning when the checkpoint is old enough that the binlogs it needs may be purged soon."""
    keep = retention_seconds(variables)
    if keep is None or checkpoint_age_seconds < keep / 2:
        return None
    return (
        f"the checkpoint is {checkpoint_age_seconds / 3600:.1f} h old and the server keeps binlogs"
        f" {keep / 3600:.1f} h: resume capture soon, or raise binlog_expire_logs_seconds,"
        " or the binlogs it needs will be purged and the tables must be snapshotted again"
    )


def server_id_problems(ours: int, source_server_id: int | None, replicas: list[tuple[int, str]]) -> list[str]:
    """Our replica server_id must differ from the source's and from every registered replica's."""
    problems = []
    if source_server_id is not None and ours == source_server_id:
        problems.append(f"S3RB_SERVER_ID={ours} is the source's own server_id: set S3RB_SERVER_ID to another value")
    taken = [host for sid, host in replicas if sid == ours]
    if taken:
        problems.append(
            f"server_id {ours} is already used by a replica registered from {taken[0] or 'an unknown host'}:"
            " set S3RB_SERVER_ID to a value no replica uses (or wait a minute if that is a previous run of"
            " this pipeline)"
        )
    return problems
