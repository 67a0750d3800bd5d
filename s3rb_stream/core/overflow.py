"""Values too long for their target column: the configured policy, applied and counted, never silent.

Redshift's VARCHAR holds at most 65535 bytes, and JSON is staged as such a VARCHAR before it
becomes SUPER; its VARBYTE, as s3rb_stream creates it, 1,024,000. DuckDB has no such limit.
Per table (``overflow``) or per column (``overflow_columns``):

- ``fail`` (default): the load stops with an error naming the table, column and sizes; nothing is
  applied and the batch stays pending until the policy or the data changes.
- ``truncate``: cut to the limit on a UTF-8 character boundary (bytes: at the limit). JSON cannot
  be cut and stays valid, so a JSON value is set to NULL instead (and counted as such).
- ``null``: the value becomes NULL.

The objects in the store keep the exact source values; only what the target receives is fitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from s3rb_stream.errors import WarehouseError

Policy = Literal["fail", "truncate", "null"]


@dataclass(frozen=True)
class Overflow:
    default: Policy = "fail"
    columns: Mapping[str, Policy] = field(default_factory=dict)

    def policy(self, column: str) -> Policy:
        return self.columns.get(column, self.default)


@dataclass(frozen=True)
class Fitted:
    """One column's coercions in one batch: how many values, how, and the longest seen."""

    column: str
    action: Literal["truncated", "nulled"]
    count: int
    longest: int


def truncate_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits ``limit`` bytes."""
    return text.encode()[:limit].decode("utf-8", errors="ignore")


def fit_column(
    name: str, array: pa.Array, limit: int, policy: Policy, is_json: bool, where: str
) -> tuple[pa.Array, Fitted | None]:
    """``array`` with every value over ``limit`` bytes handled by ``policy``."""
    lengths = pc.binary_length(array)
    too_long = pc.fill_null(pc.greater(lengths, limit), False)
    count = pc.sum(too_long).as_py() or 0
    if not count:
        return array, None
    longest = int(pc.max(lengths).as_py() or 0)
    if policy == "fail":
        raise WarehouseError(
            f"{count} value(s) of {where}.{name} exceed the target's {limit} bytes (the longest has {longest})",
            f"set overflow: truncate or null for the table, or overflow_columns: {{{name}: ...}};"
            " nothing was applied and the batch stays pending",
        )
    if policy == "null" or is_json:
        fitted = pc.if_else(too_long, pa.scalar(None, array.type), array)
        return fitted, Fitted(name, "nulled", count, longest)
    cut = truncate_utf8 if pa.types.is_string(array.type) else lambda v, n: v[:n]  # bytes: any boundary
    values = [
        cut(v, limit) if long and v is not None else v
        for v, long in zip(array.to_pylist(), too_long.to_pylist(), strict=True)
    ]
    return pa.array(values, array.type), Fitted(name, "truncated", count, longest)


def fit_table(
    data: pa.Table, limits: Mapping[str, int], json_columns: set[str], overflow: Overflow, where: str
) -> tuple[pa.Table, list[Fitted]]:
    """``data`` with every column in ``limits`` fitted; the coercions made (empty: unchanged)."""
    done: list[Fitted] = []
    for name, limit in limits.items():
        index = data.schema.get_field_index(name)
        column = data.column(index).combine_chunks()
        fitted, report = fit_column(name, column, limit, overflow.policy(name), name in json_columns, where)
        if report is not None:
            data = data.set_column(index, data.schema.field(index), fitted)
            done.append(report)
    return data, done
