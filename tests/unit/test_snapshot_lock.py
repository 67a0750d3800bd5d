"""Which way a snapshot is made consistent with its position, and what its lock needs (no server)."""

from __future__ import annotations

from typing import get_args

import pytest

from s3rb_stream.core.preflight import lock_grant_problems
from s3rb_stream.core.snapshot_lock import DESCRIPTIONS, Locking, Method, choose_method
from s3rb_stream.settings import load_settings
from s3rb_stream.sql.mysql import lock_tables_read

MARIADB_STATUS = {"Binlog_snapshot_file": "mariadb-bin.000003", "Binlog_snapshot_position": "1234"}


@pytest.mark.parametrize("locking", get_args(Locking))
def test_a_server_that_reports_the_snapshot_position_takes_no_lock(locking: Locking) -> None:
    assert choose_method(MARIADB_STATUS, locking, None) == "server"
    assert choose_method(MARIADB_STATUS, locking, "mariadb") == "server"  # BINLOG_GTID_POS gives its GTIDs


@pytest.mark.parametrize("locking", get_args(Locking))
def test_mysql_gets_the_configured_lock(locking: Locking) -> None:
    assert choose_method({}, locking, None) == locking
    assert choose_method({"Binlog_snapshot_file": "", "Binlog_snapshot_position": ""}, locking, None) == locking


def test_gtid_positioning_on_mysql_needs_the_gtid_set_of_the_snapshot_too() -> None:
    assert choose_method(MARIADB_STATUS, "tables", "mysql") == "tables"
    with_gtids = {**MARIADB_STATUS, "Binlog_snapshot_gtid_executed": "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}
    assert choose_method(with_gtids, "tables", "mysql") == "server"


def test_every_method_is_described_and_only_none_is_inexact() -> None:
    assert set(DESCRIPTIONS) == set(get_args(Method))
    assert [m for m, text in DESCRIPTIONS.items() if not text.startswith("exact")] == ["none"]
    assert "S3RB_SNAPSHOT_LOCKING=none" in DESCRIPTIONS["none"]


def test_the_default_is_the_lock_rds_and_aurora_allow() -> None:
    assert load_settings().snapshot_locking == "tables"


GRANT_USER = "TO `cdc`@`%`"


@pytest.mark.parametrize(
    ("grants", "method", "needle"),
    [
        ([f"GRANT SELECT, LOCK TABLES ON `sales`.* {GRANT_USER}"], "tables", None),
        ([f"GRANT LOCK TABLES ON *.* {GRANT_USER}", f"GRANT SELECT ON `sales`.* {GRANT_USER}"], "tables", None),
        ([f"GRANT ALL PRIVILEGES ON `sales`.* {GRANT_USER}"], "tables", None),
        ([f"GRANT ALL PRIVILEGES ON *.* {GRANT_USER}"], "global", None),
        ([f"GRANT LOCK TABLES ON `sa%`.* {GRANT_USER}"], "tables", None),  # a pattern that matches
        ([f"GRANT SELECT ON `sales`.* {GRANT_USER}"], "tables", "GRANT LOCK TABLES ON `sales`.* TO <user>"),
        ([f"GRANT LOCK TABLES ON `other`.* {GRANT_USER}"], "tables", "GRANT LOCK TABLES ON `sales`.*"),
        ([f"GRANT SELECT ON `sales`.`t` {GRANT_USER}"], "tables", "lacks LOCK TABLES on sales"),
        ([f"GRANT RELOAD ON *.* {GRANT_USER}"], "global", None),
        ([f"GRANT SELECT, LOCK TABLES ON `sales`.* {GRANT_USER}"], "global", "GRANT RELOAD ON *.* TO <user>"),
        ([f"GRANT RELOAD ON `sales`.* {GRANT_USER}"], "global", "S3RB_SNAPSHOT_LOCKING=tables"),
        (["GRANT `cdc_role` TO `cdc`@`%`"], "tables", None),  # roles are not resolved: nothing reported
        ([f"GRANT SELECT ON `sales`.* {GRANT_USER}"], "server", None),  # no lock, nothing needed
        ([f"GRANT SELECT ON `sales`.* {GRANT_USER}"], "none", None),
    ],
)
def test_lock_grant_problems(grants: list[str], method: str, needle: str | None) -> None:
    problems = lock_grant_problems(grants, "sales", method)
    if needle is None:
        assert problems == []
    else:
        assert len(problems) == 1 and needle in problems[0], problems


def test_lock_tables_names_every_table_quoted() -> None:
    assert lock_tables_read("sa`les", ["a", "we`ird"]) == "LOCK TABLES `sa``les`.`a` READ, `sa``les`.`we``ird` READ"
