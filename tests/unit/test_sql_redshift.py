"""Redshift SQL: exact text per variant, a parse with sqlglot's redshift dialect, and the lint."""

from __future__ import annotations

import pytest

from s3rb_stream.core.scd2 import make_spec
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError
from s3rb_stream.sql import redshift as rs
from s3rb_stream.sql import scd2
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


def all_statements() -> list[str]:
    return [
        rs.create_schema("analytics"),
        *rs.create_table("analytics", ITEMS),
        rs.create_control_table("analytics"),
        *rs.merge_load("analytics", ITEMS, MANIFEST, ROLE, 41),
        *rs.append_load("analytics", DOCS, MANIFEST, ROLE, 41),
        rs.merge_upserts("analytics", DOCS),
        rs.sweep("analytics", ITEMS),
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
        ' AND "_s3rb_newest"."_s3rb_seq" <= "order_items"."_s3rb_seq"'
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
    assert insert.startswith('INSERT INTO "analytics"."codes"') and "AND NOT EXISTS (SELECT 1 FROM" in insert
    assert rs.merge_load("analytics", ITEMS, MANIFEST, ROLE, 41)[-1].startswith("MERGE INTO")  # integer keys


def test_scd2_tells_text_keys_and_tracked_values_apart_by_trailing_blanks() -> None:
    steps = "\n".join(scd2.apply("analytics", CODES, CODES_SPEC, rs.STAGE, 41, rs.SCD2))
    assert 'SELECT DISTINCT "code", OCTET_LENGTH("code") AS "_s3rb_len0", "n" FROM' in steps
    assert 'PARTITION BY _s3rb_c."code", OCTET_LENGTH(_s3rb_c."code"), _s3rb_c."n"' in steps
    assert 'OCTET_LENGTH(_s3rb_c."label") = OCTET_LENGTH(LAG(_s3rb_c."label")' in steps  # a tracked value
    assert "OCTET_LENGTH" not in "\n".join(scd2.apply("analytics", DOCS, SPEC, rs.STAGE, 41, rs.SCD2))
