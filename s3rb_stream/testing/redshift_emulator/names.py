"""Identifiers as Redshift treats them, on a PostgreSQL that treats them otherwise.

- **Case.** With ``enable_case_sensitive_identifier`` off (Redshift's default), a quoted
  identifier folds to lower case as an unquoted one does ("Names and identifiers";
  "enable_case_sensitive_identifier"). PostgreSQL keeps the case of quoted names, so the emulator
  folds them before PostgreSQL sees them.
- **Temporary tables.** An unquoted ``#name`` is a name (of a temporary table, translate.py);
  PostgreSQL would read ``#`` as an operator, so it is sent quoted.
- **Printable.** Names hold printable UTF-8 characters only ("Names and identifiers"): a quoted
  name with any other character is refused.
- **Length.** Redshift names hold up to 127 bytes and longer ones are truncated to 127;
  PostgreSQL truncates at 63. A name of 64 to 127 bytes (after truncation) is sent to PostgreSQL
  as a short alias, and every alias in what comes back (column names, rows, messages) is turned
  back into the name, so the client sees Redshift's names throughout.

One lexical pass over the statement: string literals, comments and dollar-quoted bodies are left
alone, except that a string literal equal to a long name stands for it (a lookup such as
``WHERE column_name = '<long name>'``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field

from s3rb_stream.testing.redshift_emulator.translate import Refused

REDSHIFT_MAX_NAME_BYTES = 127
POSTGRES_MAX_NAME_BYTES = 63

_UNQUOTED = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_ALIAS = re.compile(rb"_rs[0-9a-f]{32}")


def truncate_name(name: str) -> str:
    """The name as Redshift keeps it: at most 127 bytes, cut on a character boundary."""
    return name.encode()[:REDSHIFT_MAX_NAME_BYTES].decode("utf-8", errors="ignore")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class LongNames:
    """Names PostgreSQL would truncate, each with the short alias it is stored under. Shared by
    every session, like a database's catalog."""

    _by_name: dict[str, str] = field(default_factory=dict)
    _by_alias: dict[bytes, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def alias(self, name: str) -> str:
        """The name PostgreSQL stores for ``name``: itself when short enough, else an alias."""
        if len(name.encode()) <= POSTGRES_MAX_NAME_BYTES:
            return name
        with self._lock:
            alias = self._by_name.get(name)
            if alias is None:
                alias = "_rs" + hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
                self._by_name[name] = alias
                self._by_alias[alias.encode()] = name.encode()
            return alias

    def known_alias(self, name: str) -> str | None:
        """The alias of a name seen before as an identifier, for string literals and parameters."""
        return self._by_name.get(name)

    def __bool__(self) -> bool:
        return bool(self._by_alias)

    def restore_value(self, value: bytes) -> bytes:
        """A result value: the long name when ``value`` is an alias, else unchanged."""
        return self._by_alias.get(value, value)

    def restore_text(self, text: bytes) -> bytes:
        """Every alias inside ``text`` (an error message, say) turned back into its name."""
        return _ALIAS.sub(lambda m: self._by_alias.get(m.group(0), m.group(0)), text)


def _quoted_end(sql: str, start: int, quote: str, backslashes: bool = False) -> int:
    """Index just past the literal or quoted name opening at ``start``; a doubled quote is one."""
    i = start + 1
    while i < len(sql):
        escaped = backslashes and sql[i] == "\\"
        if escaped or (sql[i] == quote and sql[i + 1 : i + 2] == quote):  # \x or a doubled quote
            i += 2
        elif sql[i] == quote:
            return i + 1
        else:
            i += 1
    return len(sql)


def rewrite_identifiers(sql: str, case_sensitive: bool, long_names: LongNames) -> str:
    """``sql`` with quoted names folded (unless ``case_sensitive``), names over 127 bytes truncated,
    and names over PostgreSQL's 63 bytes replaced by their aliases."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'" or (ch in "eE" and sql[i + 1 : i + 2] == "'"):
            start = i + 1 if ch != "'" else i
            end = _quoted_end(sql, start, "'", backslashes=ch != "'")
            literal = sql[i:end]
            if ch == "'" and long_names:
                alias = long_names.known_alias(literal[1:-1].replace("''", "'"))
                literal = "'" + alias.replace("'", "''") + "'" if alias else literal
            out.append(literal)
            i = end
        elif ch == '"':
            end = _quoted_end(sql, i, '"')
            name = sql[i + 1 : end - 1].replace('""', '"')
            if not name.isprintable():
                raise Refused(f"invalid name {name!r}: names hold printable UTF-8 characters only")
            name = truncate_name(name if case_sensitive else name.lower())
            out.append(quote(long_names.alias(name)))
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
        elif ch == "$" and (tag := _DOLLAR_TAG.match(sql, i)) is not None and not sql[i - 1 : i].isalnum():
            close = sql.find(tag.group(0), tag.end())
            end = n if close < 0 else close + len(tag.group(0))
            out.append(sql[i:end])
            i = end
        elif (
            ch == "#"
            and (word := _UNQUOTED.match(sql, i + 1)) is not None
            and not (i and (sql[i - 1].isalnum() or sql[i - 1] in "_#"))
        ):  # a temporary table's name
            out.append(quote(long_names.alias(truncate_name("#" + word.group(0).lower()))))
            i = word.end()
        elif (word := _UNQUOTED.match(sql, i)) is not None and not (i and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            name = word.group(0)
            folded = truncate_name(name.lower())  # as PostgreSQL and Redshift fold an unquoted name
            if len(folded.encode()) > POSTGRES_MAX_NAME_BYTES:
                out.append(quote(long_names.alias(folded)))
            else:
                out.append(name)
            i = word.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)
