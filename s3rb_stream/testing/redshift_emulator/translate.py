"""Redshift-only SQL → PostgreSQL, for the statements the emulator relays.

Statements without Redshift-only words pass through untouched, so bind placeholders and
formatting reach PostgreSQL exactly as the driver sent them.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

_REDSHIFT_ONLY = re.compile(
    r"\b(GETDATE|SYSDATE|IDENTITY|DISTKEY|SORTKEY|DISTSTYLE|ENCODE|SUPER|VARBYTE|MAX|JSON_PARSE)\b"
    # a table defined by its columns: VARCHAR(n) counts bytes in Redshift, characters in PostgreSQL
    r"|^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TABLE\b(?![^(]*\bAS\b)"
    r"|^\s*ALTER\s+TABLE\b.*\bALTER\s+COLUMN\b",
    re.IGNORECASE,
)
_DROP_PROPERTIES = (exp.DistKeyProperty, exp.SortKeyProperty, exp.DistStyleProperty)


def needs_translation(sql: str) -> bool:
    return bool(_REDSHIFT_ONLY.search(sql))


def _byte_check(column: str, size: int) -> exp.ColumnConstraint:
    """``CONSTRAINT s3rb_bytes_<col> CHECK (OCTET_LENGTH(col) <= size)``: named, so a widening can replace it."""
    check = exp.CheckColumnConstraint(
        this=exp.LTE(
            this=exp.func("OCTET_LENGTH", exp.column(column, quoted=True)), expression=exp.Literal.number(size)
        )
    )
    return exp.ColumnConstraint(this=exp.to_identifier(f"s3rb_bytes_{column}", quoted=True), kind=check)


def _widen_varchar(tree: exp.Alter) -> str | None:
    """Redshift's ``ALTER COLUMN c TYPE VARCHAR(n)`` as PostgreSQL, with the byte CHECK moved to n."""
    actions = tree.args.get("actions") or []
    if len(actions) != 1 or not isinstance(actions[0], exp.AlterColumn):
        return None
    dtype = actions[0].args.get("dtype")
    if not isinstance(dtype, exp.DataType) or dtype.this != exp.DataType.Type.VARCHAR or not dtype.expressions:
        return None
    column, size = actions[0].this.name, int(dtype.expressions[0].name)
    constraint = _byte_check(column, size)
    name = exp.to_identifier(f"s3rb_bytes_{column}", quoted=True).sql("postgres")
    return (
        f"ALTER TABLE {tree.this.sql('postgres')} DROP CONSTRAINT IF EXISTS {name},"
        f" ALTER COLUMN {exp.to_identifier(column, quoted=True).sql('postgres')} TYPE VARCHAR({size}),"
        f" ADD {constraint.sql('postgres')}"
    )


def _byte_limits(tree: exp.Expression) -> None:
    """Give each VARCHAR(n)/CHAR(n) column a CHECK on its byte length, as Redshift counts it."""
    for column in tree.find_all(exp.ColumnDef):
        kind = column.args.get("kind")
        if not isinstance(kind, exp.DataType) or kind.this not in (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR):
            continue
        size = kind.expressions[0].name if kind.expressions else ""
        if not size.isdigit():
            continue
        column.append("constraints", _byte_check(column.name, int(size)))


def _rewrite(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, _DROP_PROPERTIES):
        return None
    if isinstance(node, exp.ColumnConstraint) and isinstance(node.args.get("kind"), exp.EncodeColumnConstraint):
        return None
    if isinstance(node, exp.ParseJSON):
        return exp.cast(node.this, exp.DataType.build("JSONB"))
    if isinstance(node, exp.DataType):
        if node.this == exp.DataType.Type.SUPER:
            return exp.DataType.build("JSONB")
        if node.this == exp.DataType.Type.VARBINARY:
            return exp.DataType.build("BYTEA")
        if node.this == exp.DataType.Type.VARCHAR and any(
            isinstance(p, exp.DataTypeParam) and p.name.upper() == "MAX" for p in node.expressions
        ):
            return exp.DataType.build("VARCHAR")
    return node


def translate(sql: str) -> str:
    """PostgreSQL text for one Redshift statement (GETDATE/SYSDATE, IDENTITY, DIST/SORT keys, ENCODE,
    VARCHAR(MAX), SUPER, VARBYTE, JSON_PARSE, byte-counted VARCHAR(n)); unchanged when nothing
    Redshift-only is in it."""
    if not needs_translation(sql):
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="redshift")
    except sqlglot.errors.ParseError:
        return sql  # let PostgreSQL report the error in its own words
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        _byte_limits(tree)
    if isinstance(tree, exp.Alter):
        widened = _widen_varchar(tree)
        if widened is not None:
            return widened
    translated = tree.transform(_rewrite)
    return translated.sql(dialect="postgres") if translated is not None else sql
