"""Which tables a DDL statement from the binlog changes, and how.

Only the statements that change what a captured table holds matter: ALTER, RENAME, DROP and
TRUNCATE of a table. Names may be quoted with backticks and qualified with a database; an
unqualified name belongs to the statement's default database (the binlog's ``schema``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)
_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QUALIFIED = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_ALTER = re.compile(rf"^ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?:IF\s+EXISTS\s+)?(?P<names>{_QUALIFIED})", re.I)
_TRUNCATE = re.compile(rf"^TRUNCATE\s+(?:TABLE\s+)?(?P<names>{_QUALIFIED})", re.I)
_DROP = re.compile(
    rf"^DROP\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?(?P<names>{_QUALIFIED}(?:\s*,\s*{_QUALIFIED})*)", re.I
)
_RENAME = re.compile(
    rf"^RENAME\s+TABLES?\s+(?P<names>{_QUALIFIED}\s+TO\s+{_QUALIFIED}(?:\s*,\s*{_QUALIFIED}\s+TO\s+{_QUALIFIED})*)",
    re.I,
)


@dataclass(frozen=True)
class DdlChange:
    verb: str  # ALTER, TRUNCATE, DROP, RENAME
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
    for verb, pattern in (("ALTER", _ALTER), ("TRUNCATE", _TRUNCATE), ("DROP", _DROP)):
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
