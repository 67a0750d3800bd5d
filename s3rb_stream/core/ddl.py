"""Which tables a DDL statement from the binlog changes, and how.

Only the statements that change what a captured table holds matter: ALTER, RENAME, DROP and
TRUNCATE of a table, and CREATE of one the tables file may include by pattern. Names may be
quoted with backticks and qualified with a database; an unqualified name belongs to the
statement's default database (the binlog's ``schema``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s3rb_stream.core.column_types import same_type, widens
from s3rb_stream.core.schema import SourceTable

_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)
_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QUALIFIED = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_ALTER = re.compile(rf"^ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?:IF\s+EXISTS\s+)?(?P<names>{_QUALIFIED})", re.I)
_TRUNCATE = re.compile(rf"^TRUNCATE\s+(?:TABLE\s+)?(?P<names>{_QUALIFIED})", re.I)
_DROP = re.compile(
    rf"^DROP\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?(?P<names>{_QUALIFIED}(?:\s*,\s*{_QUALIFIED})*)", re.I
)
_CREATE = re.compile(rf"^CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<names>{_QUALIFIED})", re.I)
_RENAME = re.compile(
    rf"^RENAME\s+TABLES?\s+(?P<names>{_QUALIFIED}\s+TO\s+{_QUALIFIED}(?:\s*,\s*{_QUALIFIED}\s+TO\s+{_QUALIFIED})*)",
    re.I,
)


@dataclass(frozen=True)
class DdlChange:
    verb: str  # ALTER, TRUNCATE, DROP, RENAME, CREATE
    tables: tuple[tuple[str, str], ...]  # (database, table) the statement changes


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _split_qualified(text: str, default_db: str) -> tuple[str, str]:
    parts = re.findall(_NAME, text)
    if len(parts) == 2:
        return _unquote(parts[0]), _unquote(parts[1])
    return default_db, _unquote(parts[0])


def parse_ddl(statement: str, default_db: str) -> DdlChange | None:
    """The tables a statement changes, or None for statements that change no table's rows or shape."""
    text = _COMMENTS.sub(" ", statement).strip()
    for verb, pattern in (("ALTER", _ALTER), ("TRUNCATE", _TRUNCATE), ("DROP", _DROP), ("CREATE", _CREATE)):
        match = pattern.match(text)
        if match:
            names = re.findall(_QUALIFIED, match["names"])
            return DdlChange(verb, tuple(_split_qualified(n, default_db) for n in names))
    match = _RENAME.match(text)
    if match:
        pairs = re.split(r"\s*,\s*", match["names"])
        sources = [re.split(r"\s+TO\s+", pair, flags=re.I)[0] for pair in pairs]
        return DdlChange("RENAME", tuple(_split_qualified(n, default_db) for n in sources))
    return None


def column_renames(statement: str) -> dict[str, str]:
    """``RENAME COLUMN a TO b`` and ``CHANGE a b ...`` in an ALTER: old name → new name."""
    text = _COMMENTS.sub(" ", statement)
    found = {}
    for match in _RENAME_COLUMN_TO.finditer(text):
        found[_unquote(match["old"])] = _unquote(match["new"])
    for match in _CHANGE_COLUMN.finditer(text):
        if _unquote(match["old"]) != _unquote(match["new"]):
            found[_unquote(match["old"])] = _unquote(match["new"])
    return found


_RENAME_COLUMN_TO = re.compile(rf"\bRENAME\s+COLUMN\s+(?P<old>{_NAME})\s+TO\s+(?P<new>{_NAME})", re.I)
_CHANGE_COLUMN = re.compile(rf"\bCHANGE\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(?P<old>{_NAME})\s+(?P<new>{_NAME})", re.I)
_RENAMES_TABLE = re.compile(r"\bRENAME\s+(?!COLUMN\b|INDEX\b|KEY\b)", re.I)
_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_CONSTANT = re.compile(r"^-?\d+(?:\.\d+)?$|^'[^'\\]*'$")


def renames_table(statement: str) -> bool:
    """Whether an ALTER renames the table itself (``ALTER TABLE a RENAME [TO] b``)."""
    return bool(_RENAMES_TABLE.search(_COMMENTS.sub(" ", statement)))


def constant_default(default: str | None) -> str | None:
    """A column default that is a literal (a number or a plain quoted string), as SQL; else None."""
    if default is None or default.upper() == "NULL":
        return None
    return default if _CONSTANT.match(default) else None


