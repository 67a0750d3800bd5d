from __future__ import annotations

import pytest

from s3rb_stream.errors import ConfigError
from s3rb_stream.settings import parse_warehouse_url
from s3rb_stream.targets.redshift import connect_options


def test_password_login_with_ssl_by_default() -> None:
    options = connect_options(parse_warehouse_url("redshift://loader:pw@cluster:5439/dev"))
    assert options == {
        "host": "cluster",
        "port": 5439,
        "user": "loader",
        "password": "pw",
        "database": "dev",
        "ssl": True,
        "timeout": None,  # no statement timeout: no socket timeout either, keepalive finds a dead peer
        "tcp_keepalive": True,
        "tcp_keepalive_idle": 60,
        "tcp_keepalive_interval": 10,
        "tcp_keepalive_count": 6,
    }


def test_the_socket_timeout_sits_above_the_statement_timeout_unless_the_url_sets_it() -> None:
    location = parse_warehouse_url("redshift://u:p@h:5439/db")
    assert connect_options(location, statement_timeout=3600)["timeout"] == 3600 + 120
    explicit = parse_warehouse_url("redshift://u:p@h:5439/db?timeout=45&tcp_keepalive_idle=30")
    options = connect_options(explicit, statement_timeout=3600)
    assert (options["timeout"], options["tcp_keepalive_idle"]) == (45, 30)


def test_timeouts_are_told_apart_from_other_errors() -> None:
    from s3rb_stream.targets.redshift_errors import timed_out

    assert timed_out(TimeoutError("timed out")) == "no answer within the driver's socket timeout"
    cancelled = {"S": "ERROR", "C": "57014", "M": "Query (150) cancelled on user's request"}
    assert timed_out(Exception(cancelled)) == "cancelled by Redshift's statement_timeout"
    assert timed_out(Exception({"C": "XX000", "M": "Query (7) cancelled on user's request"})) is not None
    assert timed_out(Exception({"C": "23505", "M": "duplicate key"})) is None
    assert timed_out(ConnectionResetError()) is None


def test_iam_login_options_reach_the_driver() -> None:
    url = "redshift://loader@cluster:5439/dev?iam=true&cluster_identifier=c1&region=eu-west-1&db_user=loader"
    options = connect_options(parse_warehouse_url(url))
    assert options["iam"] is True and "password" not in options
    assert (options["cluster_identifier"], options["region"], options["db_user"]) == ("c1", "eu-west-1", "loader")


def test_local_emulator_without_ssl() -> None:
    assert connect_options(parse_warehouse_url("redshift://u:p@127.0.0.1:5439/db?ssl=false"))["ssl"] is False


def test_unknown_option_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown option 'sll'"):
        connect_options(parse_warehouse_url("redshift://u:p@h:5439/db?sll=false"))


def test_a_row_too_wide_for_redshift_is_named_with_its_widest_columns() -> None:
    from s3rb_stream.core.schema import SourceColumn, SourceTable
    from s3rb_stream.targets.redshift import too_wide_hint

    table = SourceTable(
        "s",
        "wide",
        (
            SourceColumn("id", "int", "int"),
            SourceColumn("a", "text", "text", char_length=65535),
            SourceColumn("b", "varchar", "varchar(100)", char_length=100),
            SourceColumn("c", "blob", "blob", char_length=65535),
        ),
        ("id",),
    )
    error = Exception(
        {
            "C": "XX000",
            "M": "8001",
            "D": "The combined length of columns processed in the SQL statement exceeded the query-processing"
            " limit of 65535 characters (pid:123)",
        }
    )
    hint = too_wide_hint(error, table)
    assert hint is not None and "error 8001" in hint
    assert "a (65535 bytes), c (65535 bytes), b (400 bytes)" in hint
    assert too_wide_hint(Exception({"C": "23505", "M": "duplicate key"}), table) is None
