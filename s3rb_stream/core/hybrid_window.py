"""A hybrid sync re-reads a look-back window below its watermark, for rows committed late with an
older timestamp. Most rows it reads again are unchanged: writing them again would load (on Redshift,
MERGE) the whole window at every sync. The window remembers each row it read, by id, as a digest
of its values and its timestamp; a row read again with the same digest is left out.

Safe because the state holding the window is saved only after the page holding those rows is
durable (as the watermark is), and entries leave the window only once their timestamp is below
where any later sync starts reading (the watermark only rises).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

Window = dict[str, tuple[str, str]]  # id (base64) → (digest, timestamp text)


def row_digest(row: Sequence[Any]) -> str:
    """Values as the server sent them: any change to any column changes the digest."""
    return hashlib.blake2b(repr(tuple(row)).encode(), digest_size=12).hexdigest()


def window_id(raw_id: bytes) -> str:
    return base64.b64encode(raw_id).decode()


def changed(window: Window, key: str, digest: str) -> bool:
    """True unless the row was read before with exactly these values."""
    seen = window.get(key)
    return seen is None or seen[0] != digest


def prune(window: Window, start: str) -> Window:
    """Entries at or above ``start`` (the timestamp a later sync reads from at the earliest); an
    entry whose timestamp cannot be compared stays (cautious: it costs only a row written again)."""
    floor = _when(start)
    if floor is None:
        return dict(window)
    kept = {}
    for key, (digest, ts) in window.items():
        when = _when(ts)
        if when is None or when >= floor:
            kept[key] = (digest, ts)
    return kept


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
