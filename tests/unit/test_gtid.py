from __future__ import annotations

import pytest

from s3rb_stream.core.checkpoint import Checkpoint, now_utc
from s3rb_stream.core.gtid import MAX_ROWS_PER_TRANSACTION, GtidState, boundary_seq, row_seq
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.preflight import gtid_problems, gtid_warning, server_flavor
from s3rb_stream.errors import SourceError

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
