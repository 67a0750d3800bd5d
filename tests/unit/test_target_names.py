from __future__ import annotations

import pytest

from s3rb_stream.core.scd2 import Scd2Spec
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.core.target_names import duckdb_rules, redshift_rules
from s3rb_stream.errors import ConfigError, SchemaError


def table(name: str, *columns: str, key: tuple[str, ...] = ()) -> SourceTable:
    cols = tuple(SourceColumn(c, "int", "int", nullable=False) for c in columns)
    return SourceTable("sales", name, cols, key or (columns[0],))


def test_redshift_spells_every_name_in_lower_case() -> None:
    rules = redshift_rules()
    renamed = SourceColumn("createdAt", "int", "int", renamed_from="CreatedOn")
    source = SourceTable("sales", "Orders", (SourceColumn("Id", "int", "int"), renamed), ("Id",))
    target = rules.table(source)
    assert (target.name, target.column_names, target.key_columns) == ("orders", ("id", "createdat"), ("id",))
    assert target.columns[1].renamed_from == "createdon"
    spec = rules.spec(Scd2Spec(("createdAt",), "ValidFrom", "valid_to", "Current"))
    assert spec == Scd2Spec(("createdat",), "validfrom", "valid_to", "current")
    assert duckdb_rules().table(source) is source  # DuckDB keeps the case it is given


@pytest.mark.parametrize("rules", [redshift_rules(), duckdb_rules()])
def test_names_that_differ_only_in_case_collide_on_both_targets(rules: object) -> None:
    from s3rb_stream.core.target_names import NameRules

    assert isinstance(rules, NameRules)
    with pytest.raises(SchemaError, match="tables 'Orders' and 'orders' of sales are one table"):
        rules.check_tables([table("orders", "id"), table("Orders", "id")])
    with pytest.raises(SchemaError, match="columns 'Valid_To' and 'valid_to' are one name"):
        rules.check_table(table("t", "id", "Valid_To"), Scd2Spec(("Valid_To",)))
    with pytest.raises(SchemaError, match="_s3rb_"):
        rules.check_table(table("t", "id", "_S3RB_OP"))
    with pytest.raises(SchemaError, match="_s3rb_"):
        rules.check_table(table("_s3rb_stage", "id"))
    rules.check_table(table("s", "id", "select", "order", "t", "v"), Scd2Spec(("select",)))


def test_redshift_refuses_names_it_would_cut() -> None:
    rules = redshift_rules()
    rules.check_table(table("é" * 63, "x" * 127))  # 126 and 127 bytes
    with pytest.raises(SchemaError, match=r"column of sales\.t 'ééé.*' has 128 bytes; Redshift names hold at most 127"):
        rules.check_table(table("t", "é" * 64))
    with pytest.raises(SchemaError, match=r"target schema 'ssss.*' has 128 bytes"):
        rules.check_schema("s" * 128)
    duckdb_rules().check_table(table("t", "é" * 64))


def test_duckdb_refuses_only_its_own_schemas_and_takes_names_of_catalogs() -> None:
    """DuckDB's SQL here names the catalog, so the file's name, temp and system are schemas like any
    other; information_schema and pg_catalog hold no table (tests/unit/test_duckdb_apply.py)."""
    rules = duckdb_rules()
    for name in ("information_schema", "pg_catalog", "Information_Schema", "PG_CATALOG"):
        with pytest.raises(ConfigError, match=f"target schema '{name}' cannot be used with DuckDB: DuckDB keeps"):
            rules.check_schema(name)
    for name in ("warehouse", "analytics", "temp", "system", "main", "memory"):
        rules.check_schema(name)


def test_redshift_refuses_temporary_table_names_and_unprintable_names() -> None:
    """ "Names and identifiers": printable UTF-8 only; "CREATE TABLE": a name starting with # is a
    temporary table, gone with the session."""
    rules = redshift_rules()
    with pytest.raises(SchemaError, match=r"table '#orders' starts with '#', which makes a temporary table"):
        rules.check_table(table("#orders", "id"))
    with pytest.raises(SchemaError, match=r"target schema '#stage' starts with '#'"):
        rules.check_schema("#stage")
    with pytest.raises(SchemaError, match=r"table 'or\\tders' holds a character that is not printable \(U\+0009\)"):
        rules.check_table(table("or\tders", "id"))
    with pytest.raises(SchemaError, match=r"column of sales\.t 'a\\x00b' .*not printable \(U\+0000\)"):
        rules.check_table(table("t", "id", "a\x00b"))
    with pytest.raises(SchemaError, match=r"target schema .*U\+200B"):
        rules.check_schema("zero\u200bwidth")
    rules.check_table(table("or#ders", "id", "#count", "naïve name", "50% off"))  # '#' inside, or in a column
    duck = duckdb_rules()
    duck.check_table(table("#orders", "id", "a\tb"))
    duck.check_schema("#stage")
