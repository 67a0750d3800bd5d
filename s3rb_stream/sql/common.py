"""SQL text both target dialects write the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from s3rb_stream.core.ddl import constant_default
from s3rb_stream.core.schema import DELETED_AT, META_COLUMNS, SourceColumn, SourceTable
from s3rb_stream.sql.identifiers import quote_ansi as q

CONTROL_TABLE = "_s3rb_batches"
FENCE_TABLE = "_s3rb_fence"  # per source schema and table: the newest lease generation that has written here


@dataclass(frozen=True)
class InCatalog:
    """A target schema named with the catalog that holds it. DuckDB attaches its file as a catalog
    (``analytics.duckdb`` as ``analytics``), so a schema of the same name makes ``analytics.t``
    ambiguous there; ``analytics.analytics.t`` is not (docs/ARCHITECTURE.md, "Names in the target")."""

    catalog: str
    schema: str

    def __str__(self) -> str:
        return self.schema


SchemaName = str | InCatalog  # a plain name: Redshift, whose SQL names no catalog


def schema_name(schema: SchemaName) -> str:
    if isinstance(schema, InCatalog):
        return f"{q(schema.catalog)}.{q(schema.schema)}"
    return q(schema)


def table_name(schema: SchemaName, table: str) -> str:
    return f"{schema_name(schema)}.{q(table)}"


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


@dataclass(frozen=True)
class Deletes:
    """What a merge does with a delete (docs/ARCHITECTURE.md, "Deletes").

    ``soft``: the row stays, marked with the delete's time in ``_s3rb_deleted_at``; otherwise it is
    removed. ``column``: the target has ``_s3rb_deleted_at`` (it does while soft deletes are on, and
    keeps it after they are turned off), so every row a merge writes sets it: the delete's time
    for a delete, NULL for a row that lives.
    """

    soft: bool = False
    column: bool = False

    def __post_init__(self) -> None:
        if self.soft and not self.column:
            object.__setattr__(self, "column", True)


HARD_DELETES = Deletes()  # the default: a delete removes the row
DELETED_AT_TYPE = "TIMESTAMPTZ"


def deleted_at(alias: str = "") -> str:
    """``_s3rb_deleted_at`` of a change (``alias``: "_s3rb_s." or ""): its source time if it is a
    delete, else NULL."""
    return f'CASE WHEN {alias}"_s3rb_op" = \'d\' THEN {alias}"_s3rb_source_ts" END'


def create_schema(schema: SchemaName) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {schema_name(schema)}"


def load_summary(schema: SchemaName) -> str:
    """Per table: the newest apply and the highest sequence in effect (the folded row included)."""
    return (
        f"SELECT table_name, MAX(applied_at), MAX(last_seq) FROM {table_name(schema, CONTROL_TABLE)}"
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
    in_catalog: str = ""  # an information_schema condition on the catalog, ending in AND (DuckDB: InCatalog)


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
    schema: SchemaName,
    table: SourceTable,
    column_type: Callable[[SourceColumn], str],
    d: ControlDialect,
    extra: Sequence[str] = (),
) -> str:
    definitions = column_definitions(table, column_type, d, extra)
    return f"CREATE TABLE IF NOT EXISTS {table_name(schema, table.name)} {definitions}"


def create_control_table(schema: SchemaName, d: ControlDialect) -> str:
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
    return (
        f"SELECT COUNT(*) FROM information_schema.tables"
        f" WHERE {d.in_catalog}table_schema = {d.param} AND table_name = {d.param}"
    )


def applied_keys(schema: SchemaName, d: ControlDialect) -> str:
    return f"SELECT object_key FROM {table_name(schema, CONTROL_TABLE)} WHERE table_name = {d.param}"


# The one row per table that stands for every batch folded out of the ledger (docs/ARCHITECTURE.md,
# "Finding new batches"): their lowest first and highest last sequence and their rows. No batch key
# looks like it (a batch key is a path).
FOLDED_KEY = "_s3rb_folded"


def applied_among(schema: SchemaName, d: ControlDialect, count: int) -> str:
    """Which of ``count`` object keys the ledger records for a table. Parameters: the table name,
    then the keys. What a load pass reads is what it found waiting, not the table's history."""
    keys = ", ".join([d.param] * count)
    return (
        f"SELECT object_key FROM {table_name(schema, CONTROL_TABLE)}"
        f" WHERE table_name = {d.param} AND object_key IN ({keys})"
    )


def applied_before(schema: SchemaName, d: ControlDialect, limit: int) -> str:
    """The oldest batches applied to a table before a time, at most ``limit``. Parameters: the table
    name, the time. Columns: key, first and last sequence, rows."""
    return (
        f"SELECT object_key, first_seq, last_seq, row_count FROM {table_name(schema, CONTROL_TABLE)}"
        f" WHERE table_name = {d.param} AND object_key <> '{FOLDED_KEY}' AND applied_at < {d.param}"
        f" ORDER BY applied_at, object_key LIMIT {int(limit)}"
    )


