"""Checks of the source server's binlog settings, as pure functions of ``SHOW VARIABLES``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from s3rb_stream.core.gtid import Flavor
from s3rb_stream.errors import BinlogSettingsError

Service = Literal["rds", "aurora"]
RDS_MAX_RETENTION_HOURS = {"rds": 168, "aurora": 2160}  # what mysql.rds_set_configuration accepts (AWS docs)


def managed_service(variables: dict[str, str]) -> Service | None:
    """Amazon Aurora (it has ``aurora_version``) or RDS (it runs from ``/rdsdbbin/``: ``basedir``), from
    the server's own variables: RDS keeps its binlog settings in parameter groups and procedures."""
    v = {k.lower(): str(val) for k, val in variables.items()}
    if "aurora_version" in v:
        return "aurora"
    if v.get("basedir", "").startswith("/rdsdbbin/"):
        return "rds"
    return None


def _set_in(service: Service | None) -> str:
    """Where a binlog setting is changed on this server."""
    if service == "aurora":
        return " in the DB cluster parameter group (Aurora's binlog settings are cluster-level)"
    if service == "rds":
        return " in the instance's DB parameter group (a custom one: the default group cannot be changed)"
    return ""


def _log_bin_fix(service: Service | None) -> str:
    if service == "aurora":
        return (
            "Aurora writes no binlog until binlog_format is set in the DB cluster parameter group:"
            " set binlog_format=ROW there, then reboot the writer instance"
        )
    if service == "rds":
        return (
            "RDS writes the binlog only while automated backups are on:"
            " set the backup retention period to 1 day or more"
        )
    return "start the server with log_bin (binary logging)"


def binlog_problems(variables: dict[str, str]) -> list[str]:
    """Every reason row-based capture cannot work on a server with these global variables, each with
    its fix where this server takes it (on RDS and Aurora: the parameter group)."""
    v = {k.lower(): str(val) for k, val in variables.items()}
    where = _set_in(managed_service(v))
    problems = []
    if v.get("log_bin", "OFF").upper() not in ("ON", "1"):
        problems.append(f"log_bin is OFF: {_log_bin_fix(managed_service(v))}")
    if v.get("binlog_format", "").upper() != "ROW":
        problems.append(f"binlog_format={v.get('binlog_format', '?')}: set binlog_format=ROW{where}")
    if v.get("binlog_row_image", "FULL").upper() != "FULL":
        problems.append(f"binlog_row_image={v.get('binlog_row_image')}: set binlog_row_image=FULL{where}")
    if "binlog_row_metadata" in v and v["binlog_row_metadata"].upper() != "FULL":
        problems.append(f"binlog_row_metadata={v['binlog_row_metadata']}: set binlog_row_metadata=FULL{where}")
    if v.get("log_bin_compress", "OFF").upper() in ("ON", "1"):
        problems.append(
            f"log_bin_compress=ON: compressed binlog events are not supported yet; set log_bin_compress=OFF{where}"
        )
    # binlog_transaction_compression (MySQL) is fine: capture decompresses each transaction as it reads it.
    return problems


def require_binlog_settings(variables: dict[str, str], where: str) -> None:
    problems = binlog_problems(variables)
    if problems:
        raise BinlogSettingsError(f"{where} cannot be captured: " + "; ".join(problems))


def server_flavor(variables: dict[str, str]) -> Flavor:
    text = " ".join(variables.get(k, "") for k in ("version", "version_comment"))
    return "mariadb" if "mariadb" in text.lower() else "mysql"


_RELEASE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def server_release(version: str) -> tuple[Flavor, tuple[int, int, int]]:
    """Flavor and version from a server's version string: ``8.4.3``, ``8.0.36-28`` (Percona),
    ``5.5.5-10.11.6-MariaDB-log`` (MariaDB's handshake puts 5.5.5- first). Unreadable: (0, 0, 0)."""
    flavor: Flavor = "mariadb" if "mariadb" in version.lower() else "mysql"
    text = version[6:] if version.startswith("5.5.5-") else version
    found = _RELEASE.match(text.strip())
    return flavor, (int(found[1]), int(found[2]), int(found[3])) if found else (0, 0, 0)


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
_ALL = {"ALL PRIVILEGES", "ALL"}


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


