from __future__ import annotations

import pytest

from s3rb_stream.core.preflight import (
    Retention,
    binlog_problems,
    grant_problems,
    managed_service,
    rds_retention,
    require_binlog_settings,
    retention_notice,
    retention_problem,
    retention_warning,
    server_id_problems,
    server_release,
    variables_retention,
)
from s3rb_stream.errors import BinlogSettingsError

GOOD = {
    "log_bin": "ON",
    "binlog_format": "ROW",
    "binlog_row_image": "FULL",
    "binlog_row_metadata": "FULL",
    "log_bin_compress": "OFF",
}


def test_good_settings_pass() -> None:
    assert binlog_problems(GOOD) == []


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("log_bin", "OFF", "log_bin is OFF"),
        ("binlog_format", "STATEMENT", "binlog_format=STATEMENT"),
        ("binlog_format", "MIXED", "set binlog_format=ROW"),
        ("binlog_row_image", "MINIMAL", "binlog_row_image=MINIMAL"),
        ("binlog_row_metadata", "MINIMAL", "binlog_row_metadata=MINIMAL"),
        ("log_bin_compress", "ON", "log_bin_compress=ON"),
    ],
)
def test_each_bad_setting_is_named(name: str, value: str, needle: str) -> None:
    problems = binlog_problems({**GOOD, name: value})
    assert len(problems) == 1 and needle in problems[0]
    with pytest.raises(BinlogSettingsError, match="cannot be captured"):
        require_binlog_settings({**GOOD, name: value}, "server")


def test_mysql_transaction_compression_passes_preflight() -> None:
    """Capture decompresses TRANSACTION_PAYLOAD events (tests/unit/test_binlog_events.py); a session
    could turn compression on whatever the global says, so refusing it never protected anything."""
    assert binlog_problems({**GOOD, "binlog_transaction_compression": "ON"}) == []


MARIADB_CDC = [
    "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%` IDENTIFIED BY PASSWORD '*D8218'",
    "GRANT SELECT ON `sales`.* TO `cdc`@`%`",
]