def folded_row(schema: SchemaName, d: ControlDialect) -> str:
    """A table's folded row: first and last sequence, rows, applied at. Parameter: the table name."""
    return (
        f"SELECT first_seq, last_seq, row_count, applied_at FROM {table_name(schema, CONTROL_TABLE)}"
        f" WHERE table_name = {d.param} AND object_key = '{FOLDED_KEY}'"
    )


def fold(
    schema: SchemaName,
    d: ControlDialect,
    table: str,
    keys: Sequence[str],
    row: tuple[int, int, int, datetime],
) -> list[Step]:
    """Replace a table's ledger rows of ``keys`` and its folded row by one folded row ``row``
    (first and last sequence, rows, applied at): run in one transaction, after reading the folded
    row, so the ledger is either as before or folded. The watermark (the highest last sequence) is
    kept, which is what makes a batch applied again after its row was folded a no-op."""
    ledger = table_name(schema, CONTROL_TABLE)
    p = d.param
    gone = ", ".join([p] * (len(keys) + 1))
    return [
        (f"DELETE FROM {ledger} WHERE table_name = {p} AND object_key IN ({gone})", (table, FOLDED_KEY, *keys)),
        (
            f"INSERT INTO {ledger} (table_name, object_key, first_seq, last_seq, row_count, applied_at)"
            f" VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
            (table, FOLDED_KEY, *row),
        ),
    ]


def watermark(schema: SchemaName, d: ControlDialect) -> str:
    """Highest sequence applied to a table: every change at or below it is already in effect."""
    return f"SELECT COALESCE(MAX(last_seq), -1) FROM {table_name(schema, CONTROL_TABLE)} WHERE table_name = {d.param}"


def record_batch(schema: SchemaName, d: ControlDialect) -> str:
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


def sweep(schema: SchemaName, table: SourceTable, d: ControlDialect) -> str:
    """After a whole-table extract (snapshot or full_sync) is applied, every row it saw carries a
    sequence at or above its first; older rows are gone from the source."""
    return f'DELETE FROM {table_name(schema, table.name)} WHERE "_s3rb_seq" < {d.param}'


def soft_sweep(schema: SchemaName, table: SourceTable, d: ControlDialect, below_seq: int, at: datetime) -> Step:
    """The sweep of a soft-delete table: the live rows the extract did not see are marked deleted,
    at the extract's read time (the best known time of a delete the source did not tell), and get
    the extract's first sequence and ``_s3rb_op = 'd'``, so only a newer change revives them. Rows
    already marked keep their own delete time."""
    p = d.param
    return (
        f'UPDATE {table_name(schema, table.name)} SET "_s3rb_op" = \'d\', "_s3rb_seq" = {p},'
        f' "_s3rb_source_ts" = {p}, {q(DELETED_AT)} = {p}'
        f' WHERE "_s3rb_seq" < {p} AND {q(DELETED_AT)} IS NULL',
        (below_seq, at, at, below_seq),
    )


def add_deleted_at(schema: SchemaName, table: str) -> str:
    """A table that exists without ``_s3rb_deleted_at`` when soft deletes are turned on: its rows live."""
    return add_column(schema, table, DELETED_AT, DELETED_AT_TYPE)


def target_columns(d: ControlDialect) -> str:
    """The columns a target table has now: name, type (data type, character length, numeric
    precision and scale: :func:`spelled_type`), and whether it has a default. Parameters: schema, table."""
    return (
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,"
        " column_default IS NOT NULL FROM information_schema.columns"
        f" WHERE {d.in_catalog}table_schema = {d.param} AND table_name = {d.param}"
    )


def spelled_type(data_type: str, length: int | None, precision: int | None, scale: int | None) -> str:
    """A target column's type as information_schema describes it, spelled as the dialect's
    ``column_type`` writes it: ``INTEGER``, ``DECIMAL(12,4)``, ``VARCHAR(80)``, ``DOUBLE PRECISION``."""
    spelled = data_type.upper()
    if spelled == "NUMERIC" or spelled.startswith("DECIMAL"):
        return f"DECIMAL({precision},{scale})"
    if spelled in ("CHARACTER VARYING", "VARCHAR"):
        return f"VARCHAR({length})" if length is not None else "VARCHAR"
    return spelled


_INTEGER_DIGITS = {"SMALLINT": 5, "INTEGER": 10, "BIGINT": 19}  # decimal digits each holds in full
_FLOAT_BITS = {"REAL": 32, "FLOAT": 32, "DOUBLE": 64, "DOUBLE PRECISION": 64}


