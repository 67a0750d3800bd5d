"""Typed row changes, the unit that flows from capture to the target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    """``_s3rb_op``: Debezium's letters, so users of CDC tools read them at a glance."""

    INSERT = "c"
    UPDATE = "u"
    DELETE = "d"
    SNAPSHOT = "r"


@dataclass(frozen=True, slots=True)
class Change:
    """One row image after a change (before-image for deletes), values in table column order."""

    op: Op
    seq: int
    source_ts: datetime  # source commit time, timezone-aware UTC
    values: tuple[Any, ...]
