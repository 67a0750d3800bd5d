"""One TLS setting for the three source connections, the statements chosen per server version, and
which connection failures are terminal. No server here: tests/integration/test_mysql_tls.py runs
the same settings against MariaDB with TLS."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from s3rb_stream.errors import ConfigError, SourceError
from s3rb_stream.retry import transient
from s3rb_stream.settings import MySQLTarget, load_settings, parse_mysql_url
from s3rb_stream.sources.mysql_meta import connection_error, driver_options
from s3rb_stream.sources.mysql_tls import mysqlclient_attempts
from s3rb_stream.sources.query_reader import mysqlclient_options
from s3rb_stream.sql import mysql as q
from s3rb_stream.testing.tls import Authority


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(Authority.create("unit test CA").write(tmp_path_factory.mktemp("tls") / "ca.pem"))


def target(url: str = "mysql://cdc:pw@db.internal:3306", mode: str | None = None, ca: str | None = None) -> MySQLTarget:
    return parse_mysql_url(url, None, mode, ca)


def context(t: MySQLTarget) -> ssl.SSLContext:
    found = driver_options(t)["ssl"]
    assert isinstance(found, ssl.SSLContext)
    return found


def test_the_default_is_preferred_on_both_drivers() -> None:
    t = target()
    assert t.tls().mode == "PREFERRED"
    assert not {"ssl", "ssl_disabled", "ssl_ca"} & set(driver_options(t))  # PyMySQL's own PREFERRED
    assert [a["ssl_mode"] for a in mysqlclient_attempts(t.tls())] == ["REQUIRED", "DISABLED"]  # TLS, else plain


def test_disabled_and_required(ca_file: str) -> None:
    assert driver_options(target(mode="DISABLED"))["ssl_disabled"] is True
    assert [a["ssl_mode"] for a in mysqlclient_options(target(mode="DISABLED"))] == ["DISABLED"]
    required = context(target(mode="REQUIRED"))
    assert required.verify_mode == ssl.CERT_NONE and not required.check_hostname  # encrypted, unverified
    assert [a["ssl_mode"] for a in mysqlclient_options(target(mode="REQUIRED"))] == ["REQUIRED"]


@pytest.mark.parametrize(("mode", "hostname"), [("VERIFY_CA", False), ("VERIFY_IDENTITY", True)])
def test_verify_modes_check_the_certificate_on_both_drivers(ca_file: str, mode: str, hostname: bool) -> None:
    t = target(mode=mode, ca=ca_file)
    verified = context(t)
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname is hostname
    (attempt,) = mysqlclient_options(t)
    assert attempt["ssl_mode"] == mode and attempt["ssl"] == {"ca": ca_file}
    assert "ssl_disabled" not in attempt


def test_a_ca_file_alone_verifies_the_certificate_and_the_host(ca_file: str) -> None:
    """The bug: PyMySQL and mysqlclient given only a CA file encrypt without checking anything."""
    for t in (target(ca=ca_file), target(f"mysql://cdc:pw@db.internal:3306?ssl_ca={ca_file}")):
        assert t.tls().mode == "VERIFY_IDENTITY"
        assert context(t).verify_mode == ssl.CERT_REQUIRED and context(t).check_hostname
        assert mysqlclient_options(t)[0]["ssl_mode"] == "VERIFY_IDENTITY"


def test_the_urls_driver_options_still_work(ca_file: str) -> None:
    url = "mysql://cdc:pw@db.internal:3306?read_timeout=7&"
    assert target(url + "ssl_disabled=true").tls().mode == "DISABLED"
    assert target(url + f"ssl_ca={ca_file}&ssl_verify_cert=true").tls().mode == "VERIFY_CA"
    assert target(url + f"ssl_ca={ca_file}&ssl_verify_identity=1").tls().mode == "VERIFY_IDENTITY"
    options = driver_options(target(url + f"ssl_ca={ca_file}&ssl_verify_cert=true"))
    assert options["read_timeout"] == 7 and "ssl_ca" not in options and "ssl_verify_cert" not in options
    assert mysqlclient_options(target(url + "ssl_disabled=true"))[0]["read_timeout"] == 7


def test_the_setting_is_case_insensitive_like_mysqls_clients(ca_file: str) -> None:
    settings = load_settings(mysql_url="mysql://cdc@db:3306", mysql_ssl_mode="verify_ca", mysql_ssl_ca=ca_file)
    assert settings.mysql().tls().mode == "VERIFY_CA"


@pytest.mark.parametrize(
    ("url", "mode", "with_ca", "needles"),
    [
        (
            "",
            "VERIFY_CA",
            False,
            ["S3RB_MYSQL_SSL_MODE=VERIFY_CA checks the server's certificate", "S3RB_MYSQL_SSL_CA"],
        ),
        ("", "VERIFY_IDENTITY", False, ["no CA file is given"]),
        ("", "REQUIRED", True, ["never checks the server's certificate", "VERIFY_IDENTITY"]),
        ("", "PREFERRED", True, ["CA file given would be ignored"]),
        ("?ssl_verify_cert=true", "REQUIRED", False, ["has the option ssl_verify_cert", "one way"]),
        ("?ssl_ca={ca}", None, True, ["has the option ssl_ca while S3RB_MYSQL_SSL_MODE or S3RB_MYSQL_SSL_CA"]),
        ("?ssl_verify_cert=true", None, False, ["S3RB_MYSQL_URL's ssl options (TLS mode VERIFY_CA)", "no CA file"]),
        ("?ssl_ca={ca}&ssl_verify_cert=false", None, False, ["CA file given would be ignored"]),
    ],
)
def test_a_tls_setting_that_would_not_do_what_it_says_is_refused(
    ca_file: str, url: str, mode: str | None, with_ca: bool, needles: list[str]
) -> None:
    t = target("mysql://cdc:pw@db.internal:3306" + url.format(ca=ca_file), mode, ca_file if with_ca else None)
    with pytest.raises(ConfigError) as info:
        t.tls()
    for needle in needles:
        assert needle in str(info.value)


def test_a_missing_ca_file_and_an_unknown_mode_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the CA file for MySQL TLS, '.*nope\.pem', is not a readable file"):
        load_settings(mysql_url="mysql://cdc@db:3306", mysql_ssl_ca=str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match="S3RB_MYSQL_SSL_MODE"):
        load_settings(mysql_url="mysql://cdc@db:3306", mysql_ssl_mode="VERIFY_FULL")


@pytest.mark.parametrize(
    ("code", "detail", "needles"),
    [
        (3159, "Connections using insecure transport are prohibited", ["require_secure_transport=ON", "DISABLED"]),
        (2026, "SSL is required but the server doesn't support it", ["does not offer TLS", "PREFERRED"]),
        (2026, "TLS/SSL error: self-signed certificate in certificate chain", ["S3RB_MYSQL_SSL_CA"]),
        (1524, "Plugin 'mysql_native_password' is not loaded", ["off by default in 8.4", "caching_sha2_password"]),
        (2061, "Authentication requires secure connection.", ["caching_sha2_password", "S3RB_MYSQL_SSL_MODE"]),
        (1251, "Client does not support authentication protocol", ["caching_sha2_password"]),
    ],
)
def test_connection_failures_no_retry_can_fix_are_terminal(code: int, detail: str, needles: list[str]) -> None:
    """A daemon retries a transient error forever: these must end it, with one line naming the setting."""
    error = connection_error(target(mode="DISABLED"), code, detail)
    assert isinstance(error, SourceError) and not transient(error)
    for needle in needles:
        assert needle in str(error)
    assert "mysql_native_password" not in str(error) or "off by default in 8.4" in str(error)  # never advised


def test_an_unreachable_server_is_retried_and_a_wrong_password_is_not() -> None:
    assert transient(connection_error(target(), 2003, "Can't connect"))
    refused = connection_error(target(), 1045, "Access denied")
    assert not transient(refused) and "refused the login" in str(refused)


@pytest.mark.parametrize(
    ("version", "status", "replicas"),
    [
        ("8.4.3", "SHOW BINARY LOG STATUS", "SHOW REPLICAS"),
        ("8.2.0", "SHOW BINARY LOG STATUS", "SHOW REPLICAS"),
        ("8.0.36", "SHOW MASTER STATUS", "SHOW REPLICAS"),  # Aurora MySQL 3 is 8.0.x too
        ("8.0.21", "SHOW MASTER STATUS", "SHOW SLAVE HOSTS"),
        ("5.7.44-log", "SHOW MASTER STATUS", "SHOW SLAVE HOSTS"),
        ("5.5.5-10.11.19-MariaDB-0+deb12u1-log", "SHOW MASTER STATUS", "SHOW SLAVE HOSTS"),
        ("11.4.2-MariaDB", "SHOW MASTER STATUS", "SHOW SLAVE HOSTS"),
    ],
)
def test_statements_are_chosen_by_server_version(version: str, status: str, replicas: str) -> None:
    """MySQL 8.4 removed SHOW MASTER STATUS and SHOW SLAVE HOSTS; MariaDB never had the new names."""
    from s3rb_stream.core.preflight import server_release

    assert q.binary_log_status(*server_release(version)) == status
    assert q.replica_hosts(*server_release(version)) == replicas
