"""Reject SQL that Redshift does not run, before a cluster does (used by tests and the emulator).

It parses with sqlglot's ``redshift`` dialect and refuses what Redshift lacks even where
PostgreSQL (and so an emulator) would accept it.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# Types Redshift has (CREATE TABLE / CAST targets); anything else is refused.
_REDSHIFT_TYPES = {
    exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.DECIMAL,
    exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE, exp.DataType.Type.BOOLEAN, exp.DataType.Type.CHAR,
    exp.DataType.Type.VARCHAR, exp.DataType.Type.NCHAR, exp.DataType.Type.NVARCHAR, exp.DataType.Type.TEXT,
    exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIME,
    exp.DataType.Type.TIMETZ, exp.DataType.Type.SUPER, exp.DataType.Type.VARBINARY, exp.DataType.Type.GEOMETRY,
    exp.DataType.Type.GEOGRAPHY, exp.DataType.Type.INTERVAL,
}  # fmt: skip


def lint(statement: str) -> list[str]:
    """Problems that would make Redshift reject ``statement``; empty when it looks fine."""
    try:
        tree = sqlglot.parse_one(statement.replace("%s", "NULL"), read="redshift")
    except sqlglot.errors.ParseError as exc:
        return [f"does not parse as Redshift SQL: {str(exc).splitlines()[0]}"]
    problems = []
    for merge in tree.find_all(exp.Merge):
        problems.extend(merge_problems(merge))
    if any(True for _ in tree.find_all(exp.NullSafeEQ, exp.NullSafeNEQ)):
        problems.append("IS [NOT] DISTINCT FROM is not Redshift SQL: compare null-safely with IS NULL terms")
    if any(True for _ in tree.find_all(exp.OnConflict)):
        problems.append("INSERT ... ON CONFLICT is not Redshift SQL: use MERGE")
    if tree.args.get("returning") is not None:
        problems.append("RETURNING is not Redshift SQL")
    for dtype in tree.find_all(exp.DataType):
        if dtype.this not in _REDSHIFT_TYPES and dtype.this != exp.DataType.Type.USERDEFINED:
            problems.append(f"type {dtype.sql(dialect='redshift')} is not a Redshift type")
    return problems


def merge_problems(merge: exp.Merge) -> list[str]:
    problems = []
    whens = merge.args.get("whens")
    clauses = list(whens.expressions) if whens is not None else []
    matched = [w for w in clauses if w.args.get("matched")]
    not_matched = [w for w in clauses if not w.args.get("matched")]
    if len(matched) != 1 or len(not_matched) != 1:
        problems.append("Redshift MERGE needs exactly one WHEN MATCHED and one WHEN NOT MATCHED clause")
    if any(w.args.get("condition") is not None for w in clauses):
        problems.append("Redshift MERGE allows no condition on WHEN [NOT] MATCHED (no 'WHEN MATCHED AND ...')")
    if merge.this.args.get("alias") is not None:
        problems.append("Redshift MERGE allows no alias on the target table")
    on = merge.args.get("on")
    if on is not None:
        for node in on.walk():
            if isinstance(node, (exp.Connector, exp.Column, exp.Identifier, exp.Dot, exp.EQ, exp.Table)):
                continue
            problems.append(f"Redshift MERGE ON takes equality predicates only, not {type(node).__name__}")
            break
    return problems
