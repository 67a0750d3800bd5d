"""Types of the compiled speed-ups (_speedups.pyx)."""

from typing import Any

KINDS: dict[str, int]
MAX_DECIMAL_DIGITS: int
COLUMN_KINDS: dict[str, int]

class CompiledDecoder:
    def __init__(self, plan: list[tuple[str, int, int, bool, Any]]) -> None: ...
    def __call__(self, buf: bytes, pos: int, end: int) -> list[tuple[Any, ...]]: ...

def column_buffers(
    changes: list[Any], index: int, kind: int
) -> tuple[int, bytearray, bytearray, bytearray | None] | None: ...
def text_column(
    rows: list[Any], index: int, binary: bool
) -> tuple[int, bytearray, bytearray, bytearray, bool] | None: ...
