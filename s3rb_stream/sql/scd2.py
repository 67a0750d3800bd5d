"""SCD Type 2 apply, written once for both targets: temporary tables, window functions, UPDATE ... FROM
and INSERT ... SELECT, no MERGE (so no conditional WHEN MATCHED; docs/ARCHITECTURE.md, "Redshift")
and no IS DISTINCT FROM.

One load, in one transaction, for the staged changes at or above the watermark:

1. ``_s3rb_chg``: the staged changes newer than what the key's current version has absorbed
   (``_s3rb_last_seq``), plus that current version itself as a "base" row (op ``b``).
2. ``_s3rb_seg``: each row marked as a boundary when it opens a version (no previous row, the
   previous was a delete, or a tracked column differs from the previous row, null-safely) or is a
   delete; a running sum of boundaries numbers the segments.
3. ``_s3rb_ver``: one row per segment: how it starts (op, sequence, commit time), the commit time of
   the next segment (the version's ``valid_to``), and the values of its last row.
4. The base versions get their ``valid_to``, ``is_current`` and, in ``update`` mode, the newest
   untracked values; new versions are inserted unless (key, opening sequence) already exists.

The capture keeps one change per key per transaction for these tables, so every committed
transaction that changes a tracked column is one version, and states inside a transaction are not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from s3rb_stream.core.scd2 import LAST_SEQ, Scd2Spec
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.sql.common import SchemaName, key_partition, never, same_key, same_value, table_name
from s3rb_stream.sql.identifiers import quote_ansi as q

CHG, SEG, VER = "_s3rb_chg", "_s3rb_seg", "_s3rb_ver"
SEQ, OP, TS = '"_s3rb_seq"', '"_s3rb_op"', '"_s3rb_source_ts"'
NEXT_TS = '_s3rb_v."_s3rb_next_ts"'


@dataclass(frozen=True)
class Scd2Dialect:
    param: str  # bind placeholder
    json_in: Callable[[str], str]  # a staged JSON value as the target stores it
    identity: str  # the surrogate key column's type and default; ``{seq}`` names a sequence
    sequence: bool = False  # whether the identity needs a sequence created first
    # Columns the target compares ignoring trailing blanks (Redshift's VARCHAR): compared on their
    # byte length too, so that keys and tracked values that differ by them stay apart.
    blank_blind: Callable[[SourceColumn], bool] = never


def _keys(table: SourceTable, left: str, right: str, d: Scd2Dialect) -> str:
    return same_key(table, left, right, d.blank_blind)


def _partition(table: SourceTable, d: Scd2Dialect, alias: str = "") -> str:
    return key_partition(table, alias, d.blank_blind)


def _distinct_keys(table: SourceTable, d: Scd2Dialect) -> str:
    """The key columns for SELECT DISTINCT, with the byte length of each blank-blind one."""
    parts = []
    for i, k in enumerate(table.key_columns):
        parts.append(q(k))
        if d.blank_blind(table.columns[table.position(k)]):
            parts.append(f'OCTET_LENGTH({q(k)}) AS "_s3rb_len{i}"')
    return ", ".join(parts)


def _blind(table: SourceTable, column: str, d: Scd2Dialect) -> bool:
    return d.blank_blind(table.columns[table.position(column)])


def _non_key(table: SourceTable) -> list[str]:
    return [c for c in table.column_names if c not in table.key_columns]


def drop_temp_tables() -> list[str]:
    return [f"DROP TABLE IF EXISTS {q(name)}" for name in (VER, SEG, CHG)]


def changes(schema: SchemaName, table: SourceTable, spec: Scd2Spec, stage: str, watermark: int, d: Scd2Dialect) -> str:
    target = table_name(schema, table.name)
    json_columns = {c.name for c in table.columns if c.data_type.lower() == "json"}
    # Redshift names an expression in CREATE TABLE AS after its function (json_parse): alias it.
    staged = ", ".join(
        f"{d.json_in(f'_s3rb_s.{q(c)}')} AS {q(c)}" if c in json_columns else f"_s3rb_s.{q(c)}"
        for c in table.column_names
    )
    base = ", ".join(f"_s3rb_t.{q(c)}" for c in table.column_names)
    first_key = q(table.key_columns[0])
    distinct_keys = _distinct_keys(table, d)
    return (
        f"CREATE TEMP TABLE {q(CHG)} AS\n"
        f'SELECT {staged}, _s3rb_s.{SEQ}, _s3rb_s.{OP}, _s3rb_s.{TS}, 0 AS "_s3rb_base"\n'
        f"FROM {q(stage)} AS _s3rb_s\n"
        f"LEFT JOIN {target} AS _s3rb_t ON {_keys(table, '_s3rb_t', '_s3rb_s', d)} AND _s3rb_t.{q(spec.is_current)}"
        f" AND _s3rb_t.{q(LAST_SEQ)} >= _s3rb_s.{SEQ}\n"
        f"WHERE _s3rb_s.{SEQ} >= {int(watermark)} AND _s3rb_t.{first_key} IS NULL\n"
        "UNION ALL\n"
        f"SELECT {base}, _s3rb_t.{q(LAST_SEQ)}, 'b', _s3rb_t.{q(spec.valid_from)}, 1 AS \"_s3rb_base\"\n"
        f"FROM {target} AS _s3rb_t\n"
        f"JOIN (SELECT DISTINCT {distinct_keys} FROM {q(stage)} WHERE {SEQ} >= {int(watermark)}) AS _s3rb_k"
        f" ON {_keys(table, '_s3rb_t', '_s3rb_k', d)}\n"
        f"WHERE _s3rb_t.{q(spec.is_current)}"
    )


def segments(table: SourceTable, spec: Scd2Spec, d: Scd2Dialect) -> str:
    window = f"OVER (PARTITION BY {_partition(table, d, '_s3rb_c')} ORDER BY _s3rb_c.{SEQ})"
    changed = [
        f"NOT COALESCE({same_value(f'_s3rb_c.{q(col)}', f'LAG(_s3rb_c.{q(col)}) {window}', _blind(table, col, d))}"
        f" OR (_s3rb_c.{q(col)} IS NULL AND LAG(_s3rb_c.{q(col)}) {window} IS NULL), FALSE)"
        for col in spec.tracked
    ]
    tracked = "\n    WHEN " + " OR ".join(changed) + " THEN 1" if changed else ""
    return (
        f"CREATE TEMP TABLE {q(SEG)} AS\n"
        'SELECT _s3rb_marked.*, SUM(_s3rb_marked."_s3rb_boundary")'
        f" OVER (PARTITION BY {_partition(table, d, '_s3rb_marked')}"
        f' ORDER BY _s3rb_marked.{SEQ} ROWS UNBOUNDED PRECEDING) AS "_s3rb_segment"\n'
        "FROM (\n"
        "  SELECT _s3rb_c.*, CASE\n"
        f"    WHEN _s3rb_c.\"_s3rb_base\" = 1 OR _s3rb_c.{OP} = 'd' THEN 1\n"
        f"    WHEN LAG(_s3rb_c.{OP}) {window} IS NULL THEN 1\n"
        f"    WHEN LAG(_s3rb_c.{OP}) {window} = 'd' THEN 1{tracked}\n"
        '    ELSE 0 END AS "_s3rb_boundary"\n'
        f"  FROM {q(CHG)} AS _s3rb_c\n"
        ") AS _s3rb_marked"
    )


def versions(table: SourceTable, spec: Scd2Spec, d: Scd2Dialect) -> str:
    """One row per segment; values from its last row (``update``) or its first (``ignore``)."""
    keys = ", ".join(f"_s3rb_b.{q(k)}" for k in table.key_columns)
    source = "_s3rb_l" if spec.untracked == "update" else "_s3rb_b"
    values = ", ".join(f"{source}.{q(c)}" for c in _non_key(table))
    values = f", {values}" if values else ""
    by_segment = f'PARTITION BY {_partition(table, d)}, "_s3rb_segment" ORDER BY {SEQ} DESC'
    return (
        f"CREATE TEMP TABLE {q(VER)} AS\n"
        f'SELECT {keys}{values}, _s3rb_b."_s3rb_segment", _s3rb_b."_s3rb_base",\n'
        f'  _s3rb_b.{OP} AS "_s3rb_start_op", _s3rb_b.{SEQ} AS "_s3rb_start_seq", _s3rb_b.{TS} AS "_s3rb_start_ts",\n'
        f"  LEAD(_s3rb_b.{TS}) OVER (PARTITION BY {_partition(table, d, '_s3rb_b')}"
        ' ORDER BY _s3rb_b."_s3rb_segment") AS "_s3rb_next_ts",\n'
        f"  _s3rb_l.{SEQ} AS {q(LAST_SEQ)}\n"
        f"FROM {q(SEG)} AS _s3rb_b\n"
        f'JOIN (SELECT *, ROW_NUMBER() OVER ({by_segment}) AS "_s3rb_rank" FROM {q(SEG)}) AS _s3rb_l\n'
        f'  ON {_keys(table, "_s3rb_l", "_s3rb_b", d)} AND _s3rb_l."_s3rb_segment" = _s3rb_b."_s3rb_segment"'
        ' AND _s3rb_l."_s3rb_rank" = 1\n'
        'WHERE _s3rb_b."_s3rb_boundary" = 1'
    )


def _current(expr: str) -> str:
    return f"CASE WHEN {expr} IS NULL THEN TRUE ELSE FALSE END"


def close_base_versions(schema: SchemaName, table: SourceTable, spec: Scd2Spec, d: Scd2Dialect) -> str:
    """The key's current version before this load: end it where the next segment starts, and take
    the newest untracked values in ``update`` mode."""
    target = table_name(schema, table.name)
    sets = [
        f'{q(spec.valid_to)} = _s3rb_v."_s3rb_next_ts"',
        f"{q(spec.is_current)} = {_current(NEXT_TS)}",
        f"{q(LAST_SEQ)} = _s3rb_v.{q(LAST_SEQ)}",
    ]
    if spec.untracked == "update":
        sets += [f"{q(c)} = _s3rb_v.{q(c)}" for c in _non_key(table)]
    return (
        f"UPDATE {target} SET {', '.join(sets)}\n"
        f"FROM {q(VER)} AS _s3rb_v\n"
        f"WHERE {_keys(table, q(table.name), '_s3rb_v', d)} AND {q(table.name)}.{q(spec.is_current)}"
        ' AND _s3rb_v."_s3rb_base" = 1'
    )


def insert_versions(schema: SchemaName, table: SourceTable, spec: Scd2Spec, d: Scd2Dialect) -> str:
    target = table_name(schema, table.name)
    columns = [*table.column_names, "_s3rb_seq", "_s3rb_op", "_s3rb_source_ts", LAST_SEQ]
    columns += [spec.valid_from, spec.valid_to, spec.is_current]
    values = [f"_s3rb_v.{q(c)}" for c in table.column_names]
    values += [
        '_s3rb_v."_s3rb_start_seq"',
        '_s3rb_v."_s3rb_start_op"',
        '_s3rb_v."_s3rb_start_ts"',
        f"_s3rb_v.{q(LAST_SEQ)}",
    ]
    values += ['_s3rb_v."_s3rb_start_ts"', '_s3rb_v."_s3rb_next_ts"', _current('_s3rb_v."_s3rb_next_ts"')]
    return (
        f"INSERT INTO {target} ({', '.join(q(c) for c in columns)})\n"
        f"SELECT {', '.join(values)}\n"
        f"FROM {q(VER)} AS _s3rb_v\n"
        f"LEFT JOIN {target} AS _s3rb_t ON {_keys(table, '_s3rb_t', '_s3rb_v', d)}"
        f' AND _s3rb_t.{SEQ} = _s3rb_v."_s3rb_start_seq"\n'
        'WHERE _s3rb_v."_s3rb_base" = 0 AND _s3rb_v."_s3rb_start_op" <> \'d\''
        f" AND _s3rb_t.{q(table.key_columns[0])} IS NULL"
    )


def apply(
    schema: SchemaName, table: SourceTable, spec: Scd2Spec, stage: str, watermark: int, d: Scd2Dialect
) -> list[str]:
    """Every statement of one SCD2 apply after staging, in order; one transaction with the caller'_s3rb_s."""
    return [
        *drop_temp_tables(),
        changes(schema, table, spec, stage, watermark, d),
        segments(table, spec, d),
        versions(table, spec, d),
        close_base_versions(schema, table, spec, d),
        insert_versions(schema, table, spec, d),
        *drop_temp_tables(),
    ]


