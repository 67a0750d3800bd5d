"""Types of the compiled speed-ups (_speedups.pyx)."""

from typing import Any

KINDS: dict[str, int]
MAX_DECIMAL_DIGITS: int
COLUMN_KINDS: dict[str, int]

class CompiledDecoder:
    def __init__(self, plan: list[tuple[str, int, int, bool, Any]]) -> None: ...
    def __call__(self, buf: bytes, pos: int, end: int) -> list[tuple[Any, ...]]: ...

def columns_buffers(
    rows: list[Any], wanted: list[tuple[int, int]], changes: bool
) -> list[tuple[int, bytearray, bytearray, bytearray | None, bool] | None]: ...
