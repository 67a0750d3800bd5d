"""Redshift SQL for the target: DDL from the source definition, COPY from a manifest, and the apply.

Pure text builders (values bound as ``%s``). Redshift constraints shape the apply
(docs/ARCHITECTURE.md, "Redshift"): MERGE takes exactly one unconditional WHEN MATCHED and one
WHEN NOT MATCHED, no alias on the target, and equality predicates only in ON. So one load is, in
one transaction::

    CREATE TEMP TABLE stage (LIKE target); COPY stage FROM manifest;
    CREATE TEMP TABLE newest AS <newest change per key above the watermark>;
    DELETE FROM newest USING target WHERE <same key> AND newest.seq <= target.seq  -- never go back
                                        (a snapshot row at the same seq stays: a re-read);
    DELETE FROM target USING newest WHERE <same key> AND newest.op = 'd';   -- not with soft deletes
    MERGE INTO target USING (newest without deletes) ... WHEN MATCHED THEN UPDATE ... WHEN NOT MATCHED THEN INSERT;
    -- with soft deletes the MERGE takes the deletes too, as rows marked with their time
    INSERT INTO control table ... WHERE NOT EXISTS (the same batch)

Redshift ignores trailing blanks when it compares VARCHAR values, so a text key column is compared
on its byte length too (``'a'`` and ``'a '`` are two keys, as the source and DuckDB hold them), and
a table with one upserts by UPDATE ... FROM and INSERT ... WHERE NOT EXISTS instead of MERGE, whose
ON takes plain column equality only.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

import pyarrow as pa

from s3rb_stream.core.schema import DELETED_AT, SourceColumn, SourceTable, arrow_type
from s3rb_stream.errors import SchemaError, listed
from s3rb_stream.sql import common
from s3rb_stream.sql.common import CONTROL_TABLE as CONTROL_TABLE
from s3rb_stream.sql.common import FENCE_TABLE as FENCE_TABLE
from s3rb_stream.sql.common import (
    HARD_DELETES,
    ControlDialect,
    Deletes,
    all_columns,
    deleted_at,
    key_partition,
    same_key,
    table_name,
)
from s3rb_stream.sql.common import add_deleted_at as add_deleted_at
from s3rb_stream.sql.common import create_schema as create_schema  # re-exported: the dialect API
from s3rb_stream.sql.common import load_summary as load_summary
from s3rb_stream.sql.common import spelled_type as spelled_type
from s3rb_stream.sql.identifiers import literal
from s3rb_stream.sql.identifiers import quote_ansi as q
from s3rb_stream.sql.scd2 import Scd2Dialect
from s3rb_stream.sql.target import TargetStatements

STAGE = "_s3rb_stage"
NEWEST = "_s3rb_newest"
SOURCE = "_s3rb_src"  # the MERGE source: no source name starts with _s3rb_ (core/target_names.py)
MAX_VARCHAR_BYTES = 65535
# "VARBYTE type": current pages say 16,777,216, earlier ones (and clusters of that time) 1,024,000.
# The smaller works on every cluster; longer values follow the table's overflow policy.
MAX_VARBYTE = 1_024_000
UTF8MB4_BYTES_PER_CHAR = 4

_BY_ARROW: dict[pa.DataType, str] = {
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float32(): "REAL",
    pa.float64(): "DOUBLE PRECISION",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}
_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_BINARY = {
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring",
    "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "vector",
}  # fmt: skip


def varchar_bytes(chars: int | None) -> int:
    """VARCHAR length in bytes for utf8mb4 text of ``chars`` characters, capped at Redshift's maximum."""
    if chars is None:
        return MAX_VARCHAR_BYTES
    return min(max(chars, 1) * UTF8MB4_BYTES_PER_CHAR, MAX_VARCHAR_BYTES)


