from __future__ import annotations

import struct
from pathlib import Path

import pytest
from pymysqlreplication.gtid import GtidSet

from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.gtid import (
    MAX_ROWS_PER_TRANSACTION,
    GtidState,
    boundary_seq,
    decode_mysql_set,
    encode_mysql_set,
    read_varlen,
    row_seq,
    varlen_bytes,
)
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import gtid_problems, gtid_warning, server_flavor
from s3rb_stream.errors import SourceError
from s3rb_stream.sources.binlog import with_gtid_set

UUID_A = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
UUID_B = "8f1c1f7e-71ca-11e1-9e33-c80aa9429562"


def test_mariadb_state_round_trips_and_counts_every_domain() -> None:
    state = GtidState.parse("1-7-50, 0-1-100", "mariadb")
    assert str(state) == "0-1-100,1-7-50"
    assert state.ordinal == 150


def test_mariadb_add_moves_the_ordinal_by_the_seq_no_step() -> None:
    state = GtidState.parse("0-1-100", "mariadb")
    assert state.add("0-2-101") == 101  # a new primary (server 2) continues the domain
    assert str(state) == "0-2-101"
    assert state.add("3-2-1") == 102  # a new domain starts at its first seq_no


def test_mariadb_seq_no_going_back_is_refused_not_skipped() -> None:
    state = GtidState.parse("0-1-100", "mariadb")
    with pytest.raises(SourceError, match="gtid_strict_mode"):
        state.add("0-1-100")


def test_mysql_set_merges_intervals_and_counts_transactions() -> None:
    state = GtidState.parse(f"{UUID_B}:1-3, {UUID_A.upper()}:1-5:7-9", "mysql")
    assert str(state) == f"{UUID_A}:1-5:7-9,{UUID_B}:1-3"
    assert state.ordinal == 11
    assert state.add(f"{UUID_A}:6") == 12
    assert str(state).startswith(f"{UUID_A}:1-9,")


def test_mysql_failover_to_a_new_server_uuid_keeps_counting() -> None:
    state = GtidState.parse(f"{UUID_A}:1-1000", "mysql")
    assert state.add(f"{UUID_B}:1") == 1001  # the promoted replica numbers from 1 under its own uuid


def test_mysql_gtid_seen_twice_is_an_error() -> None:
    state = GtidState.parse(f"{UUID_A}:1-5", "mysql")
    with pytest.raises(SourceError, match="twice"):
        state.add(f"{UUID_A}:3")


def test_missing_since_names_what_the_older_state_has_and_this_lacks() -> None:
    have = GtidState.parse("0-1-100,1-1-5", "mariadb")
    purged = GtidState.parse("0-1-120,1-1-5", "mariadb")
    assert have.missing_since(purged) == ["0-1-120"]
    assert purged.missing_since(have) == []
    mine = GtidState.parse(f"{UUID_A}:1-10", "mysql")
    assert mine.missing_since(GtidState.parse(f"{UUID_A}:1-12,{UUID_B}:1", "mysql")) == [
        f"{UUID_A}:1-12",
        f"{UUID_B}:1-1",
    ]


def test_malformed_states_are_refused() -> None:
    with pytest.raises(ValueError):
        GtidState.parse("0-1", "mariadb")
    with pytest.raises(ValueError):
        GtidState.parse(f"{UUID_A}:x-3", "mysql")


def test_sequences_order_rows_inside_and_across_transactions() -> None:
    assert row_seq(7, 0) < row_seq(7, 1) < boundary_seq(7) < row_seq(8, 0)
    assert boundary_seq(6) < row_seq(7, 0)
    assert row_seq(7, MAX_ROWS_PER_TRANSACTION - 1) < boundary_seq(7)


def test_a_transaction_too_large_to_number_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="split the transaction"):
        row_seq(7, MAX_ROWS_PER_TRANSACTION)


def test_a_gtid_position_takes_its_sequence_from_the_ordinal_not_the_file() -> None:
    old_primary = BinlogPosition("mariadb-bin.000042", 9_000, "0-1-100", 100)
    new_primary = BinlogPosition("replica-bin.000001", 4, "0-2-101", 101)
    assert new_primary.seq > old_primary.seq
    assert BinlogPosition("mariadb-bin.000042", 9_000).seq > BinlogPosition("replica-bin.000001", 4).seq
    assert "GTID 0-1-100" in str(old_primary)


def test_checkpoint_keeps_the_gtid_state() -> None:
    position = BinlogPosition("replica-bin.000003", 1234, "0-2-101", 101)
    checkpoint = Checkpoint(position, "shop", "t", now_utc())
    assert Checkpoint.from_json(checkpoint.to_json(), "x").position == position
    plain = Checkpoint(BinlogPosition("b.000001", 4), "shop", "t", now_utc())
    assert Checkpoint.from_json(plain.to_json(), "x").position.ordinal is None


