from __future__ import annotations

import pytest

from s3rb_stream.core.scd2 import Scd2Spec
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.sql import duckdb as sql
from s3rb_stream.sql.common import Deletes


@pytest.mark.parametrize(
    ("data_type", "column_type", "kw", "expected"),
    [
        ("tinyint", "tinyint(3) unsigned", {}, "SMALLINT"),
        ("bigint", "bigint(20) unsigned", {}, "DECIMAL(20,0)"),
        ("decimal", "decimal(12,2)", {"precision": 12, "scale": 2}, "DECIMAL(12,2)"),
        ("decimal", "decimal(50,2)", {"precision": 50, "scale": 2}, "VARCHAR"),
        ("timestamp", "timestamp(3)", {}, "TIMESTAMPTZ"),
        ("datetime", "datetime", {}, "TIMESTAMP"),
        ("json", "json", {}, "VARCHAR"),
        ("bit", "bit(3)", {"precision": 3}, "BIGINT"),
        ("point", "point", {}, "BLOB"),
    ],
)
def test_column_types_follow_the_arrow_contract(
    data_type: str, column_type: str, kw: dict[str, int], expected: str
) -> None:
    assert sql.column_type(SourceColumn("c", data_type, column_type, **kw)) == expected  # type: ignore[arg-type]


TABLE = SourceTable(
    "s",
    'we"ird',
    (
        SourceColumn("a", "int", "int", nullable=False),
        SourceColumn("b", "int", "int", nullable=True),
        SourceColumn("v", "text", "text"),
    ),
    ("a", "b"),
)


def test_merge_quotes_identifiers_and_compares_nullable_keys_null_safely() -> None:
    text = sql.merge("t", TABLE, "stage")
    assert text.startswith('MERGE INTO "t"."we""ird" AS _s3rb_t\n')
    assert 'ON _s3rb_t."a" = _s3rb_s."a" AND _s3rb_t."b" IS NOT DISTINCT FROM _s3rb_s."b"\n' in text
    assert 'PARTITION BY "a", "b" ORDER BY "_s3rb_seq" DESC' in text
    assert (
        'WHEN MATCHED AND _s3rb_s."_s3rb_seq" > _s3rb_t."_s3rb_seq" AND _s3rb_s."_s3rb_op" = \'d\' THEN DELETE'
    ) in text
    assert "WHEN NOT MATCHED AND _s3rb_s.\"_s3rb_op\" <> 'd' THEN INSERT" in text


def test_a_soft_delete_merge_writes_deletes_as_marked_rows_and_deletes_nothing() -> None:
    text = sql.merge("t", TABLE, "stage", Deletes(soft=True))
    assert "THEN DELETE" not in text
    marked = 'CASE WHEN _s3rb_s."_s3rb_op" = \'d\' THEN _s3rb_s."_s3rb_source_ts" END'
    assert (
        'WHEN MATCHED AND (_s3rb_s."_s3rb_seq" > _s3rb_t."_s3rb_seq" OR (_s3rb_s."_s3rb_seq" = _s3rb_t."_s3rb_seq"'
        ' AND _s3rb_s."_s3rb_op" = \'r\')) THEN UPDATE SET "a" = _s3rb_s."a"' in text
    )
    assert f'"_s3rb_deleted_at" = {marked}\n' in text
    assert (
        'WHEN NOT MATCHED THEN INSERT ("a", "b", "v", "_s3rb_seq", "_s3rb_op", "_s3rb_source_ts", "_s3rb_deleted_at")'
        in text
    )
    assert text.endswith(f'_s3rb_s."_s3rb_source_ts", {marked})')


def test_a_table_that_keeps_the_column_with_hard_deletes_writes_null_there() -> None:
    text = sql.merge("t", TABLE, "stage", Deletes(soft=False, column=True))
    assert "THEN DELETE" in text and "WHEN NOT MATCHED AND _s3rb_s.\"_s3rb_op\" <> 'd' THEN INSERT" in text
    assert '"_s3rb_deleted_at" = CASE WHEN' in text


def test_every_name_carries_the_catalog_and_lookups_keep_to_it() -> None:
    """docs/ARCHITECTURE.md, "Names in the target": the file's catalog in every name, quoted."""
    at = sql.InCatalog('an"a', 'an"a')
    assert sql.merge(at, TABLE, "stage").startswith('MERGE INTO "an""a"."an""a"."we""ird" AS _s3rb_t\n')
    assert sql.create_schema(at) == 'CREATE SCHEMA IF NOT EXISTS "an""a"."an""a"'
    assert sql.watermark(at).endswith('FROM "an""a"."an""a"."_s3rb_batches" WHERE table_name = ?')
    assert all('"an""a"."an""a".' in s for s in sql.create_table(at, TABLE, Scd2Spec(("v",))))
    for lookup in (sql.target_columns(), sql.control_table_exists()):
        assert "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?" in lookup
