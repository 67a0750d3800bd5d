"""Batches ↔ Parquet bytes. One object per batch, schema from the source table."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from s3rb_stream.core.changes import Change
from s3rb_stream.core.schema import SourceTable, arrow_schema
from s3rb_stream.errors import CorruptStateError, SchemaError
from s3rb_stream.settings import ParquetCodec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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
    arrays.append(_commit_times(changes))
    return pa.Table.from_arrays(arrays, schema=schema)


def _commit_times(changes: list[Change]) -> pa.Array:
    """``_s3rb_source_ts``: one commit time per transaction, so runs of the same object; turning
    each run into microseconds once is several times cheaper than Arrow converting every row."""
    micros: list[int] = []
    last: datetime | None = None
    value = 0
    for change in changes:
        if change.source_ts is not last:
            last = change.source_ts
            value = (last - _EPOCH) // _MICROSECOND
        micros.append(value)
    return pa.array(micros, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def encode(table: pa.Table, codec: ParquetCodec) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=codec)
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