def test_gtid_preflight_by_flavor() -> None:
    mysql = {"version": "8.0.36", "version_comment": "MySQL Community Server - GPL", "gtid_mode": "OFF"}
    assert server_flavor(mysql) == "mysql"
    assert "set gtid_mode=ON" in gtid_problems(mysql)[0]
    assert gtid_problems(mysql | {"gtid_mode": "ON"}) == []
    maria = {"version": "10.11.6-MariaDB-0+deb12u1", "gtid_strict_mode": "OFF"}
    assert server_flavor(maria) == "mariadb"
    assert gtid_problems(maria) == []
    assert "gtid_strict_mode" in (gtid_warning(maria) or "")
    assert gtid_warning(maria | {"gtid_strict_mode": "ON"}) is None


# --------------------------------------------------------------------------- tagged GTIDs (MySQL 8.3+)

TAGGED = "55778904-0299-11f1-b1b8-4ef0c4956feb"  # rust_mysql_common's binlog_transaction_with_GTID_TAG.000001


def test_tagged_members_are_kept_apart_from_their_uuid_s_untagged_ones() -> None:
    state = GtidState.parse(f"{TAGGED}:1-13:MyTag:1-2:7, {UUID_A}:tag_b:4", "mysql")
    assert str(state) == f"{UUID_A}:tag_b:4,{TAGGED}:1-13:mytag:1-2:7"  # tags in lower case
    assert state.ordinal == 13 + 3 + 1
    assert state.add(f"{TAGGED}:mytag:3") == 18  # a number the untagged 1-13 also has: another transaction
    assert state.add(f"{TAGGED}:14") == 19
    assert str(state).startswith(f"{UUID_A}:tag_b:4,{TAGGED}:1-14:mytag:1-3:7")
    with pytest.raises(SourceError, match="twice"):
        state.add(f"{TAGGED}:MYTAG:2")
    assert GtidState.parse(str(state), "mysql") == state


def test_missing_since_names_tagged_members_in_set_syntax() -> None:
    have = GtidState.parse(f"{TAGGED}:1-5:mytag:1", "mysql")
    assert have.missing_since(GtidState.parse(f"{TAGGED}:1-5:mytag:1-3", "mysql")) == [f"{TAGGED}:mytag:1-3"]


@pytest.mark.parametrize("bad", [f"{TAGGED}:9tag:1", f"{TAGGED}:a-b:1", f"{TAGGED}:{'t' * 33}:1"])
def test_a_malformed_tag_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="neither a GTID interval"):
        GtidState.parse(bad, "mysql")


def previous_gtids_body(name: str) -> bytes:
    """The set a binlog file opens with (PREVIOUS_GTIDS_EVENT, the second event), in MySQL's binary encoding."""
    data = (Path(__file__).parent.parent / "fixtures" / "binlogs" / name).read_bytes()
    first = int.from_bytes(data[4 + 9 : 4 + 13], "little")
    at = 4 + first
    assert data[at + 4] == 0x23
    return data[at + 19 : at + int.from_bytes(data[at + 9 : at + 13], "little") - 4]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # rust_mysql_common's tests: untagged [1, 14) and tag "mytag" [1, 3) of one uuid; and [1, 3) without a tag
        ("binlog_transaction_with_GTID_TAG.000001", f"{TAGGED}:1-13:mytag:1-2"),
        ("binlog_transaction_previous_GTID_no_tag.000001", "b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2"),
    ],
)
def test_binary_gtid_sets_decode_and_encode_as_mysql_writes_them(name: str, expected: str) -> None:
    """The encoding of a dump request's set is the one a binlog opens with: read both ways."""
    body = previous_gtids_body(name)
    assert str(decode_mysql_set(body)) == expected
    assert encode_mysql_set(GtidState.parse(expected, "mysql")) == body


def test_an_untagged_set_encodes_as_the_replication_library_sends_it() -> None:
    text = f"{UUID_A}:1-5:7-9,{UUID_B}:1-3"
    assert encode_mysql_set(GtidState.parse(text, "mysql")) == GtidSet(text).encoded()


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**20, 2**56 - 1, 2**56, 2**64 - 1])
def test_variable_length_integers_read_back(value: int) -> None:
    encoded = varlen_bytes(value)
    assert read_varlen(encoded + b"\x00", 0) == (value, len(encoded))


def test_a_tagged_set_replaces_the_one_in_the_library_s_dump_request() -> None:
    """COM_BINLOG_DUMP_GTID as MySQL documents it: header, command 0x1e, flags, server id, name
    length and name, position, then the set's length and bytes; only the set changes."""
    untagged = GtidSet(f"{TAGGED}:1").encoded()
    fields = bytes([0x1E]) + struct.pack("<HII", 4, 424242, 3) + b"\0\0\0" + struct.pack("<Q", 4)
    body = fields + struct.pack("<I", len(untagged)) + untagged
    request = len(body).to_bytes(3, "little") + b"\0" + body
    tagged = encode_mysql_set(GtidState.parse(f"{TAGGED}:1-13:mytag:1-2", "mysql"))
    rewritten = with_gtid_set(request, tagged)
    assert rewritten[4 : 4 + len(fields)] == fields
    assert int.from_bytes(rewritten[:3], "little") == len(rewritten) - 4
    assert rewritten[4 + len(fields) :] == struct.pack("<I", len(tagged)) + tagged
    assert str(decode_mysql_set(rewritten[4 + len(fields) + 4 :])) == f"{TAGGED}:1-13:mytag:1-2"