def follow_problem(
    statement: str | None, old: SourceTable, new: SourceTable | None, target: str | None = None
) -> str | None:
    """Why a change of a captured table's definition from ``old`` to ``new`` cannot be followed by
    its target, or None when it can. ``statement``: the ALTER(s) between them; None when rows of
    ``new`` simply came first (binlog written before ``old``, the server's definition of now).
    ``target``: the target table (``schema.table``) that a type change not followed names.

    Followed: columns added (nullable, or with a literal default that the target applies to
    existing rows), columns dropped (the target keeps them), columns renamed (so is the target's),
    text columns made longer (or ENUM and SET given more members), lossless widenings
    (:func:`~s3rb_stream.core.column_types.widens`: the target widens its column), and changes
    that leave every remaining column's type as it was, however spelled (nullability, defaults,
    comments, indexes, display widths).
    """
    if new is None:
        return "the table is gone"
    if statement is not None and renames_table(statement):
        return "the table was renamed"
    renamed = column_renames(statement) if statement is not None else {}
    if any(target not in new.column_names or source in new.column_names for source, target in renamed.items()):
        return "a column rename did not produce the definition the source now has"
    keys = tuple(renamed.get(k, k) for k in old.key_columns)
    if new.key_columns != keys:
        return f"the key changed from {list(old.key_columns)} to {list(new.key_columns)}"
    before = {renamed.get(c.name, c.name): c for c in old.columns}
    for col in new.columns:
        was = before.get(col.name)
        if was is None and statement is None:
            continue  # not added: a column the server has dropped since these rows were written
        if was is None:
            has_default = col.default is not None and col.default.upper() != "NULL"
            if (has_default or not col.nullable) and constant_default(col.default) is None:
                return f"column {col.name} was added with default {col.default}, which the target cannot give old rows"
            continue
        if same_type(was, col) or widens(was, col) or (statement is None and widens(col, was)):
            continue  # the same type however spelled, or a lossless widening (older rows: the narrower)
        grown_text = (
            was.data_type in _TEXT
            and col.data_type in _TEXT
            and was.unsigned == col.unsigned
            and ((col.char_length or 0) >= (was.char_length or 0) or statement is None)  # older rows: shorter
        )
        if not grown_text:  # a longer text (or more ENUM/SET members) is followed; other type changes are not
            return type_change(col.name, was.column_type, col.column_type, target)
    return None


def type_change(column: str, was: str, now: str, target: str | None) -> str:
    """Why a change of type is not followed, and what the target table needs before a re-snapshot:
    its column keeps the old type, which the new values may not fit (another type family)."""
    reason = f"column {column} changed type from {was} to {now}, which is not a lossless widening"
    if target is None:
        return reason
    return (
        f"{reason}; before the table is re-snapshotted, drop the target table {target} in the warehouse"
        f" (or alter its column {column} to the new type)"
    )


_ADD_COLUMN = re.compile(
    rf"^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?!(?:INDEX|KEY|CONSTRAINT|PRIMARY|UNIQUE|FOREIGN|FULLTEXT"
    rf"|SPATIAL|PARTITION|CHECK|PERIOD|SYSTEM)\b)(?P<name>{_NAME})\s",
    re.I,
)
_DEFAULT = re.compile(r"\bDEFAULT\s+(?P<value>'(?:[^'\\]|''|\\.)*'|\(.*\)|[^\s,]+)", re.I | re.S)


def _clauses(statement: str) -> list[str]:
    """An ALTER's clauses after the table name, split at the commas outside quotes and parentheses."""
    text = _COMMENTS.sub(" ", statement).strip()
    match = _ALTER.match(text)
    if match is None:
        return []
    rest, clauses, depth, quote, start = text[match.end() :], [], 0, "", 0
    for i, ch in enumerate(rest):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            clauses.append(rest[start:i].strip())
            start = i + 1
    clauses.append(rest[start:].strip())
    return [c for c in clauses if c]


def added_columns(statement: str) -> dict[str, str | None]:
    """``ADD [COLUMN] name type ... [DEFAULT x]`` clauses of an ALTER: each added column and the
    DEFAULT it was given, as written (None: no DEFAULT clause)."""
    found: dict[str, str | None] = {}
    for clause in _clauses(statement):
        match = _ADD_COLUMN.match(clause + " ")
        if match is None:
            continue
        default = _DEFAULT.search(clause, match.end())
        found[_unquote(match["name"])] = default["value"] if default else None
    return found
