"""Batches ↔ Parquet bytes. One object per batch, schema from the source table."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from s3rb_stream import speedups
from s3rb_stream.core.changes import Change
from s3rb_stream.core.schema import SourceTable, arrow_schema
from s3rb_stream.errors import CorruptStateError, SchemaError
from s3rb_stream.settings import ParquetCodec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def use_system_allocator() -> None:
    """Arrow's buffers from the C library's malloc rather than pyarrow's bundled allocator
    (mimalloc or jemalloc), which keeps freed memory for reuse. Capture encodes batches on one
    thread while the loader decodes them on another; kept per thread, that memory added up: the
    whole run of a 1M-row transaction into DuckDB peaked at 511 MB with mimalloc, 426 MB with
    malloc, no slower (bench.throughput, big_txn)."""
    pa.set_memory_pool(pa.system_memory_pool())


def changes_to_table(table: SourceTable, changes: list[Change], compiled: bool = True) -> pa.Table:
    """``compiled``: columns of common types built by the compiled speed-up where it is built
    (tests compare it with ``False``, pyarrow's conversion of every column, the reference)."""
    schema = arrow_schema(table)
    width = len(table.columns)
    ragged = next((c for c in changes if len(c.values) != width), None)
    if ragged is not None:
        raise SchemaError(
            f"a change of {table.database}.{table.name} has {len(ragged.values)} values, the table {width} columns",
            "this is a bug; please report it",
        )
    fast = speedups.compiled if compiled and changes else None
    built: dict[int, pa.Array] = _compiled_columns(fast, changes, schema, width) if fast is not None else {}
    arrays = []
    for i, field in enumerate(schema):
        if i == width:
            break
        array = built.get(i)
        if array is None:
            try:
                array = pa.array([c.values[i] for c in changes], type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
                raise SchemaError(
                    f"value of {table.database}.{table.name}.{field.name} does not fit {field.type}: {exc}",
                    "this is a bug in the type mapping; please report it with the column definition",
                ) from None
        arrays.append(array)
    seqs = built.get(-1)
    arrays.append(seqs if seqs is not None else pa.array([c.seq for c in changes], type=pa.int64()))
    arrays.append(pa.array([c.op for c in changes], type=pa.string()))  # a StrEnum is its letter
    arrays.append(_commit_times(changes))
    return pa.Table.from_arrays(arrays, schema=schema)


COLUMN_KINDS: dict[pa.DataType, str] = {
    pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64", pa.float32(): "float32",
    pa.float64(): "float64", pa.date32(): "date32", pa.timestamp("us"): "timestamp",
    pa.timestamp("us", tz="UTC"): "timestamp_utc", pa.string(): "string", pa.binary(): "binary",
}  # fmt: skip


def _compiled_columns(fast: Any, changes: list[Change], schema: pa.Schema, width: int) -> dict[int, pa.Array]:
    """The columns of ``changes`` the compiled speed-up builds (by index; -1: the sequences), filled
    in C; the others, and any it declines (a value not of the exact type expected), are left to
    pyarrow's conversion, which decides and raises as it always did."""
    wanted = [(i, schema.field(i).type) for i in range(width) if schema.field(i).type in COLUMN_KINDS]
    wanted.append((-1, pa.int64()))
    built = fast.columns_buffers(changes, [(i, fast.COLUMN_KINDS[COLUMN_KINDS[t]]) for i, t in wanted], True)
    return {
        i: speedups.arrow_array(t, len(changes), got)
        for (i, t), got in zip(wanted, built, strict=True)
        if got is not None
    }


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
