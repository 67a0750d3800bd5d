"""Column definitions compared by type, and which changes of type are lossless widenings (pure)."""

from __future__ import annotations

import pytest

from s3rb_stream.core.column_types import same_definition, same_type, widens
from s3rb_stream.core.ddl import follow_problem
from s3rb_stream.core.schema import SourceColumn, SourceTable


def col(column_type: str, name: str = "v", **extra: object) -> SourceColumn:
    """A column as a server spells it: ``int(11) unsigned``, ``decimal(10,2)``, ``datetime(3)``."""
    data_type = column_type.split("(")[0].split()[0]
    return SourceColumn(name, data_type, column_type, **extra)  # type: ignore[arg-type]


def dec(p: int, s: int, spelled: str = "", overflow: str | None = None) -> SourceColumn:
    return col(f"decimal({p},{s}){spelled}", precision=p, scale=s, decimal_overflow=overflow)


def fsp(kind: str, digits: int) -> SourceColumn:
    return col(f"{kind}({digits})" if digits else kind, datetime_precision=digits)


def text(kind: str, length: int) -> SourceColumn:
    return col(f"{kind}({length})", char_length=length)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (col("int"), col("int(11)")),  # a table map's description, and MariaDB's information_schema
        (col("tinyint(1)"), col("tinyint(4)")),
        (col("int(10) unsigned"), col("int unsigned")),
        (col("int(10) unsigned zerofill"), col("int unsigned")),
        (col("int zerofill"), col("int unsigned")),  # ZEROFILL implies UNSIGNED
        (col("integer"), col("int(11)")),
        (col("bigint(20)", precision=19, scale=0), col("bigint")),  # NUMERIC_PRECISION is no part of an integer
        (col("double", precision=22), col("double")),
        (fsp("datetime", 0), col("datetime")),
        (dec(10, 2), col("decimal(10,2)", precision=10, scale=2)),
        (col("enum('a','b')"), col("enum('a','b')", char_length=1)),
    ],
)
def test_spellings_of_one_type_are_the_same_type(a: SourceColumn, b: SourceColumn) -> None:
    assert same_type(a, b) and same_type(b, a)
    assert not widens(a, b) and not widens(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (col("int"), col("int unsigned")),
        (col("int"), col("bigint")),
        (text("varchar", 10), text("varchar", 20)),
        (text("char", 10), text("varchar", 10)),
        (dec(10, 2), dec(10, 3)),
        (fsp("datetime", 0), fsp("datetime", 3)),
        (fsp("datetime", 0), fsp("timestamp", 0)),
        (col("enum('a','b')"), col("enum('a','b','c')")),
        (col("enum('unsigned')"), col("enum('x')")),
    ],
)
def test_other_types_differ(a: SourceColumn, b: SourceColumn) -> None:
    assert not same_type(a, b)


def test_an_enum_member_named_unsigned_does_not_make_the_column_unsigned() -> None:
    assert not col("enum('unsigned','zerofill')").unsigned
    assert col("decimal(10,2) unsigned", precision=10, scale=2).unsigned


WIDENINGS = [
    (col("tinyint(4)"), col("smallint(6)")),
    (col("int(11)"), col("bigint(20)")),
    (col("int(10) unsigned"), col("bigint(20)")),  # every unsigned INT fits a signed BIGINT
    (col("int(10) unsigned"), col("bigint(20) unsigned")),
    (col("smallint unsigned"), col("mediumint")),
    (col("mediumint"), col("int")),
    (dec(10, 2), dec(12, 2)),
    (dec(10, 2), dec(12, 4)),  # scale not smaller, integer digits not fewer
    (dec(10, 2), dec(11, 3)),
    (dec(36, 2), dec(40, 2)),  # past 38 digits: exact text in the target
    (col("float"), col("double")),
    (fsp("datetime", 0), fsp("datetime", 6)),
    (fsp("time", 0), fsp("time", 3)),
    (fsp("timestamp", 3), fsp("timestamp", 6)),
    (text("char", 10), text("varchar", 10)),
    (text("char", 10), text("varchar", 30)),
]
NOT_WIDENINGS = [
    (col("int"), col("int unsigned")),  # the negative values
    (col("int unsigned"), col("int")),
    (col("tinyint"), col("smallint unsigned")),
    (col("bigint"), col("int")),
    (col("bigint unsigned"), col("bigint")),
    (dec(10, 2), dec(10, 3)),  # an integer digit fewer
    (dec(10, 2), dec(12, 1)),  # a fractional digit fewer
    (dec(10, 2), dec(12, 2, " unsigned")),
    (dec(36, 2), dec(40, 2, overflow="truncate")),  # fitted into DECIMAL(38,0) in the target: not lossless
    (col("double"), col("float")),
    (col("int"), col("double")),  # another family
    (col("int"), dec(20, 0)),
    (col("int"), text("varchar", 20)),
    (fsp("datetime", 6), fsp("datetime", 3)),
    (fsp("datetime", 0), fsp("timestamp", 0)),
    (text("char", 10), text("varchar", 5)),
    (text("varchar", 10), text("char", 10)),
]


@pytest.mark.parametrize(("old", "new"), WIDENINGS)
def test_lossless_widenings(old: SourceColumn, new: SourceColumn) -> None:
    assert widens(old, new)
    assert not widens(new, old)


@pytest.mark.parametrize(("old", "new"), NOT_WIDENINGS)
def test_changes_that_are_not_lossless_widenings(old: SourceColumn, new: SourceColumn) -> None:
    assert not widens(old, new)


ID = SourceColumn("id", "int", "int(11)", nullable=False)


def table(*columns: SourceColumn) -> SourceTable:
    return SourceTable("db", "t", (ID, *columns), ("id",))


def test_definitions_compare_by_type_name_nullability_and_key() -> None:
    assert same_definition(table(col("int")), table(col("int(11)")))
    assert not same_definition(table(col("int")), table(col("bigint")))
    assert not same_definition(table(col("int")), table(col("int", nullable=False)))
    assert not same_definition(table(col("int")), table(col("int", name="w")))
    assert not same_definition(table(col("int")), SourceTable("db", "t", (ID, col("int")), ()))


def test_a_rename_of_a_column_described_by_its_table_map_is_followed() -> None:
    """The case of a rename replayed from history: the old name described from the table map
    ("int"), the new one from information_schema ("int(11)")."""
    old = table(col("int", name="age"))
    new = table(col("int(11)", name="years"))
    assert follow_problem("ALTER TABLE t RENAME COLUMN age TO years", old, new) is None


@pytest.mark.parametrize(("was", "now"), WIDENINGS)
def test_a_widening_is_followed_live_and_from_history(was: SourceColumn, now: SourceColumn) -> None:
    assert follow_problem("ALTER TABLE t MODIFY v ...", table(was), table(now)) is None
    assert follow_problem(None, table(now), table(was)) is None  # older rows than the definition held


@pytest.mark.parametrize(
    ("was", "now"),
    [(col("int(11)"), col("smallint(6)")), (col("int(11)"), text("varchar", 12)), (col("int"), col("int unsigned"))],
)
def test_a_type_change_not_followed_names_what_the_target_table_needs(was: SourceColumn, now: SourceColumn) -> None:
    problem = follow_problem("ALTER TABLE t MODIFY v ...", table(was), table(now), "analytics.t")
    assert problem == (
        f"column v changed type from {was.column_type} to {now.column_type}, which is not a lossless widening;"
        " before the table is re-snapshotted, drop the target table analytics.t in the warehouse"
        " (or alter its column v to the new type)"
    )
