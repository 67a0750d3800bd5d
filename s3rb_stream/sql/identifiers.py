"""Identifier quoting shared by the dialects."""

from __future__ import annotations


def quote_mysql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_ansi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string literal (standard quoting) for values we control, e.g. object keys."""
    return "'" + value.replace("'", "''") + "'"