@pytest.mark.parametrize(
    ("grants", "tables", "replication", "expected"),
    [
        (MARIADB_CDC, ["orders"], True, []),
        (["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], ["orders"], True, []),
        (["GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO `c`@`%`"], ["orders"], True, []),
        (["GRANT SELECT ON `s_les`.* TO `c`@`%`"], ["orders"], False, []),  # _ is a wildcard ...
        (["GRANT SELECT ON `s\\_les`.* TO `c`@`%`"], ["orders"], False, ["SELECT from sales"]),  # ... unless escaped
        (["GRANT SELECT ON `sal%`.* TO `c`@`%`"], ["orders"], False, []),  # a pattern
        (["GRANT SELECT (id, note) ON `sales`.`orders` TO `c`@`%`"], ["orders"], False, []),
        (["GRANT SELECT ON `sales`.`orders` TO `c`@`%`"], ["orders", "items"], False, ["SELECT from sales (items)"]),
        (["GRANT SELECT ON `other`.* TO `c`@`%`"], ["orders"], False, ["SELECT from sales"]),
        (["GRANT SELECT ON `sales`.* TO `c`@`%`"], ["orders"], True, ["REPLICATION SLAVE", "REPLICATION CLIENT"]),
        (["GRANT `cdc_role`@`%` TO `c`@`%`"], ["orders"], True, []),  # roles are not resolved: no claim
    ],
)
def test_grant_problems(grants: list[str], tables: list[str], replication: bool, expected: list[str]) -> None:
    problems = grant_problems(grants, "sales", tables, replication)
    assert len(problems) == len(expected)
    for problem, needle in zip(problems, expected, strict=True):
        assert needle in problem and "GRANT " in problem


def test_retention_warns_when_the_checkpoint_is_half_as_old_as_the_binlogs_kept() -> None:
    assert variables_retention({"binlog_expire_logs_seconds": "0", "expire_logs_days": "0.000000"}).hours is None
    assert variables_retention({"binlog_expire_logs_seconds": "0", "expire_logs_days": "2"}).hours == 48
    keep_day = variables_retention({"binlog_expire_logs_seconds": "86400"})
    assert retention_warning(keep_day, 3600) is None
    warning = retention_warning(keep_day, 13 * 3600)
    assert warning is not None and "13.0 h old" in warning and "24 h (binlog_expire_logs_seconds=86400)" in warning
    assert retention_warning(variables_retention({}), 10**9) is None  # binlogs kept until purged by hand


RDS = {**GOOD, "basedir": "/rdsdbbin/mysql-8.0.36.R1/", "version": "8.0.36"}
AURORA = {**GOOD, "basedir": "/rdsdbbin/oscar-8.0.mysql_aurora.3.05.2/", "aurora_version": "3.05.2"}


def test_rds_and_aurora_are_told_by_their_own_variables() -> None:
    assert managed_service(RDS) == "rds"
    assert managed_service(AURORA) == "aurora"  # Aurora also runs from /rdsdbbin/
    assert managed_service({**GOOD, "basedir": "/usr/", "version": "8.4.3"}) is None
    assert managed_service({**GOOD, "basedir": "/usr", "version": "10.11.6-MariaDB"}) is None


@pytest.mark.parametrize(
    ("variables", "where"),
    [
        (RDS, "in the instance's DB parameter group"),
        (AURORA, "in the DB cluster parameter group"),
    ],
)
def test_fixes_on_rds_and_aurora_name_the_parameter_group(variables: dict[str, str], where: str) -> None:
    for name, value in [
        ("binlog_format", "MIXED"),
        ("binlog_row_image", "MINIMAL"),
        ("binlog_row_metadata", "MINIMAL"),
    ]:
        (problem,) = binlog_problems({**variables, name: value})
        assert f"set {name}=" in problem and where in problem
    assert binlog_problems({**GOOD, "binlog_format": "MIXED"}) == ["binlog_format=MIXED: set binlog_format=ROW"]


def test_log_bin_off_names_how_rds_and_aurora_turn_it_on() -> None:
    (rds,) = binlog_problems({**RDS, "log_bin": "OFF"})
    assert "automated backups" in rds and "backup retention period" in rds
    (aurora,) = binlog_problems({**AURORA, "log_bin": "OFF"})
    assert "binlog_format" in aurora and "DB cluster parameter group" in aurora and "reboot the writer" in aurora
    (own,) = binlog_problems({**GOOD, "log_bin": "OFF"})
    assert "start the server with log_bin" in own


RDS_CALL = "CALL mysql.rds_set_configuration('binlog retention hours', {});"


def test_rds_keeping_no_binlog_is_refused_with_the_call_that_fixes_it() -> None:
    """NULL, RDS's default, keeps no binlog at all: refused, whatever binlog_expire_logs_seconds says."""
    retention = rds_retention("rds", None)
    assert retention.hours == 0
    problem = retention_problem(retention, 72)
    assert problem is not None
    assert "binlog retention hours is NULL: none kept" in problem[0] and "S3RB_MIN_BINLOG_RETENTION_HOURS" in problem[0]
    assert RDS_CALL.format(72) in problem[1]


def test_aurora_purging_lazily_is_no_retention() -> None:
    problem = retention_problem(rds_retention("aurora", None), 72)
    assert problem is not None and "purged lazily" in problem[0] and RDS_CALL.format(72) in problem[1]


@pytest.mark.parametrize(
    ("retention", "min_hours", "needles"),
    [
        (rds_retention("rds", "24"), 72, ["keeps binlogs 24 h (binlog retention hours=24)", RDS_CALL.format(72)]),
        (rds_retention("rds", "24"), 200, ["rds keeps binlogs 168 h at most", RDS_CALL.format(168)]),
        (rds_retention("aurora", "48"), 72, [RDS_CALL.format(72)]),
        (
            variables_retention({"binlog_expire_logs_seconds": "86400"}),
            72,
            ["24 h (binlog_expire_logs_seconds=86400)", "binlog_expire_logs_seconds=259200"],
        ),
        (variables_retention({"expire_logs_days": "1.000000"}), 72, ["expire_logs_days=1.000000"]),
    ],
)
def test_a_retention_below_the_minimum_is_refused(retention: Retention, min_hours: int, needles: list[str]) -> None:
    problem = retention_problem(retention, min_hours)
    assert problem is not None
    for needle in needles:
        assert needle in " ".join(problem)


@pytest.mark.parametrize(
    ("retention", "min_hours"),
    [
        (rds_retention("rds", "72"), 72),
        (rds_retention("rds", "168"), 72),
        (rds_retention("rds", None), 0),  # 0 turns the check off
        (variables_retention({"binlog_expire_logs_seconds": "2592000"}), 72),  # MySQL 8's default, 30 days
        (variables_retention({"binlog_expire_logs_seconds": "0", "expire_logs_days": "0"}), 72),  # kept until purged
    ],
)
def test_a_retention_at_or_above_the_minimum_passes(retention: Retention, min_hours: int) -> None:
    assert retention_problem(retention, min_hours) is None


def test_an_unreadable_rds_retention_is_a_warning_that_says_how_to_read_it() -> None:
    unread = Retention(None, "binlog retention hours", "rds", unread="error 1370: execute command denied")
    assert retention_problem(unread, 72) is None
    notice = retention_notice(unread, 72)
    assert notice is not None and "GRANT EXECUTE ON PROCEDURE mysql.rds_show_configuration" in notice
    assert retention_notice(rds_retention("rds", "72"), 72) is None
    assert rds_retention("rds", "many").unread is not None


def test_the_checkpoint_warning_on_rds_names_the_rds_call() -> None:
    warning = retention_warning(rds_retention("rds", "100"), 60 * 3600)
    assert warning is not None and RDS_CALL.format(168) in warning  # twice 100 h, at most RDS's 168
    kept_none = retention_warning(rds_retention("rds", None), 60)  # S3RB_MIN_BINLOG_RETENTION_HOURS=0 let it run
    assert kept_none is not None and "keeps binlogs 0 h" in kept_none and RDS_CALL.format(72) in kept_none


@pytest.mark.parametrize(
    ("version", "release"),
    [
        ("8.4.3", ("mysql", (8, 4, 3))),
        ("8.0.36-28", ("mysql", (8, 0, 36))),
        ("8.0.21-log", ("mysql", (8, 0, 21))),
        ("5.5.5-10.11.19-MariaDB-0+deb12u1-log", ("mariadb", (10, 11, 19))),
        ("10.11.19-MariaDB-0+deb12u1", ("mariadb", (10, 11, 19))),
    ],
)
def test_server_release(version: str, release: tuple[str, tuple[int, int, int]]) -> None:
    assert server_release(version) == release


def test_server_id_must_be_unique() -> None:
    assert server_id_problems(7, 1, [(8, "replica-a")]) == []
    assert "source's own server_id" in server_id_problems(1, 1, [])[0]
    assert "registered from replica-a" in server_id_problems(8, 1, [(8, "replica-a")])[0]