@dataclass
class _Granted:
    """What ``SHOW GRANTS`` lines give the user: global privileges, privileges on the source schema,
    the tables it may SELECT from one by one, and whether a role is granted (not resolved)."""

    global_privs: set[str] = field(default_factory=set)
    db_privs: set[str] = field(default_factory=set)
    table_select: set[str] = field(default_factory=set)
    roles: bool = False

    @property
    def has_all(self) -> bool:
        return bool(self.global_privs & _ALL)


def _granted(grants: list[str], source_db: str) -> _Granted:
    granted = _Granted()
    for line in grants:
        match = _GRANT.match(line)
        if not match:
            granted.roles = granted.roles or (line.upper().startswith("GRANT ") and " ON " not in line.upper())
            continue
        privs = _privileges(match["privs"])
        db_part, _, table_part = match["object"].partition(".")
        db, table = _name(db_part), _name(table_part)
        if db is None:
            granted.global_privs |= privs
        elif _db_matches(db, source_db):
            if table is None:
                granted.db_privs |= privs
            elif privs & ({"SELECT"} | _ALL):
                granted.table_select.add(table)
    return granted


def grant_problems(grants: list[str], source_db: str, tables: list[str], replication: bool) -> list[str]:
    """What the grants of the pipeline's MySQL user lack, each with the statement that fixes it.

    ``grants`` are the lines of ``SHOW GRANTS``. Privileges that come through roles are not
    resolved here: with a role grant present, nothing is reported.
    """
    granted = _granted(grants, source_db)
    if granted.roles:
        return []
    global_privs = granted.global_privs
    problems = []
    if replication and not granted.has_all and "REPLICATION SLAVE" not in global_privs:
        problems.append("the user lacks REPLICATION SLAVE: GRANT REPLICATION SLAVE ON *.* TO <user>")
    if replication and not granted.has_all and not global_privs & _REPLICATION_CLIENT:
        problems.append(
            "the user lacks REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5+):"
            " GRANT REPLICATION CLIENT ON *.* TO <user>"
        )
    if not (granted.has_all or "SELECT" in global_privs or granted.db_privs & ({"SELECT"} | _ALL)):
        missing = [t for t in tables if t not in granted.table_select]
        if missing:
            problems.append(
                f"the user cannot SELECT from {source_db} ({', '.join(missing[:5])}):"
                f" GRANT SELECT ON `{source_db}`.* TO <user>"
            )
    return problems


def lock_grant_problems(grants: list[str], source_db: str, method: str) -> list[str]:
    """What a snapshot's lock needs that the user lacks (docs/ARCHITECTURE.md, "Snapshots"):
    ``tables`` (LOCK TABLES ... READ) the LOCK TABLES privilege on the schema, ``global`` (FLUSH
    TABLES WITH READ LOCK) RELOAD. Roles are not resolved, as in :func:`grant_problems`."""
    granted = _granted(grants, source_db)
    if method not in ("tables", "global") or granted.roles or granted.has_all:
        return []
    if method == "global" and "RELOAD" not in granted.global_privs:
        return [
            "the user lacks RELOAD, which FLUSH TABLES WITH READ LOCK needs (S3RB_SNAPSHOT_LOCKING=global):"
            " GRANT RELOAD ON *.* TO <user>; on RDS and Aurora, which refuse that lock, set"
            " S3RB_SNAPSHOT_LOCKING=tables instead"
        ]
    if method == "tables" and not (granted.global_privs | granted.db_privs) & ({"LOCK TABLES"} | _ALL):
        return [
            f"the user lacks LOCK TABLES on {source_db}, which a snapshot on MySQL takes for a moment to"
            f" read a position it is consistent with: GRANT LOCK TABLES ON `{source_db}`.* TO <user>"
        ]
    return []


# --------------------------------------------------------------------------- retention and server_id


@dataclass(frozen=True)
class Retention:
    """How long the source keeps its binlogs. ``hours`` None: until purged by hand, or (``unread``
    says why) not known. ``setting`` is what sets it, as its fix names it."""

    hours: float | None
    setting: str
    service: Service | None = None
    unread: str | None = None

    def describe(self) -> str:
        if self.hours is None:
            return "keeps binlogs until they are purged by hand"
        return f"keeps binlogs {self.hours:g} h ({self.setting})"


