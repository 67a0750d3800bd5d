"""SQL text both target dialects write the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from s3rb_stream.core.ddl import constant_default
from s3rb_stream.core.schema import META_COLUMNS, SourceColumn, SourceTable
from s3rb_stream.sql.identifiers import quote_ansi as q

CONTROL_TABLE = "_s3rb_batches"
FENCE_TABLE = "_s3rb_fence"  # per source schema and table: the newest lease generation that has written here


def table_name(schema: str, table: str) -> str:
    return f"{q(schema)}.{q(table)}"


def never(_column: SourceColumn) -> bool:
    return False


def _key_columns(table: SourceTable) -> list[SourceColumn]:
    return [table.columns[table.position(k)] for k in table.key_columns]


def same_value(left: str, right: str, blank_blind: bool) -> str:
    """``left = right``; for a type the target compares ignoring trailing blanks (Redshift's
    VARCHAR), with equal byte lengths too, so that ``'a'`` and ``'a '`` stay two values
    (docs/ARCHITECTURE.md, "Redshift")."""
    equal = f"{left} = {right}"
    return f"({equal} AND OCTET_LENGTH({left}) = OCTET_LENGTH({right}))" if blank_blind else equal


def same_key(table: SourceTable, left: str, right: str, blank_blind: Callable[[SourceColumn], bool] = never) -> str:
    """Equality on every key column of ``table`` between the rows of ``left`` and ``right``;
    ``blank_blind``: the columns the target compares ignoring trailing blanks."""
    return " AND ".join(
        same_value(f"{left}.{q(c.name)}", f"{right}.{q(c.name)}", blank_blind(c)) for c in _key_columns(table)
    )


def key_partition(table: SourceTable, alias: str = "", blank_blind: Callable[[SourceColumn], bool] = never) -> str:
    """The key columns as a PARTITION BY list: a blank-blind column with its byte length, so that
    keys that differ only by trailing blanks are two partitions."""
    prefix = f"{alias}." if alias else ""
    parts = []
    for c in _key_columns(table):
        parts.append(f"{prefix}{q(c.name)}")
        if blank_blind(c):
            parts.append(f"OCTET_LENGTH({prefix}{q(c.name)})")
    return ", ".join(parts)


def all_columns(table: SourceTable) -> list[str]:
    """Source columns, then ``_s3rb_seq``, ``_s3rb_op``, ``_s3rb_source_ts``: the Parquet order."""
    return [*table.column_names, *META_COLUMNS]


def create_schema(schema: str) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {q(schema)}"


def load_summary(schema: str) -> str:
    """Per table: batches applied, the newest apply and the highest sequence in effect."""
    return (
        f"SELECT table_name, COUNT(*), MAX(applied_at), MAX(last_seq) FROM {table_name(schema, CONTROL_TABLE)}"
        " GROUP BY table_name ORDER BY table_name"
    )


@dataclass(frozen=True)
class ControlDialect:
    """How one target spells the few things the shared control-table SQL leaves open."""

    param: str  # bind placeholder: "?" or "%s"
    now: str  # current time: "now()" or "SYSDATE"
    name_type: str  # type of table_name
    key_type: str  # type of object_key
    op_type: str  # type of _s3rb_op


def column_definitions(
    table: SourceTable, column_type: Callable[[SourceColumn], str], d: ControlDialect, extra: Sequence[str] = ()
) -> str:
    """The column list of a target (or staging) table, in Parquet order, then ``extra`` definitions."""
    cols = [f"{q(c.name)} {column_type(c)}" for c in table.columns]
    cols += [
        '"_s3rb_seq" BIGINT NOT NULL',
        f'"_s3rb_op" {d.op_type} NOT NULL',
        '"_s3rb_source_ts" TIMESTAMPTZ NOT NULL',
        *extra,
    ]
    return "(\n  " + ",\n  ".join(cols) + "\n)"


def create_table(
    schema: str,
    table: SourceTable,
    column_type: Callable[[SourceColumn], str],
    d: ControlDialect,
    extra: Sequence[str] = (),
) -> str:
    definitions = column_definitions(table, column_type, d, extra)
    return f"CREATE TABLE IF NOT EXISTS {table_name(schema, table.name)} {definitions}"


def create_control_table(schema: str, d: ControlDialect) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table_name(schema, CONTROL_TABLE)} (\n"
        f"  table_name {d.name_type} NOT NULL,\n"
        f"  object_key {d.key_type} NOT NULL,\n"
        "  first_seq BIGINT NOT NULL,\n"
        "  last_seq BIGINT NOT NULL,\n"
        "  row_count BIGINT NOT NULL,\n"
        "  applied_at TIMESTAMPTZ NOT NULL,\n"
        "  PRIMARY KEY (table_name, object_key)\n"
        ")"
    )


def control_table_exists(d: ControlDialect) -> str:
    return f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {d.param} AND table_name = {d.param}"


def applied_keys(schema: str, d: ControlDialect) -> str:
    return f"SELECT object_key FROM {table_name(schema, CONTROL_TABLE)} WHERE table_name = {d.param}"


def watermark(schema: str, d: ControlDialect) -> str:
    """Highest sequence applied to a table: every change at or below it is already in effect."""
    return f"SELECT COALESCE(MAX(last_seq), -1) FROM {table_name(schema, CONTROL_TABLE)} WHERE table_name = {d.param}"


def record_batch(schema: str, d: ControlDialect) -> str:
    """Record one applied batch, unless it is recorded already. Parameters: table name, object key,
    first and last sequence, rows.

    The primary key does not stop a second row on Redshift (constraints are informational there):
    a commit that succeeded but whose answer was lost is retried, and must not count its batches twice.
    """
    ledger = table_name(schema, CONTROL_TABLE)
    p = d.param
    return (
        f"INSERT INTO {ledger} (table_name, object_key, first_seq, last_seq, row_count, applied_at)\n"
        f"SELECT _s3rb_b.table_name, _s3rb_b.object_key, _s3rb_b.first_seq, _s3rb_b.last_seq, _s3rb_b.row_count,"
        f" {d.now}\n"
        f"FROM (SELECT CAST({p} AS {d.name_type}) AS table_name, CAST({p} AS {d.key_type}) AS object_key,"
        f" CAST({p} AS BIGINT) AS first_seq, CAST({p} AS BIGINT) AS last_seq, CAST({p} AS BIGINT) AS row_count)"
        " AS _s3rb_b\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM {ledger} AS _s3rb_a"
        " WHERE _s3rb_a.table_name = _s3rb_b.table_name AND _s3rb_a.object_key = _s3rb_b.object_key)"
    )


def sweep(schema: str, table: SourceTable, d: ControlDialect) -> str:
    """After a whole-table extract (snapshot or full_sync) is applied, every row it saw carries a
    sequence at or above its first; older rows are gone from the source."""
    return f'DELETE FROM {table_name(schema, table.name)} WHERE "_s3rb_seq" < {d.param}'


def target_columns(d: ControlDialect) -> str:
    """The columns a target table has now, with their character length. Parameters: schema, table."""
    return (
        "SELECT column_name, character_maximum_length FROM information_schema.columns"
        f" WHERE table_schema = {d.param} AND table_name = {d.param}"
    )


def add_column(schema: str, table: str, column: str, column_type: str, default: str | None = None) -> str:
    """Additive evolution: a source column the target lacks (it was added at the source). A literal
    default fills the rows already there, as the source's ALTER filled them."""
    with_default = f" DEFAULT {default}" if default is not None else ""
    return f"ALTER TABLE {table_name(schema, table)} ADD COLUMN {q(column)} {column_type}{with_default}"


