"""Events MySQL writes and MariaDB does not, read through the reader's one event loop: compressed
transactions, ignorable events, tagged GTIDs and XA transactions. Real files where the fixture
projects have them (tests/fixtures/binlogs, see NOTICE), built ones (tests/unit/synthetic_binlog.py)
for the layouts they lack."""

from __future__ import annotations

import binascii
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from s3rb_stream.core.gtid import row_seq
from s3rb_stream.core.positions import make_seq
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import UnsupportedEventError
from s3rb_stream.sources.binlog import Boundary, RowImages, XaOutcome, XaPrepared, _xid_text
from s3rb_stream.sources.binlog_file import BinlogFileReader
from tests.unit import synthetic_binlog as syn
from tests.unit.test_binlog_file import FIXTURES, event_offsets

TB1 = SourceTable("test", "tb1", (SourceColumn("id", "int", "int"),), ("id",))
TAG_UUID = "55778904-0299-11f1-b1b8-4ef0c4956feb"  # rust_mysql_common's gtid_tagged_log_event_from_binlog


def rows_and_boundaries(reader: BinlogFileReader) -> list[object]:
    return [i for i in reader.items() if isinstance(i, RowImages | Boundary | XaPrepared | XaOutcome)]


# --------------------------------------------------------------------------- compressed transactions


def test_a_compressed_transaction_is_decompressed_and_its_rows_decoded() -> None:
    """transaction_compression.000001 (MySQL 8.0.32): one TRANSACTION_PAYLOAD at 274 holding BEGIN,
    the table map of test.tb1, one WRITE_ROWS and the XID (the event types rust_mysql_common's test
    asserts); the row is id = 1, as mysqlbinlog -v prints the decompressed events."""
    path = FIXTURES / "transaction_compression.000001"
    items = rows_and_boundaries(BinlogFileReader([path], "test", {"tb1": TB1}))
    rows = [i for i in items if isinstance(i, RowImages)]
    assert [(r.table, r.kind, r.rows, r.problem) for r in rows] == [("tb1", "insert", [(1,)], None)]
    assert rows[0].first_seq == make_seq(path.name, 274)  # numbered from the payload event's start
    commit = items[1]
    assert isinstance(commit, Boundary) and commit.position.pos == 431  # after the payload event
    assert commit.commit_ts == datetime(2023, 9, 19, 21, 31, 49, tzinfo=UTC)


@pytest.mark.parametrize("zstd", [True, False], ids=["zstd", "uncompressed"])
def test_rows_inside_one_payload_are_numbered_in_order_from_its_start(tmp_path: Path, zstd: bool) -> None:
    t = syn.Template()
    events = [
        syn.inner(syn.QUERY, syn.query("BEGIN")),
        syn.inner(syn.TABLE_MAP, t.table_map),
        syn.inner(syn.WRITE_ROWS, syn.int_rows(t.table_id, [10, 11, 12])),
        syn.inner(syn.WRITE_ROWS, syn.int_rows(t.table_id, [13, 14])),
        syn.inner(syn.XID, struct.pack("<Q", 5)),
    ]
    path = tmp_path / "binlog.000007"
    start, after = syn.write_file(
        path, t.head, [(syn.PAYLOAD, syn.payload(events, zstd)), (syn.QUERY, syn.query("BEGIN"))]
    )
    items = rows_and_boundaries(BinlogFileReader([path], "test", {"tb1": TB1}))
    rows = [i for i in items if isinstance(i, RowImages)]
    assert [r.rows for r in rows] == [[(10,), (11,), (12,)], [(13,), (14,)]]
    assert [r.first_seq for r in rows] == [make_seq(path.name, start), make_seq(path.name, start + 3)]
    boundary = items[-1]
    assert isinstance(boundary, Boundary) and boundary.position.pos == after  # the next event's start
    assert rows[-1].first_seq + 1 < boundary.position.seq  # every row below the boundary after it


