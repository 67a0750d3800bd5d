"""Redshift statements → PostgreSQL statements, refusing what Redshift refuses.

Each rule names the Redshift doc page it follows (README.md beside this file has the table).
Statements that none of the rules concern pass through untouched, so bind placeholders and
formatting reach PostgreSQL exactly as the driver sent them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from s3rb_stream.sql.identifiers import literal
from s3rb_stream.sql.redshift_lint import merge_problems

MAX_VARCHAR = 65535  # "Character types"
MAX_CHAR = 4096
MAX_VARBYTE = 16_777_216  # "VARBYTE type" (current pages; older ones said 1,024,000)
MAX_PRECISION = 38  # "Numeric types"
MAX_SCALE = 37
MAX_FIXED_ROW_WIDTH = 65535  # "CREATE TABLE", usage notes: wide tables (error 8001)

_REDSHIFT_ONLY = re.compile(
    r"\b(GETDATE|SYSDATE|IDENTITY|DISTKEY|SORTKEY|DISTSTYLE|ENCODE|SUPER|VARBYTE|MAX|JSON_PARSE|STRTOL|FROM_VARBYTE)\b",
    re.IGNORECASE,
)
_TYPED = re.compile(r"\b(DECIMAL|NUMERIC|VARCHAR|CHAR|CHARACTER|NCHAR|NVARCHAR|TEXT|VARBYTE|BPCHAR)\b", re.IGNORECASE)
_DDL = re.compile(r"^\s*(CREATE|ALTER|MERGE)\b", re.IGNORECASE)
_DROP_PROPERTIES = (exp.DistKeyProperty, exp.SortKeyProperty, exp.DistStyleProperty)
_UNENFORCED = (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint, exp.Reference)


class Refused(Exception):
    """What Redshift reports for a statement it does not run."""


@dataclass
class Session:
    """What Redshift keeps per connection that changes how statements run."""

    case_sensitive: bool = False  # enable_case_sensitive_identifier
    in_transaction: bool = False  # inside BEGIN ... END: from the server's ReadyForQuery status
    statement_timeout_ms: int = 0  # SET statement_timeout: also cuts the proxy's statement delay
    database: str = ""  # the database the session connected to


def _size(dtype: exp.DataType, index: int = 0) -> int | None:
    params = dtype.expressions
    if len(params) <= index or not params[index].name.isdigit():
        return None
    return int(params[index].name)


def _is_max(dtype: exp.DataType) -> bool:
    return any(isinstance(p, exp.DataTypeParam) and p.name.upper() == "MAX" for p in dtype.expressions)


def check_type_limits(tree: exp.Expr) -> None:
    """VARCHAR ≤ 65535 bytes, CHAR ≤ 4096, VARBYTE ≤ 16,777,216, DECIMAL precision ≤ 38, scale ≤ 37."""
    for dtype in tree.find_all(exp.DataType):
        kind, size = dtype.this, _size(dtype)
        if kind in (exp.DataType.Type.VARCHAR, exp.DataType.Type.NVARCHAR) and size is not None and size > MAX_VARCHAR:
            raise Refused(f"length for type varchar cannot exceed {MAX_VARCHAR}")
        if kind in (exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR) and size is not None and size > MAX_CHAR:
            raise Refused(f"length for type bpchar cannot exceed {MAX_CHAR}")
        if kind == exp.DataType.Type.VARBINARY and size is not None and size > MAX_VARBYTE:
            raise Refused(f"length for type varbyte cannot exceed {MAX_VARBYTE}")
        if kind == exp.DataType.Type.DECIMAL and size is not None:
            if not 1 <= size <= MAX_PRECISION:
                raise Refused(f"NUMERIC precision {size} must be between 1 and {MAX_PRECISION}")
            scale = _size(dtype, 1)
            if scale is not None and scale > min(size, MAX_SCALE):
                raise Refused(f"NUMERIC scale {scale} must be between 0 and precision {size}")


def _byte_check(column: str, size: int) -> exp.ColumnConstraint:
    """``CONSTRAINT s3rb_bytes_<col> CHECK (OCTET_LENGTH(col) <= size)``: Redshift counts VARCHAR
    and CHAR in bytes, PostgreSQL in characters. Named, so a widening can replace it."""
    check = exp.CheckColumnConstraint(
        this=exp.LTE(
            this=exp.func("OCTET_LENGTH", exp.column(column, quoted=True)), expression=exp.Literal.number(size)
        )
    )
    return exp.ColumnConstraint(this=exp.to_identifier(f"s3rb_bytes_{column}", quoted=True), kind=check)


def _column_definition(column: exp.ColumnDef) -> int:
    """Redshift's sizes for one column definition, with its byte CHECK; the fixed width it takes."""
    kind = column.args.get("kind")
    if not isinstance(kind, exp.DataType):
        return 0
    text = (exp.DataType.Type.VARCHAR, exp.DataType.Type.NVARCHAR, exp.DataType.Type.TEXT)
    if kind.this in text:  # "Character types": VARCHAR(MAX) is 65535 bytes, bare VARCHAR and TEXT 256
        size = MAX_VARCHAR if _is_max(kind) else (_size(kind) or 256)
        column.set("kind", exp.DataType.build(f"VARCHAR({size})"))
        column.append("constraints", _byte_check(column.name, size))
        return 0
    if kind.this in (exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR):
        size = _size(kind) or 1
        column.append("constraints", _byte_check(column.name, size))
        return size
    if kind.this == exp.DataType.Type.VARBINARY:  # "VARBYTE type": VARBYTE(n) holds n bytes, 64,000 by default
        column.append("constraints", _byte_check(column.name, _size(kind) or 64_000))
    return 0