def rename_column(schema: str, table: str, old: str, new: str) -> str:
    return f"ALTER TABLE {table_name(schema, table)} RENAME COLUMN {q(old)} TO {q(new)}"


def backfill(schema: str, table: str, column: str, value: str) -> str:
    """Every row already in the target gets the value the source's ALTER gave its rows."""
    return f"UPDATE {table_name(schema, table)} SET {q(column)} = {value}"


def missing_columns(
    schema: str,
    table: SourceTable,
    existing: set[str],
    column_type: Callable[[SourceColumn], str],
    default_in_ddl: bool = True,
) -> list[str]:
    """ALTERs giving the target the source's columns: renamed where the source renamed one, else added.

    A column added at the source with a literal default holds it in every row there. The target
    gets the same either through ``DEFAULT`` in the ALTER or, where a column with a default can
    never be altered again (Redshift), through an UPDATE of the rows already loaded.
    """
    missing = [c for c in table.columns if c.name not in existing]
    renamed = [c for c in missing if c.renamed_from is not None and c.renamed_from in existing]
    added = [c for c in missing if c not in renamed]
    out = [rename_column(schema, table.name, c.renamed_from or "", c.name) for c in renamed]
    for c in added:
        default = constant_default(c.default)
        if default_in_ddl or default is None:
            out.append(add_column(schema, table.name, c.name, column_type(c), default))
        else:
            out += [
                add_column(schema, table.name, c.name, column_type(c)),
                backfill(schema, table.name, c.name, default),
            ]
    return out


