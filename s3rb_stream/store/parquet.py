"""Batches ↔ Parquet bytes. One object per batch, schema from the source table."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from s3rb_stream.core.changes import Change
from s3rb_stream.core.schema import SourceTable, arrow_schema
from s3rb_stream.errors import CorruptStateError, SchemaError


def changes_to_table(table: SourceTable, changes: list[Change]) -> pa.Table:
    schema = arrow_schema(table)
    width = len(table.columns)
    columns: list[tuple[Any, ...]] = (
        list(zip(*(c.values for c in changes), strict=True)) if changes else [() for _ in range(width)]
    )
    arrays = []
    for field, values in zip(schema, columns, strict=False):
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise SchemaError(
                f"value of {table.database}.{table.name}.{field.name} does not fit {field.type}: {exc}",
                "this is a bug in the type mapping; please report it with the column definition",
            ) from None
    arrays.append(pa.array([c.seq for c in changes], type=pa.int64()))
    arrays.append(pa.array([c.op for c in changes], type=pa.string()))  # a StrEnum is its letter
    arrays.append(pa.array([c.source_ts for c in changes], type=pa.timestamp("us", tz="UTC")))
    return pa.Table.from_arrays(arrays, schema=schema)


def encode(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def decode(data: bytes, key: str) -> pa.Table:
    """Read a batch object; a truncated or foreign object is a named error, never loaded."""
    try:
        return pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise CorruptStateError(
            f"batch object {key} is not a readable Parquet file: {exc}",
            "delete the object and replay its range (restart capture from an earlier checkpoint)",
        ) from None
