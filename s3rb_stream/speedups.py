"""The compiled speed-ups, where they were built: ``_speedups.pyx``, compiled with Cython by
``pip install`` (setup.py) where a C compiler is. Each has a pure-Python reference next to its
use (the row decoder in :mod:`s3rb_stream.sources.row_decoder`, the batch columns in
:mod:`s3rb_stream.store.parquet`); tests run both and require equal results. Without the build,
the references run, slower (``s3rb-stream check`` warns)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pyarrow as pa

built: ModuleType | None
try:
    from s3rb_stream import _speedups

    built, _why_not = _speedups, ""
except ImportError as _error:  # only where no compiler was found
    built, _why_not = None, str(_error)
compiled: ModuleType | None = built
missing = _why_not


def use(enabled: bool) -> None:
    """Run the compiled speed-ups where built (S3RB_SPEEDUPS, default true), or the references."""
    global compiled, missing
    compiled = built if enabled else None
    missing = _why_not if enabled else "turned off by S3RB_SPEEDUPS=false"


def arrow_array(arrow_type: pa.DataType, length: int, got: tuple[Any, ...]) -> pa.Array:
    """An Arrow array over one column's buffers as ``columns_buffers`` filled them."""
    nulls, validity, data, offsets, _ = got
    buffers = [pa.py_buffer(validity) if nulls else None]
    if offsets is not None:
        buffers.append(pa.py_buffer(offsets))
    buffers.append(pa.py_buffer(data))
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count=nulls)