def variables_retention(variables: dict[str, str]) -> Retention:
    """A server's own expiry: ``binlog_expire_logs_seconds``, else ``expire_logs_days``; 0 keeps them."""
    v = {k.lower(): str(val) for k, val in variables.items()}
    seconds = float(v.get("binlog_expire_logs_seconds", "0") or 0)
    if seconds > 0:
        return Retention(seconds / 3600, f"binlog_expire_logs_seconds={v['binlog_expire_logs_seconds']}")
    days = float(v.get("expire_logs_days", "0") or 0)
    if days > 0:
        return Retention(days * 24, f"expire_logs_days={v['expire_logs_days']}")
    return Retention(None, "binlog_expire_logs_seconds=0")


def rds_retention(service: Service, value: str | None) -> Retention:
    """RDS and Aurora ignore the server's expiry; ``binlog retention hours`` decides (from
    ``CALL mysql.rds_show_configuration``). NULL keeps none on RDS (0 hours); Aurora purges lazily,
    usually within a day, which is no promise: 0 hours counted too."""
    if value is None or str(value).strip().upper() in ("", "NULL"):
        lazily = "purged lazily, usually within a day" if service == "aurora" else "none kept"
        return Retention(0, f"binlog retention hours is NULL: {lazily}", service)
    try:
        hours = float(value)
    except ValueError:
        return Retention(None, "binlog retention hours", service, unread=f"its value {value!r} is not a number")
    return Retention(hours, f"binlog retention hours={value}", service)


def _fix_retention(retention: Retention, hours: int) -> str:
    """The statement that makes the source keep binlogs ``hours``."""
    if retention.service is not None:
        return f"as the master user: CALL mysql.rds_set_configuration('binlog retention hours', {hours});"
    return (
        f"set binlog_expire_logs_seconds={hours * 3600} or more in the server's configuration"
        " (MySQL 8: SET PERSIST binlog_expire_logs_seconds = ...)"
    )


def retention_problem(retention: Retention, min_hours: int) -> tuple[str, str] | None:
    """(what, fix) when the source keeps binlogs less than ``min_hours`` (S3RB_MIN_BINLOG_RETENTION_HOURS):
    a snapshot, or an outage of the pipeline, that outlasts it ends with the binlog it resumes from
    purged, and re-snapshotting only starts over."""
    if min_hours <= 0 or retention.unread is not None or retention.hours is None or retention.hours >= min_hours:
        return None
    what = (
        f"{retention.describe()}, less than the {min_hours} h the pipeline needs (S3RB_MIN_BINLOG_RETENTION_HOURS):"
        " a snapshot, or an outage of the pipeline, longer than that cannot resume"
    )
    limit = RDS_MAX_RETENTION_HOURS.get(retention.service or "")
    if limit is not None and min_hours > limit:
        return what, (
            f"{retention.service} keeps binlogs {limit} h at most: {_fix_retention(retention, limit)} and set"
            f" S3RB_MIN_BINLOG_RETENTION_HOURS={limit} or less"
        )
    return what, f"{_fix_retention(retention, min_hours)} (or lower S3RB_MIN_BINLOG_RETENTION_HOURS to accept it)"


def retention_notice(retention: Retention, min_hours: int) -> str | None:
    """A warning when the retention could not be read, so it was not checked."""
    if retention.unread is None or min_hours <= 0:
        return None
    return (
        f"the binlog retention of this {retention.service or 'server'} could not be read ({retention.unread}),"
        f" so it was not checked against S3RB_MIN_BINLOG_RETENTION_HOURS={min_hours}: let the user read it"
        " (GRANT EXECUTE ON PROCEDURE mysql.rds_show_configuration TO <user>), or check it by hand:"
        " CALL mysql.rds_show_configuration;"
    )


def retention_warning(retention: Retention, checkpoint_age_seconds: float) -> str | None:
    """A warning when the checkpoint is old enough that the binlogs it needs may be purged soon."""
    if retention.hours is None or checkpoint_age_seconds < retention.hours * 3600 / 2:
        return None
    longer = min(max(2 * int(retention.hours), 72), RDS_MAX_RETENTION_HOURS.get(retention.service or "", 10**6))
    return (
        f"the checkpoint is {checkpoint_age_seconds / 3600:.1f} h old and the server {retention.describe()}:"
        f" resume capture soon, or keep binlogs longer ({_fix_retention(retention, longer)}),"
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