def _not_enforced(column: exp.ColumnDef, primary: set[str]) -> None:
    """PRIMARY KEY, UNIQUE and REFERENCES are informational on Redshift ("Defining table constraints"):
    dropped, so duplicates go in. A key column stays NOT NULL, which Redshift does enforce."""
    constraints = column.args.get("constraints") or []
    kept = [c for c in constraints if not isinstance(c.args.get("kind"), _UNENFORCED)]
    is_key = column.name in primary or any(
        isinstance(c.args.get("kind"), exp.PrimaryKeyColumnConstraint) for c in constraints
    )
    if is_key and not any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint) for c in kept):
        kept.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
    column.set("constraints", kept)


def _temporary_by_name(tree: exp.Create) -> bool:
    """ "CREATE TABLE": a table name starting with ``#`` makes a temporary table, in a schema of
    the session's own (so a schema named with it is dropped), gone when the session ends."""
    table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(table, exp.Table) or not table.name.startswith("#"):
        return False
    table.set("db", None)
    table.set("catalog", None)
    properties = tree.args.get("properties") or exp.Properties(expressions=[])
    if not any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions):
        properties.append("expressions", exp.TemporaryProperty())
    tree.set("properties", properties)
    return True


def create_table(tree: exp.Create, sql: str) -> str:
    temporary = _temporary_by_name(tree)
    schema = tree.this
    if not isinstance(schema, exp.Schema):  # CREATE TABLE AS, or LIKE
        return _translated(tree) if _REDSHIFT_ONLY.search(sql) or temporary else sql
    primary = {i.name for pk in schema.find_all(exp.PrimaryKey) for i in pk.expressions}
    fixed_width = 0
    for item in list(schema.expressions):
        if isinstance(item, exp.ColumnDef):
            _not_enforced(item, primary)
            fixed_width += _column_definition(item)
        elif isinstance(item, (exp.PrimaryKey, exp.UniqueColumnConstraint, exp.ForeignKey)) or (
            isinstance(item, exp.Constraint) and item.find(exp.PrimaryKey, exp.UniqueColumnConstraint, exp.ForeignKey)
        ):
            item.pop()
    if fixed_width > MAX_FIXED_ROW_WIDTH:
        raise Refused(
            "8001: The combined length of columns processed in the SQL statement exceeded the query-processing"
            f" limit of {MAX_FIXED_ROW_WIDTH} characters (fixed-width columns take {fixed_width} bytes)"
        )
    return _translated(tree)


def _raise(message: str) -> str:
    """A PL/pgSQL RAISE of ``message`` as it is (no ``%`` formatting)."""
    return f"RAISE EXCEPTION USING MESSAGE = {literal(message)};"