def column_type(col: SourceColumn) -> str:
    """The Redshift type of a target column.

    Numbers, dates and times take the exact type of their Parquet column (core.schema.arrow_type),
    because COPY maps Parquet columns onto the table by position and type; text and bytes are sized
    in bytes here, which Parquet does not carry.
    """
    dt = col.data_type.lower()
    if dt == "time":
        return "VARCHAR(20)"  # Redshift cannot load TIME from Parquet; "-838:59:59.000000"
    if dt == "json":
        return "SUPER"
    if dt in _TEXT:
        return f"VARCHAR({varchar_bytes(col.char_length)})"
    if dt in _BINARY:
        return f"VARBYTE({min(col.char_length or MAX_VARBYTE, MAX_VARBYTE)})"
    arrow = arrow_type(col)
    if pa.types.is_decimal(arrow):
        return f"DECIMAL({arrow.precision},{arrow.scale})"
    if pa.types.is_string(arrow):  # DECIMAL wider than 38 digits, as exact text
        return f"VARCHAR({(col.precision or 0) + 2})"
    if arrow in _BY_ARROW:
        return _BY_ARROW[arrow]
    raise SchemaError(f"column {col.name} has type {col.column_type}, which has no Redshift mapping yet")


def stage_type(col: SourceColumn) -> str:
    """The staging column type: what COPY can load from the Parquet column.

    JSON arrives as Parquet text; COPY would store it in SUPER as one string scalar, so it is
    staged as VARCHAR and turned into SUPER with JSON_PARSE when applied.
    """
    if col.data_type.lower() == "json":
        return f"VARCHAR({MAX_VARCHAR_BYTES})"
    return column_type(col)


def byte_limits(table: SourceTable) -> dict[str, int]:
    """Columns whose values may exceed their staged VARCHAR or VARBYTE, with its size in bytes."""
    limits = {}
    for col in table.columns:
        staged = stage_type(col)
        dt = col.data_type.lower()
        if staged.startswith("VARBYTE("):
            size = int(staged[len("VARBYTE(") : -1])
            if col.char_length is None or col.char_length > size:  # BLOBs past 1,024,000 bytes
                limits[col.name] = size
            continue
        if not staged.startswith("VARCHAR("):
            continue
        size = int(staged[len("VARCHAR(") : -1])
        if dt == "json" or col.char_length is None or col.char_length * UTF8MB4_BYTES_PER_CHAR > size:
            limits[col.name] = size
    return limits


def blank_blind(col: SourceColumn) -> bool:
    """Whether Redshift compares the column ignoring trailing blanks ("Character types": trailing
    spaces in VARCHAR and CHAR values are insignificant when compared), which MySQL's NO PAD
    collations (and binary keys, and this pipeline) do not: ``'a'`` and ``'a '`` are two keys."""
    return column_type(col).startswith("VARCHAR")


def _blank_blind_key(table: SourceTable) -> bool:
    return any(blank_blind(table.columns[table.position(k)]) for k in table.key_columns)


def _same_key(table: SourceTable, left: str, right: str) -> str:
    """Equality on every key column, text keys on their byte length too (docs/ARCHITECTURE.md,
    "Redshift"); Redshift MERGE matches by equality, so keys must be NOT NULL."""
    nullable = [c.name for c in table.columns if c.name in table.key_columns and c.nullable]
    if nullable:
        raise SchemaError(
            f"key column(s) {listed(nullable)} of {table.database}.{table.name} are nullable;"
            " Redshift MERGE matches by equality",
            "make the key columns NOT NULL at the source, or choose other key_columns",
        )
    return same_key(table, left, right, blank_blind)


def create_stage(table: SourceTable) -> str:
    """The staging table COPY loads into: the target's columns, with JSON staged as text."""
    return f"CREATE TEMP TABLE {q(STAGE)} {common.column_definitions(table, stage_type, DIALECT)}"


def _applied_columns(table: SourceTable) -> str:
    """The staged columns as the target stores them: JSON text parsed into SUPER."""
    json_columns = {c.name for c in table.columns if c.data_type.lower() == "json"}
    return ", ".join(f"JSON_PARSE({q(c)}) AS {q(c)}" if c in json_columns else q(c) for c in all_columns(table))


def copy_manifest(manifest_url: str, iam_role: str) -> str:
    """COPY exactly the objects a manifest lists; Parquet columns map by position."""
    return f"COPY {q(STAGE)} FROM {literal(manifest_url)} IAM_ROLE {literal(iam_role)} FORMAT AS PARQUET MANIFEST"