def test_a_payload_of_more_rows_than_bytes_is_named_not_misnumbered(tmp_path: Path) -> None:
    """File positions number a compressed transaction's rows inside its event's bytes; zstd can make
    a transaction's event smaller than its row count. Those rows get a problem (capture quarantines
    the table, naming the fix); GTID positioning numbers them by the GTID instead."""
    t = syn.Template()
    many = [7] * 3000
    events = [
        syn.inner(syn.QUERY, syn.query("BEGIN")),
        syn.inner(syn.TABLE_MAP, t.table_map),
        syn.inner(syn.WRITE_ROWS, syn.int_rows(t.table_id, many)),
        syn.inner(syn.XID, struct.pack("<Q", 5)),
    ]
    body = syn.payload(events)
    assert len(body) < len(many)
    uuid = bytes.fromhex(TAG_UUID.replace("-", ""))
    gtid_event = b"\x01" + uuid + (9).to_bytes(8, "little") + b"\x02" + bytes(16)
    path = tmp_path / "binlog.000001"
    syn.write_file(path, t.head, [(0x21, gtid_event), (syn.PAYLOAD, body)])
    by_file = [i for i in BinlogFileReader([path], "test", {"tb1": TB1}).items() if isinstance(i, RowImages)]
    assert by_file[0].rows == [] and by_file[0].problem is not None
    assert "changes more rows than its" in by_file[0].problem and "S3RB_POSITIONING=gtid" in by_file[0].problem
    by_gtid = [i for i in BinlogFileReader([path], "test", {"tb1": TB1}, gtid="mysql").items()
               if isinstance(i, RowImages)]  # fmt: skip
    assert by_gtid[0].problem is None and len(by_gtid[0].rows) == len(many)
    assert by_gtid[0].first_seq == row_seq(1, 0)


def test_a_damaged_payload_names_the_compressed_transaction(tmp_path: Path) -> None:
    t = syn.Template()
    events = [syn.inner(syn.QUERY, syn.query("BEGIN")), syn.inner(syn.TABLE_MAP, t.table_map)]
    body = bytearray(syn.payload(events))
    body[-6:] = b"\xff" * 6  # inside the zstd frame; the event's own CRC32 is computed over the damage
    path = tmp_path / "binlog.000001"
    (start,) = syn.write_file(path, t.head, [(syn.PAYLOAD, bytes(body))])
    with pytest.raises(UnsupportedEventError, match=rf"compressed transaction at binlog\.000001:{start}"):
        list(BinlogFileReader([path], "test", {"tb1": TB1}).items())


# --------------------------------------------------------------------------- ignorable events


def test_an_unknown_event_marked_ignorable_is_skipped(tmp_path: Path) -> None:
    """mysql-bin.aurora-padding (mysql-binlog-connector-java): an Aurora padding event, type 0x64 at
    281, flagged LOG_EVENT_IGNORABLE_F (SHOW BINLOG EVENTS in that project's test: "Ignorable"),
    then BEGIN at 1209. Without the flag the same unknown event is refused."""
    path = FIXTURES / "mysql-bin.aurora-padding"
    assert 281 in event_offsets(path)
    reader = BinlogFileReader([path], "test", {})
    assert list(reader.items()) == []  # nothing but bookkeeping, padding and a BEGIN
    assert reader.offset == path.stat().st_size == 1294  # it read past the padding, to the end

    data = bytearray(path.read_bytes())
    size = struct.unpack_from("<I", data, 281 + 9)[0]
    struct.pack_into("<H", data, 281 + 17, 0)  # the flags: no longer ignorable
    struct.pack_into("<I", data, 281 + size - 4, binascii.crc32(data[281 : 281 + size - 4]) & 0xFFFFFFFF)
    unflagged = tmp_path / "mysql-bin.000001"
    unflagged.write_bytes(bytes(data))
    with pytest.raises(UnsupportedEventError, match=r"event type 0x64 .* cannot be decoded"):
        list(BinlogFileReader([unflagged], "test", {}).items())


# --------------------------------------------------------------------------- tagged GTIDs


def test_a_tagged_gtid_event_is_read_and_counted() -> None:
    """binlog_transaction_with_GTID_TAG.000001 (MySQL 9.x, rust_mysql_common): a GTID_TAGGED_LOG_EVENT
    at 245 with tag "mytag", sid 55778904-0299-11f1-b1b8-4ef0c4956feb, gno 3 (that project's test)."""
    path = FIXTURES / "binlog_transaction_with_GTID_TAG.000001"
    reader = BinlogFileReader([path], "test", {})
    reader.keep_gtid = True
    list(reader.items())
    assert reader.last_gtid == f"{TAG_UUID}:mytag:3"
    by_gtid = BinlogFileReader([path], "test", {}, gtid="mysql")
    commit = next(i for i in by_gtid.items() if isinstance(i, Boundary) and i.commit_ts is not None)
    assert commit.position.gtid == f"{TAG_UUID}:mytag:3" and commit.position.ordinal == 1


# --------------------------------------------------------------------------- XA