def _parts(spelled: str) -> tuple[str, tuple[int, ...]]:
    head, _, rest = spelled.partition("(")
    return head.strip(), tuple(int(n) for n in rest.rstrip(")").split(",") if n.strip().isdigit())


def holds(current: str, wanted: str) -> bool:
    """Whether target type ``wanted`` is wider than ``current`` and holds every value of it: the
    target column is widened to it. Never the other way: batches of a narrower type still load
    into a wider column (docs/ARCHITECTURE.md, "Schema history")."""
    (head, args), (new_head, new_args) = _parts(current), _parts(wanted)
    if current == wanted:
        return False
    if head in _INTEGER_DIGITS and new_head in _INTEGER_DIGITS:
        return _INTEGER_DIGITS[new_head] > _INTEGER_DIGITS[head]
    if head in _INTEGER_DIGITS and new_head == "DECIMAL" and len(new_args) == 2:
        return new_args[0] - new_args[1] >= _INTEGER_DIGITS[head]
    if head == new_head == "DECIMAL" and len(args) == len(new_args) == 2:
        return new_args[1] >= args[1] and new_args[0] - new_args[1] >= args[0] - args[1]
    if head == "DECIMAL" and new_head == "VARCHAR" and len(args) == 2:  # wider than 38 digits: exact text
        return not new_args or new_args[0] >= args[0] + 2  # a sign and a point
    if head == new_head == "VARCHAR":
        return bool(args) and (not new_args or new_args[0] > args[0])
    if head in _FLOAT_BITS and new_head in _FLOAT_BITS:
        return _FLOAT_BITS[new_head] > _FLOAT_BITS[head]
    return False


def widened_columns(
    table: SourceTable, existing: Mapping[str, str], column_type: Callable[[SourceColumn], str]
) -> list[tuple[str, str, str]]:
    """The target columns ``table``'s definition needs wider: (name, type now, wider type). The
    source widened them (core.column_types.widens), or a snapshot brings a wider definition."""
    found = []
    for col in table.columns:
        current, wanted = existing.get(col.name), column_type(col)
        if current is not None and holds(current, wanted):
            found.append((col.name, current, wanted))
    return found


def alter_column_type(schema: SchemaName, table: str, column: str, column_type: str) -> str:
    return f"ALTER TABLE {table_name(schema, table)} ALTER COLUMN {q(column)} TYPE {column_type}"


def add_column(schema: SchemaName, table: str, column: str, column_type: str, default: str | None = None) -> str:
    """Additive evolution: a source column the target lacks (it was added at the source). A literal
    default fills the rows already there, as the source's ALTER filled them."""
    with_default = f" DEFAULT {default}" if default is not None else ""
    return f"ALTER TABLE {table_name(schema, table)} ADD COLUMN {q(column)} {column_type}{with_default}"


def rename_column(schema: SchemaName, table: str, old: str, new: str) -> str:
    return f"ALTER TABLE {table_name(schema, table)} RENAME COLUMN {q(old)} TO {q(new)}"


def backfill(schema: SchemaName, table: str, column: str, value: str) -> str:
    """Every row already in the target gets the value the source's ALTER gave its rows."""
    return f"UPDATE {table_name(schema, table)} SET {q(column)} = {value}"


def missing_columns(
    schema: SchemaName,
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


def create_fence_table(schema: SchemaName, d: ControlDialect) -> str:
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


def claim_fence(
    schema: SchemaName, d: ControlDialect, source_db: str, generation: int, tables: Sequence[str]
) -> list[Step]:
    """A new lease holder raises every row of its source schema to its generation, and adds the
    claim's own row (``table_name = ''``) and one per table it knows, so that the first loads of
    those tables lock rows of their own (:func:`hold_fence`)."""
    fence = table_name(schema, FENCE_TABLE)
    return [
        _raise_fence(fence, d, source_db, generation, ""),
        *(_add_fence_row(fence, d, source_db, generation, t) for t in ("", *tables)),
    ]


def hold_fence(schema: SchemaName, d: ControlDialect, source_db: str, generation: int, table: str) -> list[Step]:
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


def fence_table_upgrade(schema: SchemaName) -> str:
    """A fence table from before per-table rows: its rows become the claim's rows. (ADD COLUMN NOT
    NULL is refused by DuckDB; every statement here names the table, so none writes a NULL.)"""
    return f"ALTER TABLE {table_name(schema, FENCE_TABLE)} ADD COLUMN table_name VARCHAR(127) DEFAULT ''"


def fence_generation(schema: SchemaName, d: ControlDialect) -> str:
    """The newest generation that has claimed the target for a source schema. Parameter: the source schema."""
    return f"SELECT MAX(generation) FROM {table_name(schema, FENCE_TABLE)} WHERE source_db = {d.param}"
