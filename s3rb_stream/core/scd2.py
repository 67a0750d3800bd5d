"""SCD Type 2 history: what a ``mode: scd2`` table tracks and how its versions are named.

A version is keyed by (natural key, ``_s3rb_seq`` of the change that opened it), so re-applying
batches never adds one (invariant 2). ``_s3rb_last_seq`` is the newest change the version has
absorbed (untracked updates, or an unchanged row seen again by full_sync), which is what a
full_sync sweep compares with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from s3rb_stream.core.schema import SourceTable
from s3rb_stream.errors import SchemaError, listed

SURROGATE_KEY = "_s3rb_sk"
LAST_SEQ = "_s3rb_last_seq"


@dataclass(frozen=True)
class Scd2Spec:
    tracked: tuple[str, ...]
    valid_from: str = "valid_from"
    valid_to: str = "valid_to"
    is_current: str = "is_current"
    untracked: Literal["update", "ignore"] = "update"

    @property
    def version_columns(self) -> tuple[str, ...]:
        return (LAST_SEQ, self.valid_from, self.valid_to, self.is_current, SURROGATE_KEY)


def make_spec(
    table: SourceTable,
    tracked: tuple[str, ...] | None,
    valid_from: str,
    valid_to: str,
    is_current: str,
    untracked: Literal["update", "ignore"],
) -> Scd2Spec:
    """The spec of one table; tracked defaults to every non-key column. Names must not collide."""
    nullable = [c.name for c in table.columns if c.name in table.key_columns and c.nullable]
    if nullable:
        raise SchemaError(
            f"mode scd2 of {table.database}.{table.name}: key column(s) {listed(nullable)} are nullable",
            "versions are matched by key equality; make the key columns NOT NULL or choose other key_columns",
        )
    chosen = tracked if tracked else tuple(c for c in table.column_names if c not in table.key_columns)
    spec = Scd2Spec(chosen, valid_from, valid_to, is_current, untracked)
    taken = set(table.column_names) | {"_s3rb_seq", "_s3rb_op", "_s3rb_source_ts"}
    clash = [c for c in spec.version_columns if c in taken]
    if clash or len(set(spec.version_columns)) != len(spec.version_columns):
        raise SchemaError(
            f"scd2 column name(s) {clash or list(spec.version_columns)} of {table.database}.{table.name}"
            " collide with each other or with the table's columns",
            "choose other names with scd2_valid_from_column, scd2_valid_to_column, scd2_current_column",
        )
    return spec