def _alter_column_type(tree: exp.Alter, action: exp.AlterColumn, session: Session) -> str:
    """ "ALTER TABLE": only a VARCHAR's size changes, never inside a transaction block, never on a
    column with a default, never below the longest value it holds."""
    if session.in_transaction:
        raise Refused("ALTER TABLE ALTER COLUMN cannot run inside a transaction block")
    dtype = action.args.get("dtype")
    if not isinstance(dtype, exp.DataType) or dtype.this != exp.DataType.Type.VARCHAR:
        target = dtype.sql("redshift") if isinstance(dtype, exp.DataType) else "?"
        raise Refused(f"target data type {target} is not supported: ALTER COLUMN TYPE only changes a VARCHAR's size")
    size = MAX_VARCHAR if _is_max(dtype) else _size(dtype)
    if size is None:
        raise Refused("ALTER COLUMN TYPE needs a VARCHAR length")
    table, column = tree.this.sql("postgres"), action.this.name
    col = exp.to_identifier(column, quoted=True).sql("postgres")
    check = exp.to_identifier(f"s3rb_bytes_{column}", quoted=True).sql("postgres")
    constraint = _byte_check(column, size).sql("postgres")
    where = f"a.attrelid = {literal(table)}::regclass AND a.attname = {literal(column)} AND NOT a.attisdropped"
    return (
        "DO $s3rb$ DECLARE r record; BEGIN\n"
        f"  SELECT format_type(a.atttypid, NULL) AS type, a.atthasdef AS has_default INTO r FROM pg_attribute a"
        f" WHERE {where};\n"
        f"  IF NOT FOUND THEN {_raise(f'column {column} of relation {table} does not exist')} END IF;\n"
        f"  IF r.has_default THEN {_raise(f'cannot alter column {column}: it has a default value')} END IF;\n"
        f"  IF r.type <> 'character varying' THEN"
        f" {_raise(f'cannot alter column {column}: only a VARCHAR column can change its size')} END IF;\n"
        f"  IF EXISTS (SELECT 1 FROM {table} WHERE OCTET_LENGTH({col}) > {size}) THEN"
        f" {_raise('target column size should be greater or equal to current maximum column size')} END IF;\n"
        f"  ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}, ALTER COLUMN {col} TYPE VARCHAR({size}),"
        f" ADD {constraint};\n"
        "END $s3rb$"
    )


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("postgres")


def _rename_column(tree: exp.Alter, action: exp.RenameColumn) -> str:
    """The column's byte CHECK follows it to its new name, so a later widening finds it."""
    table = tree.this.sql("postgres")
    old, new = action.this.name, action.args["to"].name
    check = f"s3rb_bytes_{old}"
    return (
        "DO $s3rb$ BEGIN\n"
        f"  ALTER TABLE {table} RENAME COLUMN {_ident(old)} TO {_ident(new)};\n"
        f"  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {literal(table)}::regclass"
        f" AND conname = {literal(check)}) THEN\n"
        f"    ALTER TABLE {table} RENAME CONSTRAINT {_ident(check)} TO {_ident(f's3rb_bytes_{new}')};\n"
        "  END IF;\n"
        "END $s3rb$"
    )


def alter_table(tree: exp.Alter, session: Session) -> str:
    actions = tree.args.get("actions") or []
    if len(actions) == 1 and isinstance(actions[0], exp.RenameColumn):
        return _rename_column(tree, actions[0])
    alters = [a for a in actions if isinstance(a, exp.AlterColumn)]
    if alters:
        if len(actions) != 1:
            raise Refused("ALTER COLUMN TYPE alters one column per ALTER TABLE statement")
        if alters[0].args.get("dtype") is not None:
            return _alter_column_type(tree, alters[0], session)
        raise Refused("ALTER TABLE ALTER COLUMN supports TYPE and ENCODE only (no SET/DROP DEFAULT, no NOT NULL)")
    added = [a for a in actions if isinstance(a, exp.ColumnDef)]
    if len(added) > 1:  # "ALTER TABLE": "You can add only one column in each ALTER TABLE statement."
        raise Refused("ALTER TABLE ADD COLUMN adds only one column per statement")
    for column in added:
        kinds = [c.args.get("kind") for c in column.args.get("constraints") or []]
        if any(isinstance(k, (*_UNENFORCED, exp.GeneratedAsIdentityColumnConstraint)) for k in kinds):
            raise Refused("ALTER TABLE ADD COLUMN cannot add a UNIQUE, PRIMARY KEY, REFERENCES or IDENTITY column")
        _column_definition(column)
    return _translated(tree) if added else ""


