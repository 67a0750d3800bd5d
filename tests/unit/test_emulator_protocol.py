from __future__ import annotations

import struct

from s3rb_stream.testing.redshift_emulator.proxy import (
    PROTOCOL_3,
    filter_startup_parameters,
    parse_startup_parameters,
    rewrite_parameter_status,
    startup_message,
)

SENT_BY_REDSHIFT_CONNECTOR = {
    "user": "postgres",
    "database": "dev",
    "application_name": "s3rb",
    "client_protocol_version": "2",
    "driver_version": "Redshift Python Driver 2.2.0",
    "os_version": "Linux",
    "driver_discovery_version": "1",
    "plugin_name": "",
}


def test_redshift_only_startup_parameters_are_dropped() -> None:
    assert filter_startup_parameters(SENT_BY_REDSHIFT_CONNECTOR) == {
        "user": "postgres",
        "database": "dev",
        "application_name": "s3rb",
    }


def test_startup_message_round_trips() -> None:
    data = startup_message({"user": "u", "database": "d"})
    length, protocol = struct.unpack("!ii", data[:8])
    assert (length, protocol) == (len(data), PROTOCOL_3)
    assert parse_startup_parameters(data[8:]) == {"user": "u", "database": "d"}


def test_server_version_is_reported_as_redshift() -> None:
    assert rewrite_parameter_status(b"server_version\x0015.20 (Debian 15.20-0+deb12u1)\x00") == (
        b"server_version\x008.0.2\x00"
    )
    assert rewrite_parameter_status(b"TimeZone\x00UTC\x00") == b"TimeZone\x00UTC\x00"


def test_query_and_parse_messages_carry_translated_sql() -> None:
    from s3rb_stream.testing.redshift_emulator.proxy import rewrite_parse, rewrite_query

    assert rewrite_query(b"SELECT GETDATE()\x00") == b"SELECT CURRENT_TIMESTAMP\x00"
    tail = struct.pack("!h", 1) + struct.pack("!i", 23)
    assert rewrite_parse(b"stmt1\x00INSERT INTO t VALUES ($1, SYSDATE)\x00" + tail) == (
        b"stmt1\x00INSERT INTO t VALUES ($1, CURRENT_TIMESTAMP)\x00" + tail
    )
    untouched = b"\x00SELECT $1::int\x00" + tail
    assert rewrite_parse(untouched) == untouched
