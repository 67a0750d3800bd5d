"""A quarantine's record, its lift rule and how it is said: one type for every reader and writer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from s3rb_stream.core.positions import BinlogPosition, make_seq
from s3rb_stream.core.quarantine import Quarantine
from s3rb_stream.core.query_state import ExtractState
from s3rb_stream.errors import CorruptStateError

AT = BinlogPosition("mariadb-bin.000003", 400)
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def snapshot_at(position: BinlogPosition, status: str = "complete", kind: str = "snapshot") -> ExtractState:
    return ExtractState(kind, status, position.seq, position.seq, WHEN, position)  # type: ignore[arg-type]


def test_a_record_round_trips_with_or_without_a_position() -> None:
    stopped = Quarantine("orders", "column note changed type", AT, at=WHEN)
    held = Quarantine("items", "batch object k is unreadable", None, hold_loads_below=77, at=WHEN)
    gtid = Quarantine("t", "500 rows", BinlogPosition("b.000001", 4, "0-1-9", 9), at=WHEN)
    for quarantine in (stopped, held, gtid):
        assert Quarantine.from_json(quarantine.to_json(), "k") == quarantine


def test_a_held_record_keeps_the_format_older_releases_read() -> None:
    raw = json.loads(Quarantine("items", "unreadable", None, hold_loads_below=77, at=WHEN).to_json())
    assert raw == {
        "table": "items",
        "reason": "unreadable",
        "binlog_file": "",
        "binlog_pos": 0,
        "hold_loads_below": 77,
        "at": WHEN.isoformat(),
    }


def test_a_quarantine_needs_a_position_or_a_sequence_to_hold_loads_below() -> None:
    with pytest.raises(ValueError, match="needs a position"):
        Quarantine("t", "why", None)


def test_a_complete_snapshot_after_the_quarantine_lifts_it_and_nothing_else_does() -> None:
    quarantine = Quarantine("t", "why", AT)
    later, earlier = BinlogPosition(AT.file, AT.pos + 1), BinlogPosition(AT.file, AT.pos)
    assert quarantine.lifted_by(snapshot_at(later))
    assert not quarantine.lifted_by(None)
    assert not quarantine.lifted_by(snapshot_at(earlier))  # at the quarantine's own position: not after it
    assert not quarantine.lifted_by(snapshot_at(later, status="running"))
    assert not quarantine.lifted_by(snapshot_at(later, kind="full_sync"))


def test_a_held_quarantine_is_lifted_by_a_snapshot_after_the_lost_sequence() -> None:
    lost = make_seq(AT.file, 900)
    quarantine = Quarantine("t", "unreadable", None, hold_loads_below=lost)
    assert quarantine.holds_loads and not Quarantine("t", "why", AT).holds_loads
    assert not quarantine.lifted_by(snapshot_at(BinlogPosition(AT.file, 900)))
    assert quarantine.lifted_by(snapshot_at(BinlogPosition(AT.file, 901)))


def test_it_is_said_with_where_it_happened() -> None:
    assert Quarantine("t", "gone", AT).describe() == "gone (quarantined at mariadb-bin.000003:400)"
    assert Quarantine("t", "torn", None, hold_loads_below=5).describe() == "torn (quarantined at sequence 5)"


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b"[]",
        b'{"table": "t", "binlog_file": "b.000001", "binlog_pos": 4}',  # no reason
        b'{"table": "t", "reason": "r", "binlog_file": "no-index", "binlog_pos": 4}',  # not a binlog position
    ],
)
def test_an_unreadable_record_is_a_named_error(data: bytes) -> None:
    with pytest.raises(CorruptStateError, match=r"quarantine record p/q/t\.json is unreadable"):
        Quarantine.from_json(data, "p/q/t.json")
