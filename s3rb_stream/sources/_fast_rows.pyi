"""Types of the compiled row decoder (_fast_rows.pyx)."""

from typing import Any

KINDS: dict[str, int]
MAX_DECIMAL_DIGITS: int

class CompiledDecoder:
    def __init__(self, plan: list[tuple[str, int, int, bool, Any]]) -> None: ...
    def __call__(self, buf: bytes, pos: int, end: int) -> list[tuple[Any, ...]]: ...
