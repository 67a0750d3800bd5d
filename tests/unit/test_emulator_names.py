"""The emulator's identifier pass: Redshift's case folding and 127-byte names on PostgreSQL."""

from __future__ import annotations

import struct

from s3rb_stream.testing.redshift_emulator.names import LongNames, rewrite_identifiers, truncate_name
from s3rb_stream.testing.redshift_emulator.proxy import (
    StatementDelay,
    restore_data_row,
    restore_notice,
    restore_row_description,
    rewrite_bind,
)


def test_quoted_names_fold_to_lower_case_unless_the_session_is_case_sensitive() -> None:
    sql = 'SELECT "createdAt", \'KeepMe\' FROM "Sales"."Orders" -- "Comment"'
    assert rewrite_identifiers(sql, False, LongNames()) == (
        'SELECT "createdat", \'KeepMe\' FROM "sales"."orders" -- "Comment"'
    )
    assert rewrite_identifiers(sql, True, LongNames()) == sql


def test_literals_comments_and_dollar_bodies_are_left_alone() -> None:
    sql = "SELECT 'a \"B\" ''c''', E'x\\'\"Y\"' /* \"Z\" */, $$ \"Q\" $$, $1"
    assert rewrite_identifiers(sql, False, LongNames()) == sql


def test_names_over_127_bytes_are_truncated_on_a_character_boundary() -> None:
    assert truncate_name("é" * 70) == "é" * 63  # 126 bytes: one more would be 128
    long = "x" * 130
    names = LongNames()
    out = rewrite_identifiers(f'CREATE TABLE "{long}" (a INT)', False, names)
    alias = names.known_alias("x" * 127)
    assert alias is not None and out == f'CREATE TABLE "{alias}" (a INT)'
    assert names.known_alias(long) is None  # the 130-byte name was never stored


def test_names_postgres_would_truncate_travel_as_aliases_and_come_back() -> None:
    names = LongNames()
    long = "a_column_name_that_is_longer_than_postgres_sixty_three_byte_limit"
    out = rewrite_identifiers(f"SELECT {long} FROM t WHERE column_name = '{long}'", False, names)
    alias = names.known_alias(long)
    assert alias is not None and len(alias) <= 63
    assert out == f"SELECT \"{alias}\" FROM t WHERE column_name = '{alias}'"
    assert names.restore_value(alias.encode()) == long.encode()
    assert names.restore_text(f'column "{alias}" does not exist'.encode()) == f'column "{long}" does not exist'.encode()
    assert rewrite_identifiers("SELECT short_name FROM t", False, names) == "SELECT short_name FROM t"


def test_bind_parameters_naming_a_long_identifier_carry_its_alias() -> None:
    names = LongNames()
    long = "é" * 40  # 80 bytes
    alias = names.alias(long)
    params = [long.encode(), b"other", None]
    body = b"".join(struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p for p in params)
    bind = b"\x00\x00" + struct.pack("!hh", 1, 0) + struct.pack("!h", 3) + body + struct.pack("!h", 0)
    out = rewrite_bind(bind, names)
    assert alias.encode() in out and long.encode() not in out and b"other" in out
    assert out.endswith(struct.pack("!i", -1) + struct.pack("!h", 0))


def test_results_and_errors_show_the_long_names() -> None:
    names = LongNames()
    long = "n" * 100
    alias = names.alias(long).encode()
    field = alias + b"\x00" + b"\x00" * 18
    assert restore_row_description(struct.pack("!h", 1) + field, names) == (
        struct.pack("!h", 1) + long.encode() + b"\x00" + b"\x00" * 18
    )
    row = struct.pack("!h", 2) + struct.pack("!i", len(alias)) + alias + struct.pack("!i", -1)
    assert restore_data_row(row, names) == (
        struct.pack("!h", 2) + struct.pack("!i", 100) + long.encode() + struct.pack("!i", -1)
    )
    error = b"SERROR\x00C23505\x00MMERGE command cannot affect row a second time\x00\x00"
    assert b"MFound multiple matches to update the same tuple." in restore_notice(error, names)


def test_statement_delay_setting() -> None:
    delay = StatementDelay.parse("2.5 ^COPY")
    assert delay is not None and delay.seconds == 2.5
    assert delay.pattern.search("copy x from 's3://'") and not delay.pattern.search("SELECT 1")
    everything = StatementDelay.parse("1")
    assert everything is not None and everything.pattern.search("SELECT 1")
    assert StatementDelay.parse("0") is None
