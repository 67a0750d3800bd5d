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
        "timeout": 30,
    }


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