def xa_file(tmp_path: Path, tail: list[tuple[int, bytes]], one_phase: bool = False) -> tuple[Path, list[int]]:
    """MySQL's layout of an XA transaction: XA START, its rows, XA END, XA_PREPARE; then ``tail``."""
    t = syn.Template()
    events = [
        (syn.QUERY, syn.query("XA START X'78',X'',1")),
        (syn.TABLE_MAP, t.table_map),
        (syn.WRITE_ROWS, syn.int_rows(t.table_id, [1, 2])),
        (syn.QUERY, syn.query("XA END X'78',X'',1")),
        (syn.XA_PREPARE, syn.xa_prepare(b"x", one_phase)),
        (syn.QUERY, syn.query("BEGIN")),
        (syn.TABLE_MAP, t.table_map),
        (syn.WRITE_ROWS, syn.int_rows(t.table_id, [3])),
        (syn.XID, struct.pack("<Q", 9)),
        *tail,
    ]
    path = tmp_path / "binlog.000003"
    return path, syn.write_file(path, t.head, events)


def read_xa(path: Path) -> list[tuple[object, str | None]]:
    """Each item with the XA transaction the reader was in when it came."""
    reader = BinlogFileReader([path], "test", {"tb1": TB1})
    return [(i, reader.in_xa) for i in reader.items() if isinstance(i, RowImages | Boundary | XaPrepared | XaOutcome)]


def test_an_xa_transaction_waits_for_its_commit_and_is_numbered_there(tmp_path: Path) -> None:
    path, starts = xa_file(tmp_path, [(syn.QUERY, syn.query("XA COMMIT X'78',X'',1"))])
    items = read_xa(path)
    kinds = [type(i).__name__ for i, _ in items]
    # XA END is no commit: nothing between the XA rows and the PREPARE
    assert kinds == ["RowImages", "XaPrepared", "Boundary", "RowImages", "Boundary", "XaOutcome", "Boundary"]
    xa_rows, prepared, _, other, _, outcome, _ = (i for i, _ in items)
    assert isinstance(xa_rows, RowImages) and xa_rows.rows == [(1,), (2,)] and items[0][1] == "X'78',X'',1"
    assert isinstance(other, RowImages) and items[3][1] is None  # a plain transaction after the PREPARE
    assert isinstance(prepared, XaPrepared) and prepared.xid == "X'78',X'',1" and prepared.position.pos == starts[5]
    commit_start, commit_end = starts[9], path.stat().st_size
    assert isinstance(outcome, XaOutcome)
    assert outcome == XaOutcome("X'78',X'',1", True, make_seq(path.name, commit_start + 1),
                                commit_end - commit_start - 1, outcome.position)  # fmt: skip
    assert outcome.first_seq is not None and outcome.first_seq > other.first_seq  # after what committed before


def test_a_rolled_back_xa_transaction_is_named_by_the_same_xid(tmp_path: Path) -> None:
    path, _ = xa_file(tmp_path, [(syn.QUERY, syn.query("XA ROLLBACK 'x'"))])
    outcome = [i for i, _ in read_xa(path) if isinstance(i, XaOutcome)]
    assert [(o.xid, o.committed) for o in outcome] == [("X'78',X'',1", False)]


def test_a_one_phase_xa_commit_commits_at_once_where_its_rows_are(tmp_path: Path) -> None:
    path, _ = xa_file(tmp_path, [], one_phase=True)
    items = [i for i, _ in read_xa(path)]
    assert [type(i).__name__ for i in items[:4]] == ["RowImages", "XaPrepared", "XaOutcome", "Boundary"]
    outcome = items[2]
    assert isinstance(outcome, XaOutcome) and outcome.committed and outcome.first_seq is None


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("X'6232',X'71',7", "X'6232',X'71',7"),  # as MySQL and MariaDB write it
        ("'b2','q',7", "X'6232',X'71',7"),
        ("'it''s'", "X'69742773',X'',1"),
        ("0x61, 'b'", "X'61',X'62',1"),
    ],
)
def test_xids_compare_however_a_statement_spells_them(written: str, canonical: str) -> None:
    assert _xid_text(written) == canonical


def test_a_one_phase_commit_written_as_a_statement_ends_the_xa_transaction(tmp_path: Path) -> None:
    """Servers flag a one-phase commit on its XA_PREPARE event; should one write it as a statement
    after the rows instead, it still commits them where they are and ends the XA transaction."""
    t = syn.Template()
    path = tmp_path / "binlog.000004"
    syn.write_file(path, t.head, [
        (syn.QUERY, syn.query("XA START X'78',X'',1")), (syn.TABLE_MAP, t.table_map),
        (syn.WRITE_ROWS, syn.int_rows(t.table_id, [1])), (syn.QUERY, syn.query("XA END X'78',X'',1")),
        (syn.QUERY, syn.query("XA COMMIT X'78',X'',1 ONE PHASE")),
    ])  # fmt: skip
    items = read_xa(path)
    assert [type(i).__name__ for i, _ in items] == ["RowImages", "XaOutcome", "Boundary"]
    outcome, in_xa_after = items[1]
    assert isinstance(outcome, XaOutcome) and outcome.committed and outcome.first_seq is None
    assert in_xa_after is None