def newest_per_key(table: SourceTable, watermark: int) -> str:
    """The newest staged change per key at or above the watermark.

    "At": the parts of one snapshot share a sequence, so a part loaded after its sibling must
    still pass; :func:`drop_stale` makes a change at exactly the watermark a no-op. The watermark
    is an integer we read ourselves, written inline: CREATE TABLE AS takes no bind parameters on
    PostgreSQL-derived servers.
    """
    keys = key_partition(table, blank_blind=blank_blind)
    cols = ", ".join(q(c) for c in all_columns(table))
    return (
        f"CREATE TEMP TABLE {q(NEWEST)} AS\n"
        f"SELECT {cols} FROM (\n"
        f'  SELECT *, ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY "_s3rb_seq" DESC) AS "_s3rb_rank"\n'
        f'  FROM {q(STAGE)} WHERE "_s3rb_seq" >= {int(watermark)}\n'
        ') AS _s3rb_ranked WHERE "_s3rb_rank" = 1'
    )


def drop_stale(schema: str, table: SourceTable) -> str:
    """Forget staged changes not newer than the target row: an older change never wins. A snapshot
    row (``r``) at the target row's own sequence stays: a snapshot taken again at an unchanged
    position is a repair, and re-reads what the target holds (docs/ARCHITECTURE.md, "Invariants")."""
    target = q(table.name)
    newest = q(NEWEST)
    return (
        f"DELETE FROM {newest} USING {table_name(schema, table.name)}\n"
        f"WHERE {_same_key(table, newest, target)}"
        f' AND ({newest}."_s3rb_seq" < {target}."_s3rb_seq"'
        f' OR ({newest}."_s3rb_seq" = {target}."_s3rb_seq" AND {newest}."_s3rb_op" <> \'r\'))'
    )


def apply_deletes(schema: str, table: SourceTable) -> str:
    target = q(table.name)
    return (
        f"DELETE FROM {table_name(schema, table.name)} USING {q(NEWEST)}\n"
        f"WHERE {_same_key(table, target, q(NEWEST))} AND {q(NEWEST)}.\"_s3rb_op\" = 'd'"
    )


def _upsert_source(table: SourceTable, deletes: Deletes) -> tuple[list[str], str]:
    """The columns an upsert writes and the query of its rows: the upserts of a load, and with soft
    deletes the deletes too, each its row image marked with its time (docs/ARCHITECTURE.md, "Deletes")."""
    cols = all_columns(table)
    select = _applied_columns(table)
    if deletes.column:
        cols, select = [*cols, DELETED_AT], f"{select}, {deleted_at()} AS {q(DELETED_AT)}"
    upserts = "" if deletes.soft else " WHERE \"_s3rb_op\" <> 'd'"
    return cols, f"SELECT {select} FROM {q(NEWEST)}{upserts}"


def merge_upserts(schema: str, table: SourceTable, deletes: Deletes = HARD_DELETES) -> str:
    """The upserts of a load by MERGE (a key with no text column: see :func:`upserts`)."""
    cols, rows = _upsert_source(table, deletes)
    updates = ", ".join(f"{q(c)} = {SOURCE}.{q(c)}" for c in cols)
    insert_cols = ", ".join(q(c) for c in cols)
    insert_vals = ", ".join(f"{SOURCE}.{q(c)}" for c in cols)
    return (
        f"MERGE INTO {table_name(schema, table.name)}\n"
        f"USING ({rows}) AS {SOURCE}\n"
        f"ON {_same_key(table, q(table.name), SOURCE)}\n"
        f"WHEN MATCHED THEN UPDATE SET {updates}\n"
        f"WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
    )


def update_matched(schema: str, table: SourceTable, deletes: Deletes = HARD_DELETES) -> str:
    """The upserts whose key the target holds, by exact key: MERGE's ON takes plain column
    equality only, which on Redshift would match ``'a'`` with ``'a '``."""
    cols, rows = _upsert_source(table, deletes)
    sets = ", ".join(f"{q(c)} = {SOURCE}.{q(c)}" for c in cols)
    return (
        f"UPDATE {table_name(schema, table.name)} SET {sets}\n"
        f"FROM ({rows}) AS {SOURCE}\n"
        f"WHERE {_same_key(table, q(table.name), SOURCE)}"
    )


def insert_unmatched(schema: str, table: SourceTable, deletes: Deletes = HARD_DELETES) -> str:
    """The upserts whose key the target does not hold (after :func:`update_matched`)."""
    target = table_name(schema, table.name)
    cols, rows = _upsert_source(table, deletes)
    names = ", ".join(q(c) for c in cols)
    return (
        f"INSERT INTO {target} ({names})\n"
        f"SELECT {names} FROM ({rows}) AS {SOURCE}\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM {target} WHERE {_same_key(table, q(table.name), SOURCE)})"
    )


