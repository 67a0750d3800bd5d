"""Typed row changes, the unit that flows from capture to the target."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


class Op(StrEnum):
    """``_s3rb_op``: Debezium's letters, so users of CDC tools read them at a glance."""

    INSERT = "c"
    UPDATE = "u"
    DELETE = "d"
    SNAPSHOT = "r"


class Change(NamedTuple):
    """One row image after a change (before-image for deletes), values in table column order.

    A named tuple: capture makes one per changed row, and a tuple is the cheapest immutable record."""

    op: Op
    seq: int
    source_ts: datetime  # source commit time, timezone-aware UTC
    values: tuple[Any, ...]