def expire_unseen(schema: SchemaName, table: SourceTable, spec: Scd2Spec, d: Scd2Dialect) -> str:
    """After a whole-table extract: expire the current versions of keys it did not see.

    Parameters: the extract's read time, then its first sequence."""
    return (
        f"UPDATE {table_name(schema, table.name)} SET {q(spec.valid_to)} = {d.param}, {q(spec.is_current)} = FALSE\n"
        f"WHERE {q(spec.is_current)} AND {q(LAST_SEQ)} < {d.param}"
    )


def surrogate_sequence(schema: SchemaName, table: SourceTable) -> str:
    return table_name(schema, f"{table.name}__s3rb_sk")


def create_statements(schema: SchemaName, table: SourceTable, d: Scd2Dialect) -> list[str]:
    """What must exist before the table: the surrogate key's sequence, where the target needs one."""
    return [f"CREATE SEQUENCE IF NOT EXISTS {surrogate_sequence(schema, table)}"] if d.sequence else []


def version_columns(schema: SchemaName, table: SourceTable, spec: Scd2Spec, d: Scd2Dialect) -> list[str]:
    """Column definitions an SCD2 target adds after the source and meta columns."""
    sequence = surrogate_sequence(schema, table).replace("'", "''")
    return [
        f"{q(LAST_SEQ)} BIGINT NOT NULL",
        f"{q(spec.valid_from)} TIMESTAMPTZ NOT NULL",
        f"{q(spec.valid_to)} TIMESTAMPTZ",
        f"{q(spec.is_current)} BOOLEAN NOT NULL",
        f'"_s3rb_sk" {d.identity.format(seq=sequence)}',
    ]