def upserts(schema: str, table: SourceTable, deletes: Deletes = HARD_DELETES) -> list[str]:
    """MERGE, or for a key with a text column the UPDATE and INSERT that compare it exactly."""
    if _blank_blind_key(table):
        return [update_matched(schema, table, deletes), insert_unmatched(schema, table, deletes)]
    return [merge_upserts(schema, table, deletes)]


def append(schema: str, table: SourceTable, watermark: int) -> str:
    cols = ", ".join(q(c) for c in all_columns(table))
    return (
        f"INSERT INTO {table_name(schema, table.name)} ({cols})\n"
        f'SELECT {_applied_columns(table)} FROM {q(STAGE)} WHERE "_s3rb_seq" > {int(watermark)}'
    )


def drop_temp_tables() -> list[str]:
    return [f"DROP TABLE IF EXISTS {q(NEWEST)}", f"DROP TABLE IF EXISTS {q(STAGE)}"]


def merge_load(
    schema: str, table: SourceTable, manifest_url: str, iam_role: str, watermark: int, deletes: Deletes = HARD_DELETES
) -> list[str]:
    """Every statement of one merge load, in order; the caller runs them in one transaction. With
    soft deletes nothing is deleted: the MERGE writes the deletes as marked rows."""
    return [
        *drop_temp_tables(),
        create_stage(table),
        copy_manifest(manifest_url, iam_role),
        newest_per_key(table, watermark),
        drop_stale(schema, table),
        *([] if deletes.soft else [apply_deletes(schema, table)]),
        *upserts(schema, table, deletes),
    ]


def stage_load(table: SourceTable, manifest_url: str, iam_role: str) -> list[str]:
    """A fresh stage filled from the manifest: the start of every load."""
    return [*drop_temp_tables(), create_stage(table), copy_manifest(manifest_url, iam_role)]


def append_load(schema: str, table: SourceTable, manifest_url: str, iam_role: str, watermark: int) -> list[str]:
    """Every statement of one append load, in order; the caller runs them in one transaction."""
    return [
        *drop_temp_tables(),
        create_stage(table),
        copy_manifest(manifest_url, iam_role),
        append(schema, table, watermark),
    ]


DIALECT = ControlDialect(
    param="%s", now="SYSDATE", name_type="VARCHAR(512)", key_type="VARCHAR(2048)", op_type="CHAR(1)"
)


SCD2 = Scd2Dialect(
    param="%s", json_in=lambda expr: f"JSON_PARSE({expr})", identity="BIGINT IDENTITY(1,1)", blank_blind=blank_blind
)


# "ALTER TABLE": a column with a default can never be widened, so added columns get none.
_STATEMENTS = TargetStatements(DIALECT, SCD2, column_type, default_in_ddl=False)
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
missing_columns = _STATEMENTS.missing_columns
target_columns = _STATEMENTS.target_columns


WIDENING = "_s3rb_widening"  # the new copy of a column while it is rebuilt wider


def widened_columns(
    schema: str, table: SourceTable, existing: dict[str, str], defaults: AbstractSet[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """Statements widening the target columns the source widened: (outside a transaction, inside one).

    ``ALTER COLUMN TYPE`` only makes a VARCHAR longer, never in a transaction block, never on a
    column with a default (docs/ARCHITECTURE.md, "Redshift"). Any other widening (an integer,
    DECIMAL, REAL to DOUBLE PRECISION) and a VARCHAR with a default are rebuilt instead, in one
    transaction: a wider copy, filled, the old column dropped and the copy renamed. The column
    then comes last in the table's column order; every statement here names its columns.
    """
    alone, rebuilt = [], []
    target = table_name(schema, table.name)
    for name, current, wanted in _STATEMENTS.widened_columns(table, existing):
        if current.startswith("VARCHAR(") and wanted.startswith("VARCHAR(") and name not in defaults:
            alone.append(common.alter_column_type(schema, table.name, name, wanted))
            continue
        rebuilt += [
            f"ALTER TABLE {target} ADD COLUMN {q(WIDENING)} {wanted}",
            f"UPDATE {target} SET {q(WIDENING)} = CAST({q(name)} AS {wanted})",
            f"ALTER TABLE {target} DROP COLUMN {q(name)}",
            common.rename_column(schema, table.name, WIDENING, name),
        ]
    return alone, rebuilt