def create_fence_table(schema: str, d: ControlDialect) -> str:
    """One row per source schema and table it loads (and one, ``table_name = ''``, for the claim),
    so that loads of different tables lock different rows."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table_name(schema, FENCE_TABLE)} (\n"
        f"  source_db {d.name_type} NOT NULL,\n"
        f"  table_name {d.name_type} NOT NULL,\n"
        "  generation BIGINT NOT NULL,\n"
        "  taken_at TIMESTAMPTZ NOT NULL\n"
        ")"
    )


Step = tuple[str, tuple[object, ...]]  # a statement and its parameters


def _raise_fence(fence: str, d: ControlDialect, source_db: str, generation: int, table: str) -> Step:
    """Raise a source's row for ``table`` (every row of the source for ``''``) to a generation,
    never lowering it."""
    p = d.param
    return (
        f"UPDATE {fence} SET generation = {p}, taken_at = {d.now}"
        f" WHERE source_db = {p} AND ({p} = '' OR table_name = {p}) AND generation <= {p}",
        (generation, source_db, table, table, generation),
    )


def _add_fence_row(fence: str, d: ControlDialect, source_db: str, generation: int, table: str) -> Step:
    p = d.param
    return (
        f"INSERT INTO {fence} (source_db, table_name, generation, taken_at)"
        f" SELECT CAST({p} AS {d.name_type}), CAST({p} AS {d.name_type}), CAST({p} AS BIGINT), {d.now}"
        f" WHERE NOT EXISTS (SELECT 1 FROM {fence} WHERE source_db = {p} AND table_name = {p})",
        (source_db, table, generation, source_db, table),
    )


def claim_fence(schema: str, d: ControlDialect, source_db: str, generation: int, tables: Sequence[str]) -> list[Step]:
    """A new lease holder raises every row of its source schema to its generation, and adds the
    claim's own row (``table_name = ''``) and one per table it knows, so that the first loads of
    those tables lock rows of their own (:func:`hold_fence`)."""
    fence = table_name(schema, FENCE_TABLE)
    return [
        _raise_fence(fence, d, source_db, generation, ""),
        *(_add_fence_row(fence, d, source_db, generation, t) for t in ("", *tables)),
    ]


def hold_fence(schema: str, d: ControlDialect, source_db: str, generation: int, table: str) -> list[Step]:
    """In a load's transaction, just before it commits: lock the table's fence row while it is at
    most our generation, so a new holder's claim waits for this commit or this commit sees the
    claim. A table the claim did not know has no row that the claim raised, so its first load locks
    the claim's row as well. Each statement changes a value (``taken_at``): DuckDB skips an update
    that changes nothing, and a skipped update neither locks nor conflicts."""
    fence, p = table_name(schema, FENCE_TABLE), d.param
    touch_claim = (
        f"UPDATE {fence} SET taken_at = {d.now} WHERE source_db = {p} AND table_name = ''"
        f" AND NOT EXISTS (SELECT 1 FROM {fence} WHERE source_db = {p} AND table_name = {p})"
    )
    return [
        (touch_claim, (source_db, source_db, table)),
        _raise_fence(fence, d, source_db, generation, table),
        _add_fence_row(fence, d, source_db, generation, table),
    ]


def fence_table_upgrade(schema: str) -> str:
    """A fence table from before per-table rows: its rows become the claim's rows. (ADD COLUMN NOT
    NULL is refused by DuckDB; every statement here names the table, so none writes a NULL.)"""
    return f"ALTER TABLE {table_name(schema, FENCE_TABLE)} ADD COLUMN table_name VARCHAR(127) DEFAULT ''"


def fence_generation(schema: str, d: ControlDialect) -> str:
    """The newest generation that has claimed the target for a source schema. Parameter: the source schema."""
    return f"SELECT MAX(generation) FROM {table_name(schema, FENCE_TABLE)} WHERE source_db = {d.param}"
