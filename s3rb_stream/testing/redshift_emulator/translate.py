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
    r"|^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TABLE\b(?![^(]*\bAS\b)",
    re.IGNORECASE,
)
_DROP_PROPERTIES = (exp.DistKeyProperty, exp.SortKeyProperty, exp.DistStyleProperty)


def needs_translation(sql: str) -> bool:
    return bool(_REDSHIFT_ONLY.search(sql))


def _byte_limits(tree: exp.Expression) -> None:
    """Give each VARCHAR(n)/CHAR(n) column a CHECK on its byte length, as Redshift counts it."""
    for column in tree.find_all(exp.ColumnDef):
        kind = column.args.get("kind")
        if not isinstance(kind, exp.DataType) or kind.this not in (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR):
            continue
        size = kind.expressions[0].name if kind.expressions else ""
        if not size.isdigit():
            continue
        check = exp.CheckColumnConstraint(
            this=exp.LTE(
                this=exp.func("OCTET_LENGTH", exp.column(column.name, quoted=True)),
                expression=exp.Literal.number(int(size)),
            )
        )
        column.append("constraints", exp.ColumnConstraint(kind=check))


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
    translated = tree.transform(_rewrite)
    return translated.sql(dialect="postgres") if translated is not None else sql
