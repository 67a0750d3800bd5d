"""Pure pieces of the query-based reads: SQL builders, state objects, start position, text → Arrow."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from s3rb_stream.core.checkpoint import Checkpoint
from s3rb_stream.core.ddl import constant_default, follow_problem, parse_ddl
from s3rb_stream.core.object_keys import BatchRef, batch_key, in_load_order, parse_batch_key
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.query_state import QUERY_SEQ_FLOOR, ExtractState, HybridState, next_query_seq, next_run
from s3rb_stream.core.schema import SourceColumn, SourceTable, arrow_schema, definition_of
from s3rb_stream.core.text_values import column_to_arrow
from s3rb_stream.errors import CorruptStateError
from s3rb_stream.pipeline.resume import choose_start
from s3rb_stream.pipeline.sync import lookback_start
from s3rb_stream.sql import mysql as q

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_keyset_pages_bind_every_value_and_quote_every_name() -> None:
    assert q.keyset_chunk("s`db", "t", ["a", "b`c"], ["a", "b`c"], True, 50) == (
        "SELECT `a`, `b``c` FROM `s``db`.`t` WHERE ((`a` > %s) OR (`a` = %s AND `b``c` > %s))"
        " ORDER BY `a`, `b``c` LIMIT 50"
    )
    assert q.after_params(["x", "y"]) == ["x", "x", "y"]
    assert "WHERE" not in q.keyset_chunk("d", "t", ["a"], ["a"], False, 10)


def test_hybrid_pages() -> None:
    assert q.hybrid_chunk("d", "t", ["id", "ts"], "ts", "id", "from", 10) == (
        "SELECT `id`, `ts` FROM `d`.`t` WHERE `ts` IS NOT NULL AND `ts` >= %s ORDER BY `ts`, `id` LIMIT 10"
    )
    assert "((`ts` > %s) OR (`ts` = %s AND `id` > %s))" in q.hybrid_chunk("d", "t", ["id"], "ts", "id", "after", 10)
    assert "%s" not in q.hybrid_chunk("d", "t", ["id"], "ts", "id", "all", 10)


def test_lookback_is_subtracted_in_the_servers_text_format() -> None:
    assert lookback_start("2026-01-01 00:02:00.000000", 300) == "2025-12-31 23:57:00.000000"
    assert lookback_start("2026-01-01", 60) == "2025-12-31 23:59:00.000000"
    assert lookback_start("0000-00-00 00:00:00", 60) == "0000-00-00 00:00:00"


def test_query_sequences_rise_above_the_previous_run_and_the_binlog() -> None:
    first = next_query_seq(None, now_ns=1_700_000_000_000_000_000)
    assert first > QUERY_SEQ_FLOOR > BinlogPosition("mariadb-bin.999999", 4_000_000_000).seq
    assert next_query_seq(first + 10**9, now_ns=1_700_000_000_000_000_000) == first + 10**9 + 1  # clock went back
    assert next_query_seq(first, now_ns=1_700_000_000_000_001_000) > first


def test_state_objects_round_trip_and_bad_ones_are_named() -> None:
    state = ExtractState("snapshot", "running", 5, 5, NOW, BinlogPosition("b.000001", 4), parts=2, rows=7)
    state = state.wrote("k/part", 3, (b"\x00\xff", None), 5).completed()
    assert ExtractState.from_json(state.to_json(), "x") == state
    assert (state.parts, state.rows, state.final_key, state.status) == (3, 10, "k/part", "complete")
    hybrid = HybridState("2026-01-01 00:00:00", b"42", 99, 10)
    assert HybridState.from_json(hybrid.to_json(), "h") == hybrid
    with pytest.raises(CorruptStateError, match=r"state object s/x\.json is unreadable"):
        ExtractState.from_json(b'{"version": 1, "kind": "snapshot"}', "s/x.json")


def test_snapshot_parts_share_a_range_and_load_before_batches_that_span_it() -> None:
    key = batch_key("p", "db", "an", "t", 100, 100, NOW, part=3)
    assert key.endswith("/t_100_100_000003.parquet")
    part = parse_batch_key(key)
    assert part == BatchRef(100, 100, key, "t", 3)
    spanning = parse_batch_key(batch_key("p", "db", "an", "t", 90, 120, NOW))
    older = parse_batch_key(batch_key("p", "db", "an", "t", 10, 90, NOW))
    assert spanning is not None and older is not None and spanning.part is None
    assert in_load_order([spanning, part, older]) == [older, part, spanning]


def test_two_snapshot_runs_at_one_position_have_their_own_keys_and_apply_run_after_run() -> None:
    old = [parse_batch_key(batch_key("p", "db", "an", "t", 100, 100, NOW, part=i, run=7)) for i in (0, 1)]
    new = [parse_batch_key(batch_key("p", "db", "an", "t", 100, 100, NOW, part=i, run=8)) for i in (0, 1)]
    assert new[0] is not None and new[0].key.endswith("/t_100_100_r8_000000.parquet")
    assert (new[0].part, new[0].run) == (0, 8)
    assert {r.key for r in old if r}.isdisjoint({r.key for r in new if r})
    binlog = parse_batch_key(batch_key("p", "db", "an", "t", 90, 120, NOW))
    refs = [r for r in (*new, binlog, *old) if r is not None]
    assert in_load_order(refs) == [old[0], old[1], new[0], new[1], binlog]
    legacy = parse_batch_key("p/db/an/t/year=2026/month=01/day=01/t_100_100_000003.parquet")
    assert legacy is not None and (legacy.part, legacy.run) == (3, 0)


def test_a_snapshot_run_is_newer_than_the_last_even_when_the_clock_is_behind() -> None:
    state = ExtractState("snapshot", "complete", 1, 1, NOW, run=5_000_000_000_000_000)
    assert next_run(state, now_ns=1_000) == 5_000_000_000_000_001
    assert next_run(None, now_ns=7_000_000) == 7_000
    assert next_run(ExtractState("snapshot", "complete", 1, 1, NOW), now_ns=7_000_000) == 7_000
    assert ExtractState.from_json(state.to_json(), "s").run == state.run


P1, P2, C = BinlogPosition("b.000001", 500), BinlogPosition("b.000001", 900), BinlogPosition("b.000002", 4)
OLDEST = BinlogPosition("b.000001", 4)


def checkpoint(tables: tuple[str, ...] | None, skip_below: dict[str, int] | None = None) -> Checkpoint:
    return Checkpoint(C, "db", "an", NOW, None, tables, skip_below=skip_below or {})


@pytest.mark.parametrize(
    ("saved", "snapshots", "expected_start", "expected_skip", "unstarted"),
    [
        (None, {}, OLDEST, {}, ["a", "b"]),
        (None, {"a": P2, "b": P1}, P1, {"a": P2.seq}, []),
        # A partial snapshot: the other table starts where the binlog starts, not at the snapshot.
        (None, {"a": P2}, OLDEST, {"a": P2.seq}, ["b"]),
        (checkpoint(("a",)), {"a": P1}, OLDEST, {"a": C.seq}, ["b"]),  # already captured: its snapshot changes nothing
        (checkpoint(("a", "b")), {"a": P1}, C, {}, []),
        (checkpoint(("a",)), {"b": P1}, P1, {"a": C.seq}, []),  # new table: start back at its snapshot
        (checkpoint(("a",)), {}, OLDEST, {"a": C.seq}, ["b"]),  # new table, no snapshot: from --start-position
        (checkpoint(None), {"b": P1}, C, {}, []),  # an old checkpoint: every table counts as captured
        # Still skipping up to its snapshot when the checkpoint was saved: a restart skips on.
        (checkpoint(("a", "b"), {"b": P2.seq + C.seq}), {"b": P2}, C, {"b": P2.seq + C.seq}, []),
    ],
)
def test_capture_starts_where_every_table_is_complete(
    saved: Checkpoint | None,
    snapshots: dict[str, BinlogPosition],
    expected_start: BinlogPosition,
    expected_skip: dict[str, int],
    unstarted: list[str],
) -> None:
    asked: list[bool] = []

    def fallback() -> BinlogPosition:
        asked.append(True)
        return OLDEST

    assert choose_start(saved, snapshots, ["a", "b"], fallback) == (expected_start, expected_skip, unstarted)
    assert bool(asked) == bool(unstarted)  # the oldest binlog is looked up only when a table starts there


def test_a_checkpoint_keeps_where_each_table_still_skips() -> None:
    saved = checkpoint(("a", "b"), {"b": 123})
    assert Checkpoint.from_json(saved.to_json(), "c").skip_below == {"b": 123}
    old = saved.to_json().replace(b'"skip_below"', b'"ignored"')
    assert Checkpoint.from_json(old, "c").skip_below == {}


@pytest.mark.parametrize(
    ("column", "text", "expected"),
    [
        (SourceColumn("c", "bigint", "bigint(20) unsigned"), b"18446744073709551615", "18446744073709551615"),
        (SourceColumn("c", "decimal", "decimal(5,2)", precision=5, scale=2), b"-1.50", "-1.50"),
        (SourceColumn("c", "datetime", "datetime(6)"), b"2024-01-02 03:04:05.000001", "2024-01-02 03:04:05.000001"),
        (SourceColumn("c", "timestamp", "timestamp"), b"2024-01-02 03:04:05", "2024-01-02 03:04:05+00:00"),
        (SourceColumn("c", "date", "date"), b"0000-00-00", None),
        (SourceColumn("c", "datetime", "datetime"), b"2024-00-10 00:00:00", None),
        (SourceColumn("c", "bit", "bit(10)", precision=10), b"\x02\x01", 513),
        (SourceColumn("c", "varchar", "varchar(5)"), "h\u00e9", "h\u00e9"),
        (SourceColumn("c", "blob", "blob"), b"\x00\xff", b"\x00\xff"),
        (SourceColumn("c", "time", "time(2)"), b"-838:59:59.00", "-838:59:59.00"),
    ],
)
def test_text_protocol_values_become_the_contract_types(column: SourceColumn, text: object, expected: object) -> None:
    array = column_to_arrow(column, [text, None])  # type: ignore[list-item]
    value = array[0].as_py()
    shown = str(value) if isinstance(value, (datetime,)) or type(value).__name__ == "Decimal" else value
    assert shown == expected
    assert array[1].as_py() is None
    assert isinstance(array, pa.Array)


@pytest.mark.parametrize(
    ("statement", "verb", "tables"),
    [
        ("ALTER TABLE orders ADD COLUMN x INT", "ALTER", [("shop", "orders")]),
        ("alter online table `sa les`.`or``d` add c int", "ALTER", [("sa les", "or`d")]),
        ("/* c */ TRUNCATE TABLE shop.orders", "TRUNCATE", [("shop", "orders")]),
        ("truncate orders", "TRUNCATE", [("shop", "orders")]),
        ("DROP TABLE IF EXISTS a, `b`.c /* generated by server */", "DROP", [("shop", "a"), ("b", "c")]),
        ("RENAME TABLE a TO b, other.c TO other.d", "RENAME", [("shop", "a"), ("other", "c")]),
        ("ALTER TABLE other ADD COLUMN orders INT", "ALTER", [("shop", "other")]),  # a column named like a table
        ("CREATE TABLE IF NOT EXISTS `log_2026` (a INT)", "CREATE", [("shop", "log_2026")]),
    ],
)
def test_ddl_names_the_tables_it_changes(statement: str, verb: str, tables: list[tuple[str, str]]) -> None:
    change = parse_ddl(statement, "shop")
    assert change is not None and change.verb == verb and list(change.tables) == tables


@pytest.mark.parametrize(
    "statement", ["CREATE INDEX i ON t (a)", "GRANT SELECT ON *.* TO u", "CREATE VIEW v AS SELECT 1"]
)
def test_other_statements_change_no_table(statement: str) -> None:
    assert parse_ddl(statement, "shop") is None


OLD = SourceTable(
    "db",
    "t",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("note", "varchar", "varchar(20)", char_length=20),
    ),
    ("id",),
)


def altered(*extra: SourceColumn, note: SourceColumn | None = None, key: tuple[str, ...] = ("id",)) -> SourceTable:
    columns = [OLD.columns[0], note or OLD.columns[1], *extra]
    return SourceTable("db", "t", tuple(columns), key)


@pytest.mark.parametrize(
    ("statement", "new", "problem"),
    [
        ("ALTER TABLE t ADD COLUMN q INT", altered(SourceColumn("q", "int", "int(11)", default="NULL")), None),
        (
            "ALTER TABLE t ADD q INT NOT NULL DEFAULT 3",
            altered(SourceColumn("q", "int", "int(11)", nullable=False, default="3")),
            None,
        ),
        ("ALTER TABLE t ADD INDEX (note)", altered(), None),
        ("ALTER TABLE t DROP COLUMN note", SourceTable("db", "t", (OLD.columns[0],), ("id",)), None),
        (
            "ALTER TABLE t ADD at DATETIME DEFAULT CURRENT_TIMESTAMP",
            altered(SourceColumn("at", "datetime", "datetime", default="current_timestamp()")),
            "was added with default current_timestamp()",
        ),
        (
            "ALTER TABLE t MODIFY note VARCHAR(40)",
            altered(note=SourceColumn("note", "varchar", "varchar(40)", char_length=40)),
            None,
        ),
        (
            "ALTER TABLE t MODIFY note VARCHAR(10)",
            altered(note=SourceColumn("note", "varchar", "varchar(10)", char_length=10)),
            "column note changed type from varchar(20) to varchar(10)",
        ),
        (
            "ALTER TABLE t MODIFY note INT",
            altered(note=SourceColumn("note", "int", "int(11)")),
            "column note changed type from varchar(20) to int(11)",
        ),
        ("ALTER TABLE t RENAME COLUMN note TO n", altered(), "a column rename did not produce"),
        (
            "ALTER TABLE t RENAME COLUMN note TO n",
            altered(note=SourceColumn("n", "varchar", "varchar(20)", char_length=20)),
            None,
        ),
        (
            "ALTER TABLE t CHANGE note n VARCHAR(30)",
            altered(note=SourceColumn("n", "varchar", "varchar(30)", char_length=30)),
            None,
        ),
        ("ALTER TABLE t CHANGE note note VARCHAR(20) NOT NULL", altered(), None),
        ("ALTER TABLE t RENAME TO u", altered(), "the table was renamed"),
        ("ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (note)", altered(key=("note",)), "the key changed"),
        ("ALTER TABLE t ADD q INT", None, "the table is gone"),
    ],
)
def test_which_alters_are_followed(statement: str, new: SourceTable | None, problem: str | None) -> None:
    found = follow_problem(statement, OLD, new)
    assert found == problem if problem is None else (found is not None and problem in found)


def test_a_definition_round_trips_through_batch_metadata() -> None:
    table = altered(SourceColumn("q", "decimal", "decimal(5,2)", precision=5, scale=2, default="1.50"))
    data = pa.Table.from_pylist([], schema=arrow_schema(table))
    found = definition_of(data)
    assert found == table and found.columns[-1].default == "1.50"
    assert constant_default("1.50") == "1.50" and constant_default("'a b'") == "'a b'"
    assert constant_default("NULL") is None and constant_default("current_timestamp()") is None
