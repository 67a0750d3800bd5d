"""DuckDB SQL for targets: DDL from the source definition, the control table and the apply step.

Pure text builders; :mod:`s3rb_stream.targets.duckdb` runs them.
"""

from __future__ import annotations

import pyarrow as pa

from s3rb_stream.core.schema import DELETED_AT, SourceColumn, SourceTable, arrow_type
from s3rb_stream.sql import common
from s3rb_stream.sql.common import CONTROL_TABLE as CONTROL_TABLE
from s3rb_stream.sql.common import FENCE_TABLE as FENCE_TABLE
from s3rb_stream.sql.common import HARD_DELETES, ControlDialect, Deletes, SchemaName, all_columns, deleted_at
from s3rb_stream.sql.common import InCatalog as InCatalog
from s3rb_stream.sql.common import add_deleted_at as add_deleted_at
from s3rb_stream.sql.common import create_schema as create_schema  # re-exported: the dialect API
from s3rb_stream.sql.common import load_summary as load_summary
from s3rb_stream.sql.common import spelled_type as spelled_type
from s3rb_stream.sql.common import table_name as table_name
from s3rb_stream.sql.identifiers import quote_ansi as q
from s3rb_stream.sql.scd2 import Scd2Dialect
from s3rb_stream.sql.target import TargetStatements

_SIMPLE: dict[pa.DataType, str] = {
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.binary(): "BLOB",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


def column_type(col: SourceColumn) -> str:
    """DuckDB type for a source column, derived from its Arrow type: one contract for both."""
    arrow = arrow_type(col)
    if pa.types.is_decimal(arrow):
        return f"DECIMAL({arrow.precision},{arrow.scale})"
    return _SIMPLE[arrow]


def newest_per_key(table: SourceTable, staging: str) -> str:
    """The newest staged change per key at or above the watermark (bound as ``?``).

    "At": the parts of one snapshot share a sequence, so a part loaded after its sibling must
    still pass; a change at exactly the watermark applied twice is a no-op (see :func:`merge`).
    """
    keys = ", ".join(q(k) for k in table.key_columns)
    cols = ", ".join(q(c) for c in all_columns(table))
    return (
        f"SELECT {cols} FROM (\n"
        f'  SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY "_s3rb_seq" DESC) AS _s3rb_rank\n'
        f'  FROM {q(staging)} WHERE "_s3rb_seq" >= ?\n'
        ") WHERE _s3rb_rank = 1"
    )


def merge(schema: SchemaName, table: SourceTable, staging: str, deletes: Deletes = HARD_DELETES) -> str:
    """Apply the newest change per key; an older change never replaces a newer row (invariant 2). A
    snapshot row (``r``) at the target row's own sequence replaces it: a snapshot taken again at an
    unchanged position is a repair (docs/ARCHITECTURE.md, "Invariants").

    With soft deletes a delete is written like any change, its row image marked with its time, so
    a newer change revives the row and an older one never does (docs/ARCHITECTURE.md, "Deletes").
    """
    nullable = {c.name for c in table.columns if c.nullable}
    on = " AND ".join(
        f"_s3rb_t.{q(k)} IS NOT DISTINCT FROM _s3rb_s.{q(k)}" if k in nullable else f"_s3rb_t.{q(k)} = _s3rb_s.{q(k)}"
        for k in table.key_columns
    )
    cols = [q(c) for c in all_columns(table)]
    values = [f"_s3rb_s.{c}" for c in cols]
    if deletes.column:
        cols, values = [*cols, q(DELETED_AT)], [*values, deleted_at("_s3rb_s.")]
    updates = ", ".join(f"{c} = {v}" for c, v in zip(cols, values, strict=True))
    insert_cols = ", ".join(cols)
    insert_vals = ", ".join(values)
    hard_delete = (
        'WHEN MATCHED AND _s3rb_s."_s3rb_seq" > _s3rb_t."_s3rb_seq" AND _s3rb_s."_s3rb_op" = \'d\' THEN DELETE\n'
        if not deletes.soft
        else ""
    )
    not_a_delete = "" if deletes.soft else " AND _s3rb_s.\"_s3rb_op\" <> 'd'"
    newer = (
        '_s3rb_s."_s3rb_seq" > _s3rb_t."_s3rb_seq"'
        ' OR (_s3rb_s."_s3rb_seq" = _s3rb_t."_s3rb_seq" AND _s3rb_s."_s3rb_op" = \'r\')'
    )
    return (
        f"MERGE INTO {table_name(schema, table.name)} AS _s3rb_t\n"
        f"USING ({newest_per_key(table, staging)}) AS _s3rb_s\n"
        f"ON {on}\n"
        f"{hard_delete}"
        f"WHEN MATCHED AND ({newer}) THEN UPDATE SET {updates}\n"
        f"WHEN NOT MATCHED{not_a_delete} THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
    )


def append(schema: SchemaName, table: SourceTable, staging: str) -> str:
    cols = ", ".join(q(c) for c in all_columns(table))
    return (
        f"INSERT INTO {table_name(schema, table.name)} ({cols})\n"
        f'SELECT {cols} FROM {q(staging)} WHERE "_s3rb_seq" > ? ORDER BY "_s3rb_seq"'
    )


# Every name is qualified with the file's catalog (InCatalog), and information_schema lists every
# attached catalog's tables (temp's too): lookups keep to the file's.
DIALECT = ControlDialect(
    param="?",
    now="now()",
    name_type="VARCHAR",
    key_type="VARCHAR",
    op_type="VARCHAR",
    in_catalog="table_catalog = current_database() AND ",
)


SCD2 = Scd2Dialect(param="?", json_in=lambda expr: expr, identity="BIGINT DEFAULT nextval('{seq}')", sequence=True)


_STATEMENTS = TargetStatements(DIALECT, SCD2, column_type)
create_table = _STATEMENTS.create_table
create_control_table = _STATEMENTS.create_control_table
control_table_exists = _STATEMENTS.control_table_exists
applied_keys = _STATEMENTS.applied_keys
watermark = _STATEMENTS.watermark
applied_among = _STATEMENTS.applied_among
applied_before = _STATEMENTS.applied_before
folded_row = _STATEMENTS.folded_row
fold = _STATEMENTS.fold
record_batch = _STATEMENTS.record_batch
create_fence_table = _STATEMENTS.create_fence_table
claim_fence = _STATEMENTS.claim_fence
fence_table_upgrade = _STATEMENTS.fence_table_upgrade
hold_fence = _STATEMENTS.hold_fence
fence_generation = _STATEMENTS.fence_generation
sweep = _STATEMENTS.sweep
soft_sweep = _STATEMENTS.soft_sweep
target_columns = _STATEMENTS.target_columns
missing_columns = _STATEMENTS.missing_columns


def widened_columns(schema: SchemaName, table: SourceTable, existing: dict[str, str]) -> list[str]:
    """ALTERs widening the target columns the source widened: DuckDB changes a column's type in place."""
    return [
        common.alter_column_type(schema, table.name, name, wanted)
        for name, _, wanted in _STATEMENTS.widened_columns(table, existing)
    ]
