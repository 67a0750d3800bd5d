"""Pydantic's validation errors, said in the user's words: ``unknown key 'key_colums' (did you mean
'key_columns'?)`` rather than ``Extra inputs are not permitted``; no ``Value error,`` prefix; no
Python reprs. Pure: settings.py hands in the error and the keys that exist where it happened."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any

_PREFIXES = ("Value error, ", "Assertion failed, ")


def say(error: Any, known_keys: Collection[str] = ()) -> str:
    """One problem of a pydantic ``ValidationError.errors()`` list, as a sentence for a person.
    ``known_keys``: the keys the mapping holding the problem may have (for "did you mean")."""
    kind = str(error.get("type", ""))
    loc = error.get("loc") or ()
    key = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        return f"unknown key {key!r}{_suggestion(key, known_keys)}"
    if kind == "missing":
        return f"{key!r} is required" if key else "a value is required"
    message = str(error.get("msg", "invalid"))
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if kind in ("literal_error", "enum"):
        allowed = message.removeprefix("Input should be ")
        return f"must be {allowed}, not {_shown(error.get('input'))}"
    if message.startswith("Input should be "):
        return f"must be {message.removeprefix('Input should be ')}, not {_shown(error.get('input'))}"
    if message.startswith("List should have at least 1 item"):
        return "must list at least one entry"
    return message


def _suggestion(key: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if known:
        return f" (known keys: {', '.join(sorted(known))})"
    return ""


def _shown(value: Any) -> str:
    """A value as the user wrote it in YAML or the environment."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value) or "an empty list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)
