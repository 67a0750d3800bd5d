"""A row image's own table map gives the definition it was written under (pure: no server)."""

from __future__ import annotations

import pytest

from s3rb_stream.core.ddl import added_columns
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError
from s3rb_stream.sources import table_map as tm
from s3rb_stream.sources.table_history import AlterHints, column_from_layout, reconcile

UTF8MB4 = 224
ID = SourceColumn("id", "int", "int(11)", nullable=False)
NAME = SourceColumn("name", "varchar", "varchar(20)", char_length=20)
TIER = SourceColumn("tier", "varchar", "varchar(10)", char_length=10, default="'gold'")


def layout_of(*columns: tuple[int, int, int | None]) -> tuple[tm.ColumnLayout, ...]:
    return tuple(tm.ColumnLayout(t, m, c) for t, m, c in columns)


def tmap(names: tuple[str, ...], layouts: tuple[tm.ColumnLayout, ...], **extra: object) -> tm.TableMap:
    return tm.TableMap(1, "db", "t", layouts, names, tuple(n != "id" for n in names), **extra)  # type: ignore[arg-type]


INT, VARCHAR80 = (tm.LONG, 0, None), (tm.VARCHAR, 80, UTF8MB4)


def test_an_older_map_without_a_column_added_later_gives_the_older_definition() -> None:
    now = SourceTable("db", "t", (ID, NAME, TIER), ("id",))
    older = reconcile(tmap(("id", "name"), layout_of(INT, VARCHAR80)), now, now)
    assert older.column_names == ("id", "name") and older.key_columns == ("id",)
    assert older.columns == (ID, NAME)  # what the server says of the columns it still has


def test_a_column_dropped_later_is_described_by_the_map_alone() -> None:
    now = SourceTable("db", "t", (ID,), ("id",))
    layouts = (
        *layout_of(INT, VARCHAR80),
        tm.ColumnLayout(tm.TINY, 0, None, True),
        tm.ColumnLayout(tm.ENUM, 1, None, None, ("a", "b'c")),
    )
    older = reconcile(tmap(("id", "gone", "flag", "kind"), layouts), now, now)
    gone, flag, kind = older.columns[1:]
    assert (gone.data_type, gone.column_type, gone.char_length) == ("varchar", "varchar(20)", 20)  # 80 bytes of utf8mb4
    assert (flag.column_type, flag.unsigned) == ("tinyint unsigned", True)
    assert kind.set_members == ("a", "b'c")


def test_an_added_column_takes_the_default_its_alter_gave_it_and_a_rename_is_marked() -> None:
    before = SourceTable("db", "t", (ID, NAME), ("id",))
    now = SourceTable("db", "t", (ID, SourceColumn("label", "varchar", "varchar(20)", char_length=20), TIER), ("id",))
    hints = AlterHints(BinlogPosition("b.1", 4), ["..."], renames={"name": "label"}, added={"tier": "'bronze'"})
    after = reconcile(
        tmap(("id", "label", "tier"), layout_of(INT, VARCHAR80, (tm.VARCHAR, 40, UTF8MB4))), before, now, hints
    )
    assert after.column_names == ("id", "label", "tier")
    assert after.columns[1].renamed_from == "name"
    assert after.columns[2].default == "'bronze'"  # as of the ALTER, not the server's 'gold' of now


def test_a_column_whose_type_changed_since_is_described_by_the_map() -> None:
    now = SourceTable("db", "t", (ID, SourceColumn("n", "bigint", "bigint(20)")), ("id",))
    older = reconcile(tmap(("id", "n"), layout_of(INT, INT)), now, now)
    assert older.columns[1].data_type == "int"


def test_without_column_names_there_is_no_history_to_read() -> None:
    now = SourceTable("db", "t", (ID,), ("id",))
    with pytest.raises(SchemaError, match="binlog_row_metadata=FULL"):
        reconcile(tm.TableMap(1, "db", "t", layout_of(INT, INT), None), now, now)


@pytest.mark.parametrize(
    ("layout", "column_type"),
    [
        ((tm.NEWDECIMAL, 10 << 8 | 2, None), "decimal(10,2)"),
        ((tm.DATETIME2, 3, None), "datetime(3)"),
        ((tm.TIMESTAMP2, 0, None), "timestamp"),
        ((tm.STRING, 5, 63), "binary(5)"),
        ((tm.BLOB, 3, 63), "mediumblob"),
        ((tm.BLOB, 4, UTF8MB4), "longtext"),
        ((tm.BIT, 5, None), "bit(5)"),
    ],
)
def test_column_types_from_layouts(layout: tuple[int, int, int | None], column_type: str) -> None:
    assert column_from_layout("c", tm.ColumnLayout(*layout), True, False, None).column_type == column_type


def test_added_columns_and_their_defaults_as_written() -> None:
    statement = (
        "ALTER TABLE t ADD c INT NOT NULL DEFAULT 5 AFTER a, ADD INDEX (c), ADD COLUMN `d x` DATETIME"
        " DEFAULT CURRENT_TIMESTAMP, ADD e ENUM('a,b','c') DEFAULT 'a,b', ADD f TEXT, MODIFY g INT DEFAULT 1"
    )
    assert added_columns(statement) == {"c": "5", "d x": "CURRENT_TIMESTAMP", "e": "'a,b'", "f": None}
    assert added_columns("ALTER TABLE customer ADD COLUMN loyalty_tier VARCHAR(10) DEFAULT 'bronze'") == {
        "loyalty_tier": "'bronze'"
    }
