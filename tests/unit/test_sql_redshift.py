"""Redshift SQL: exact text per variant, a parse with sqlglot's redshift dialect, and the lint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3rb_stream.core.scd2 import make_spec
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError
from s3rb_stream.sql import redshift as rs
from s3rb_stream.sql import scd2
from s3rb_stream.sql.common import Deletes, holds
from s3rb_stream.sql.redshift_lint import lint

ITEMS = SourceTable(
    "shop",
    "order_items",
    (
        SourceColumn("order_id", "int", "int(11)", nullable=False),
        SourceColumn("line", "int", "int(11)", nullable=False),
        SourceColumn("sku", "varchar", "varchar(20)", char_length=20),
    ),
    ("order_id", "line"),
)
DOCS = SourceTable(
    "shop",
    "docs",
    (SourceColumn("id", "int", "int(11)", nullable=False), SourceColumn("body", "json", "json")),
    ("id",),
)
SPEC = make_spec(DOCS, None, "valid_from", "valid_to", "is_current", "update")
CODES = SourceTable(
    "shop",
    "codes",
    (
        SourceColumn("code", "varchar", "varchar(8)", nullable=False, char_length=8),
        SourceColumn("n", "int", "int(11)", nullable=False),
        SourceColumn("label", "varchar", "varchar(20)", char_length=20),
    ),
    ("code", "n"),
)
CODES_SPEC = make_spec(CODES, None, "valid_from", "valid_to", "is_current", "update")
ROLE = "arn:aws:iam::123456789012:role/s3rb-copy"
MANIFEST = "s3://bucket/cdc/_s3rb_state/manifests/load-1.manifest"
SOFT = Deletes(soft=True)


def all_statements() -> list[str]:
    return [
        rs.create_schema("analytics"),
        *rs.create_table("analytics", ITEMS),
        rs.create_control_table("analytics"),
        *rs.merge_load("analytics", ITEMS, MANIFEST, ROLE, 41),
        *rs.append_load("analytics", DOCS, MANIFEST, ROLE, 41),
        rs.merge_upserts("analytics", DOCS),
        rs.sweep("analytics", ITEMS),
        *rs.create_table("analytics", ITEMS, soft_delete=True),
        rs.add_deleted_at("analytics", "order_items"),
        *rs.merge_load("analytics", ITEMS, MANIFEST, ROLE, 41, SOFT),
        rs.merge_upserts("analytics", DOCS, Deletes(soft=False, column=True)),
        rs.soft_sweep("analytics", ITEMS, 41, datetime(2026, 1, 1, tzinfo=UTC))[0],
        *rs.create_table("analytics", DOCS, SPEC),
        *scd2.apply("analytics", DOCS, SPEC, rs.STAGE, 41, rs.SCD2),
        scd2.expire_unseen("analytics", DOCS, SPEC, rs.SCD2),
        *rs.merge_load("analytics", CODES, MANIFEST, ROLE, 41),
        *scd2.apply("analytics", CODES, CODES_SPEC, rs.STAGE, 41, rs.SCD2),
        rs.record_batch("analytics"),
        rs.watermark("analytics"),
        rs.applied_keys("analytics"),
    ]


@pytest.mark.parametrize(
    ("data_type", "column_type", "kw", "expected"),
    [
        ("varchar", "varchar(20)", {"char_length": 20}, "VARCHAR(80)"),
        ("varchar", "varchar(20000)", {"char_length": 20000}, "VARCHAR(65535)"),
        ("longtext", "longtext", {"char_length": 4294967295}, "VARCHAR(65535)"),
        ("decimal", "decimal(38,4)", {"precision": 38, "scale": 4}, "DECIMAL(38,4)"),
        ("json", "json", {}, "SUPER"),
        ("datetime", "datetime(6)", {}, "TIMESTAMP"),
        ("timestamp", "timestamp", {}, "TIMESTAMPTZ"),
        ("bigint", "bigint(20) unsigned", {}, "DECIMAL(20,0)"),
        ("int", "int(10) unsigned", {}, "BIGINT"),
        ("smallint", "smallint(5) unsigned", {}, "INTEGER"),
        ("mediumint", "mediumint(8) unsigned", {}, "INTEGER"),
        ("tinyint", "tinyint(4)", {}, "SMALLINT"),
        ("tinyint", "tinyint(3) unsigned", {}, "SMALLINT"),
        ("bit", "bit(1)", {"precision": 1}, "BIGINT"),
        ("bit", "bit(64)", {"precision": 64}, "DECIMAL(20,0)"),
        ("decimal", "decimal(65,30)", {"precision": 65, "scale": 30}, "VARCHAR(67)"),
        ("float", "float", {}, "REAL"),
        ("double", "double", {}, "DOUBLE PRECISION"),
        ("year", "year(4)", {}, "SMALLINT"),
        ("date", "date", {}, "DATE"),
        ("enum", "enum('a','b')", {"char_length": 1}, "VARCHAR(4)"),
        ("time", "time(6)", {}, "VARCHAR(20)"),
        ("blob", "blob", {"char_length": 65535}, "VARBYTE(65535)"),
    ],
)
def test_types(data_type: str, column_type: str, kw: dict[str, int], expected: str) -> None:
    assert rs.column_type(SourceColumn("c", data_type, column_type, **kw)) == expected  # type: ignore[arg-type]


def test_stage_has_the_target_columns_with_json_as_text() -> None:
    assert rs.create_stage(DOCS) == (
        'CREATE TEMP TABLE "_s3rb_stage" (\n'
        '  "id" INTEGER,\n'
        '  "body" VARCHAR(65535),\n'
        '  "_s3rb_seq" BIGINT NOT NULL,\n'
        '  "_s3rb_op" CHAR(1) NOT NULL,\n'
        '  "_s3rb_source_ts" TIMESTAMPTZ NOT NULL\n'
        ")"
    )


def test_json_is_parsed_into_super_when_applied() -> None:
    assert 'USING (SELECT "id", JSON_PARSE("body") AS "body", "_s3rb_seq"' in rs.merge_upserts("analytics", DOCS)
    assert 'SELECT "id", JSON_PARSE("body") AS "body", "_s3rb_seq"' in rs.append("analytics", DOCS, 0)


def test_copy_reads_exactly_the_manifest_with_the_role() -> None:
    assert rs.copy_manifest(MANIFEST, ROLE) == (
        f"COPY \"_s3rb_stage\" FROM '{MANIFEST}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST"
    )


def test_merge_text_has_one_unconditional_clause_each() -> None:
    columns = ["order_id", "line", "sku", "_s3rb_seq", "_s3rb_op", "_s3rb_source_ts"]
    quoted = ", ".join(f'"{c}"' for c in columns)
    assert rs.merge_upserts("analytics", ITEMS) == (
        'MERGE INTO "analytics"."order_items"\n'
        f'USING (SELECT {quoted} FROM "_s3rb_newest" WHERE "_s3rb_op" <> \'d\') AS _s3rb_src\n'
        'ON "order_items"."order_id" = _s3rb_src."order_id" AND "order_items"."line" = _s3rb_src."line"\n'
        "WHEN MATCHED THEN UPDATE SET " + ", ".join(f'"{c}" = _s3rb_src."{c}"' for c in columns) + "\n"
        f"WHEN NOT MATCHED THEN INSERT ({quoted})"
        " VALUES (" + ", ".join(f'_s3rb_src."{c}"' for c in columns) + ")"
    )


def test_stale_changes_and_deletes_text() -> None:
    assert rs.drop_stale("analytics", ITEMS) == (
        'DELETE FROM "_s3rb_newest" USING "analytics"."order_items"\n'
        'WHERE "_s3rb_newest"."order_id" = "order_items"."order_id" AND "_s3rb_newest"."line" = "order_items"."line"'
        ' AND ("_s3rb_newest"."_s3rb_seq" < "order_items"."_s3rb_seq"'
        ' OR ("_s3rb_newest"."_s3rb_seq" = "order_items"."_s3rb_seq" AND "_s3rb_newest"."_s3rb_op" <> \'r\'))'
    )
    assert rs.apply_deletes("analytics", ITEMS).endswith('AND "_s3rb_newest"."_s3rb_op" = \'d\'')


def test_watermark_is_an_inline_integer() -> None:
    assert 'WHERE "_s3rb_seq" >= 41\n' in rs.newest_per_key(ITEMS, 41)
    assert rs.append("analytics", ITEMS, 7).endswith('WHERE "_s3rb_seq" > 7')


def test_merge_load_order() -> None:
    steps = rs.merge_load("analytics", ITEMS, MANIFEST, ROLE, 41)
    heads = [s.split("\n")[0][:30] for s in steps]
    assert heads == [
        'DROP TABLE IF EXISTS "_s3rb_ne',
        'DROP TABLE IF EXISTS "_s3rb_st',
        'CREATE TEMP TABLE "_s3rb_stage',
        'COPY "_s3rb_stage" FROM \'s3://',
        'CREATE TEMP TABLE "_s3rb_newes',
        'DELETE FROM "_s3rb_newest" USI',
        'DELETE FROM "analytics"."order',
        'MERGE INTO "analytics"."order_',
    ]


def test_soft_deletes_merge_the_deletes_marked_and_delete_nothing() -> None:
    steps = rs.merge_load("analytics", ITEMS, MANIFEST, ROLE, 41, SOFT)
    assert rs.apply_deletes("analytics", ITEMS) not in steps
    assert [s for s in steps if s.startswith("DELETE FROM")] == [rs.drop_stale("analytics", ITEMS)]
    merge = steps[-1]
    columns = ["order_id", "line", "sku", "_s3rb_seq", "_s3rb_op", "_s3rb_source_ts"]
    quoted = ", ".join(f'"{c}"' for c in columns)
    marked = 'CASE WHEN "_s3rb_op" = \'d\' THEN "_s3rb_source_ts" END AS "_s3rb_deleted_at"'
    assert f'USING (SELECT {quoted}, {marked} FROM "_s3rb_newest") AS _s3rb_src\n' in merge
    assert '"_s3rb_deleted_at" = _s3rb_src."_s3rb_deleted_at"' in merge.split("WHEN MATCHED")[1]
    assert merge.endswith(', _s3rb_src."_s3rb_deleted_at")')


def test_a_table_that_keeps_the_column_with_hard_deletes_writes_null_there() -> None:
    merge = rs.merge_upserts("analytics", ITEMS, Deletes(soft=False, column=True))
    assert 'FROM "_s3rb_newest" WHERE "_s3rb_op" <> \'d\') AS _s3rb_src' in merge
    assert '"_s3rb_deleted_at" = _s3rb_src."_s3rb_deleted_at"' in merge
    assert rs.apply_deletes("analytics", ITEMS) in rs.merge_load(
        "analytics", ITEMS, MANIFEST, ROLE, 41, Deletes(soft=False, column=True)
    )


def test_soft_delete_tables_are_created_with_the_column_last() -> None:
    (create,) = rs.create_table("analytics", ITEMS, soft_delete=True)
    assert create.endswith('"_s3rb_source_ts" TIMESTAMPTZ NOT NULL,\n  "_s3rb_deleted_at" TIMESTAMPTZ\n)')
    assert "_s3rb_deleted_at" not in rs.create_table("analytics", ITEMS)[0]
    assert "_s3rb_deleted_at" not in rs.create_stage(ITEMS)  # COPY fills the stage from Parquet, by position


def test_a_soft_sweep_marks_live_rows_below_the_extract() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    statement, params = rs.soft_sweep("analytics", ITEMS, 41, at)
    assert statement == (
        'UPDATE "analytics"."order_items" SET "_s3rb_op" = \'d\', "_s3rb_seq" = %s, "_s3rb_source_ts" = %s,'
        ' "_s3rb_deleted_at" = %s WHERE "_s3rb_seq" < %s AND "_s3rb_deleted_at" IS NULL'
    )
    assert params == (41, at, at, 41)


@pytest.mark.parametrize("statement", all_statements())
def test_every_statement_parses_and_passes_the_lint(statement: str) -> None:
    assert lint(statement) == []


def test_nullable_key_is_refused_for_redshift_merge() -> None:
    table = SourceTable("s", "t", (SourceColumn("k", "int", "int", nullable=True),), ("k",))
    with pytest.raises(SchemaError, match="nullable"):
        rs.merge_upserts("a", table)


@pytest.mark.parametrize(
    ("statement", "needle"),
    [
        (
            "MERGE INTO a.t USING s ON t.id = s.id WHEN MATCHED AND s.op = 'd' THEN DELETE "
            "WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT (v) VALUES (s.v)",
            "exactly one WHEN MATCHED",
        ),
        (
            "MERGE INTO a.t USING s ON t.id = s.id WHEN MATCHED AND s.v > 1 THEN UPDATE SET v = s.v "
            "WHEN NOT MATCHED THEN INSERT (v) VALUES (s.v)",
            "no condition",
        ),
        (
            "MERGE INTO a.t AS x USING s ON x.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v "
            "WHEN NOT MATCHED THEN INSERT (v) VALUES (s.v)",
            "no alias on the target",
        ),
        (
            "MERGE INTO a.t USING s ON t.id = s.id OR t.v > 1 WHEN MATCHED THEN UPDATE SET v = s.v "
            "WHEN NOT MATCHED THEN INSERT (v) VALUES (s.v)",
            "equality predicates only",
        ),
        ("SELECT 1 WHERE a IS DISTINCT FROM b", "IS [NOT] DISTINCT FROM"),
        ("SELECT 1 WHERE a IS NOT DISTINCT FROM b", "IS [NOT] DISTINCT FROM"),
        ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING", "ON CONFLICT"),
        ("CREATE TABLE t (a TINYINT, b JSONB)", "is not a Redshift type"),
        ("MERGE INTO", "does not parse"),
    ],
)
def test_lint_rejects_what_redshift_lacks(statement: str, needle: str) -> None:
    problems = lint(statement)
    assert any(needle in p for p in problems), problems


@pytest.mark.parametrize(
    ("current", "wanted", "wider"),
    [
        ("SMALLINT", "INTEGER", True),
        ("INTEGER", "BIGINT", True),
        ("BIGINT", "DECIMAL(20,0)", True),  # BIGINT UNSIGNED
        ("INTEGER", "DECIMAL(12,2)", True),
        ("DECIMAL(10,2)", "DECIMAL(14,4)", True),
        ("DECIMAL(36,2)", "VARCHAR(42)", True),  # past 38 digits: exact text
        ("DECIMAL(38,2)", "VARCHAR(40)", True),
        ("REAL", "DOUBLE PRECISION", True),
        ("FLOAT", "DOUBLE", True),  # DuckDB's spelling
        ("VARCHAR(80)", "VARCHAR(800)", True),
        ("BIGINT", "INTEGER", False),  # never narrowed: a narrower batch loads into the wider column
        ("INTEGER", "INTEGER", False),
        ("BIGINT", "DECIMAL(19,1)", False),
        ("DECIMAL(10,2)", "DECIMAL(10,3)", False),
        ("DECIMAL(38,2)", "VARCHAR(39)", False),
        ("DOUBLE PRECISION", "REAL", False),
        ("VARCHAR(800)", "VARCHAR(80)", False),
        ("VARCHAR", "VARCHAR", False),
        ("INTEGER", "VARCHAR(40)", False),  # another family: the advice is to drop or alter the table
        ("TIMESTAMP", "TIMESTAMPTZ", False),
    ],
)
def test_which_target_types_hold_another(current: str, wanted: str, wider: bool) -> None:
    assert holds(current, wanted) is wider


@pytest.mark.parametrize(
    ("described", "spelled"),
    [
        (("integer", None, 32, 0), "INTEGER"),
        (("numeric", None, 14, 4), "DECIMAL(14,4)"),
        (("DECIMAL(14,4)", None, 14, 4), "DECIMAL(14,4)"),
        (("character varying", 80, None, None), "VARCHAR(80)"),
        (("VARCHAR", None, None, None), "VARCHAR"),
        (("double precision", None, 53, None), "DOUBLE PRECISION"),
        (("timestamp with time zone", None, None, None), "TIMESTAMP WITH TIME ZONE"),
    ],
)
def test_target_types_are_spelled_as_column_type_writes_them(
    described: tuple[str, int | None, int | None, int | None], spelled: str
) -> None:
    assert rs.spelled_type(*described) == spelled


WIDENED = SourceTable(
    "shop",
    "items",
    (
        SourceColumn("id", "bigint", "bigint(20)", nullable=False),
        SourceColumn("name", "varchar", "varchar(200)", char_length=200),
        SourceColumn("tier", "varchar", "varchar(40)", char_length=40),
        SourceColumn("price", "decimal", "decimal(14,4)", precision=14, scale=4),
        SourceColumn("ratio", "double", "double"),
    ),
    ("id",),
)


def test_a_varchar_widens_in_place_and_every_other_widening_is_rebuilt_in_one_transaction() -> None:
    """ALTER COLUMN TYPE only makes a VARCHAR without a default longer ("Redshift")."""
    existing = {"id": "INTEGER", "name": "VARCHAR(80)", "tier": "VARCHAR(20)", "price": "DECIMAL(10,2)",
                "ratio": "DOUBLE PRECISION"}  # fmt: skip
    alone, rebuilt = rs.widened_columns("analytics", WIDENED, existing, {"tier"})
    assert alone == ['ALTER TABLE "analytics"."items" ALTER COLUMN "name" TYPE VARCHAR(800)']
    target = '"analytics"."items"'

    def rebuild(column: str, wanted: str) -> list[str]:
        return [
            f'ALTER TABLE {target} ADD COLUMN "_s3rb_widening" {wanted}',
            f'UPDATE {target} SET "_s3rb_widening" = CAST("{column}" AS {wanted})',
            f'ALTER TABLE {target} DROP COLUMN "{column}"',
            f'ALTER TABLE {target} RENAME COLUMN "_s3rb_widening" TO "{column}"',
        ]

    assert rebuilt == [*rebuild("id", "BIGINT"), *rebuild("tier", "VARCHAR(160)"), *rebuild("price", "DECIMAL(14,4)")]
    assert all(lint(statement) == [] for statement in alone + rebuilt)
    assert rs.widened_columns("analytics", WIDENED, {c.name: rs.column_type(c) for c in WIDENED.columns}) == ([], [])


def test_a_text_key_is_compared_with_its_trailing_blanks() -> None:
    """Redshift's VARCHAR comparison ignores trailing blanks ("Character types"): 'a' and 'a ' would
    be one key in its ROW_NUMBER partition, DELETE ... USING and MERGE ON. Their byte lengths tell
    them apart, and the upsert is an UPDATE and an INSERT by that exact key instead of a MERGE."""
    exact = '("_s3rb_newest"."code" = "codes"."code" AND OCTET_LENGTH("_s3rb_newest"."code")'
    assert 'PARTITION BY "code", OCTET_LENGTH("code"), "n" ORDER BY' in rs.newest_per_key(CODES, 1)
    assert (
        rs.drop_stale("analytics", CODES)
        .split("\n")[1]
        .startswith(f'WHERE {exact} = OCTET_LENGTH("codes"."code")) AND "_s3rb_newest"."n" = "codes"."n"')
    )
    steps = rs.merge_load("analytics", CODES, MANIFEST, ROLE, 41)
    assert not any(s.startswith("MERGE") for s in steps)
    update, insert = steps[-2:]
    assert update.startswith('UPDATE "analytics"."codes" SET "code" = _s3rb_src."code"')
    assert update.endswith(
        'WHERE ("codes"."code" = _s3rb_src."code" AND OCTET_LENGTH("codes"."code") = OCTET_LENGTH(_s3rb_src."code"))'
        ' AND "codes"."n" = _s3rb_src."n"'
    )
    assert insert.startswith('INSERT INTO "analytics"."codes"') and "WHERE NOT EXISTS (SELECT 1 FROM" in insert
    assert rs.merge_load("analytics", ITEMS, MANIFEST, ROLE, 41)[-1].startswith("MERGE INTO")  # integer keys


def test_scd2_tells_text_keys_and_tracked_values_apart_by_trailing_blanks() -> None:
    steps = "\n".join(scd2.apply("analytics", CODES, CODES_SPEC, rs.STAGE, 41, rs.SCD2))
    assert 'SELECT DISTINCT "code", OCTET_LENGTH("code") AS "_s3rb_len0", "n" FROM' in steps
    assert 'PARTITION BY _s3rb_c."code", OCTET_LENGTH(_s3rb_c."code"), _s3rb_c."n"' in steps
    assert 'OCTET_LENGTH(_s3rb_c."label") = OCTET_LENGTH(LAG(_s3rb_c."label")' in steps  # a tracked value
    assert "OCTET_LENGTH" not in "\n".join(scd2.apply("analytics", DOCS, SPEC, rs.STAGE, 41, rs.SCD2))
