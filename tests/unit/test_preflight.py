from __future__ import annotations

import pytest

from s3rb_stream.core.preflight import (
    binlog_problems,
    grant_problems,
    require_binlog_settings,
    retention_seconds,
    retention_warning,
    server_id_problems,
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
    assert retention_seconds({"binlog_expire_logs_seconds": "0", "expire_logs_days": "0.000000"}) is None
    assert retention_seconds({"binlog_expire_logs_seconds": "0", "expire_logs_days": "2"}) == 172800
    keep_day = {"binlog_expire_logs_seconds": "86400"}
    assert retention_warning(keep_day, 3600) is None
    warning = retention_warning(keep_day, 13 * 3600)
    assert warning is not None and "13.0 h old" in warning and "24.0 h" in warning
    assert retention_warning({}, 10**9) is None  # binlogs kept until purged by hand


def test_server_id_must_be_unique() -> None:
    assert server_id_problems(7, 1, [(8, "replica-a")]) == []
    assert "source's own server_id" in server_id_problems(1, 1, [])[0]
    assert "registered from replica-a" in server_id_problems(8, 1, [(8, "replica-a")])[0]