def check_merge(tree: exp.Merge) -> None:
    """ "MERGE": one unconditional WHEN MATCHED, one WHEN NOT MATCHED, no target alias, equality ON."""
    problems = merge_problems(tree)
    if problems:
        raise Refused(problems[0])
    if tree.args.get("with") is not None:
        raise Refused("MERGE does not take a WITH clause")


def _named_like_redshift(select: exp.Select) -> None:
    """ "CREATE TABLE AS": an expression gets a default name, a function call its function's name.
    PostgreSQL would name our JSONB cast after its operand, so say ``json_parse`` as Redshift does."""
    for i, item in enumerate(select.expressions):
        if isinstance(item, exp.ParseJSON):
            select.expressions[i] = exp.alias_(item, "json_parse")


def _rewrite(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, _DROP_PROPERTIES):
        return None
    if isinstance(node, exp.ColumnConstraint) and isinstance(node.args.get("kind"), exp.EncodeColumnConstraint):
        return None
    if isinstance(node, exp.ParseJSON):
        return exp.cast(node.this, exp.DataType.build("JSONB"))
    if isinstance(node, exp.FromBase) and node.expression.name == "16":  # "STRTOL function": hex text → BIGINT
        padded = exp.func("LPAD", node.this, exp.Literal.number(16), exp.Literal.string("0"))
        bits = exp.cast(exp.DPipe(this=exp.Literal.string("x"), expression=padded), exp.DataType.build("BIT(64)"))
        return exp.cast(bits, exp.DataType.build("BIGINT"))
    if isinstance(node, exp.DataType):
        if node.this == exp.DataType.Type.SUPER:
            return exp.DataType.build("JSONB")
        if node.this == exp.DataType.Type.VARBINARY:
            return exp.DataType.build("BYTEA")
        if node.this == exp.DataType.Type.VARCHAR and _is_max(node):
            return exp.DataType.build(f"VARCHAR({MAX_VARCHAR})")
    return node


def _from_varbyte(node: exp.Expression) -> exp.Expression:
    """ "FROM_VARBYTE function", in the one format the emulator knows: hex, in lower case."""
    if isinstance(node, exp.Anonymous) and node.name.upper() == "FROM_VARBYTE":
        value, form = node.expressions
        if form.name.lower() != "hex":
            raise Refused(f"FROM_VARBYTE format {form.name!r}: the emulator knows 'hex' only")
        return exp.Anonymous(this="ENCODE", expressions=[value, exp.Literal.string("hex")])
    return node


def _translated(tree: exp.Expr) -> str:
    for select in tree.find_all(exp.Select):
        _named_like_redshift(select)
    # Functions inside functions first: a node _rewrite replaces is not visited again.
    for call in list(tree.find_all(exp.Anonymous)):
        call.replace(_from_varbyte(call))
    translated = tree.transform(_rewrite)
    return translated.sql(dialect="postgres") if translated is not None else ""


def translate(sql: str, session: Session | None = None) -> str:
    """PostgreSQL text for one Redshift statement, or :class:`Refused` where Redshift refuses it."""
    session = session or Session()
    if not (_DDL.match(sql) or _REDSHIFT_ONLY.search(sql) or _TYPED.search(sql)):
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="redshift")
    except sqlglot.errors.ParseError:
        return sql  # let PostgreSQL report the error in its own words
    check_type_limits(tree)
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        return create_table(tree, sql)
    if isinstance(tree, exp.Alter):
        return alter_table(tree, session) or sql
    if isinstance(tree, exp.Merge):
        check_merge(tree)
    if _REDSHIFT_ONLY.search(sql):
        return _translated(tree)
    return sql
