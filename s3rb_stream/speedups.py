"""The compiled speed-ups, where they were built: ``_speedups.pyx``, compiled with Cython by
``pip install`` (setup.py) where a C compiler is. Each has a pure-Python reference next to its
use (the row decoder in :mod:`s3rb_stream.sources.row_decoder`, the batch columns in
:mod:`s3rb_stream.store.parquet`); tests run both and require equal results. Without the build,
the references run, slower (``s3rb-stream check`` and the start of a run warn)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pyarrow as pa

from s3rb_stream.log import get_logger

log = get_logger(__name__)

built: ModuleType | None
try:
    from s3rb_stream import _speedups

    built, _why_not = _speedups, ""
except ImportError as _error:  # only where no compiler was found
    built, _why_not = None, str(_error)
compiled: ModuleType | None = built
missing = _why_not


_warned = False


def use(enabled: bool) -> None:
    """Run the compiled speed-ups where built (S3RB_SPEEDUPS, default true), or the references.
    Wanted and not built (a ``pip install`` that fell back, setup.py) is said once per process: pip
    shows the build's own warning only with ``-v``."""
    global compiled, missing, _warned
    compiled = built if enabled else None
    missing = _why_not if enabled else "turned off by S3RB_SPEEDUPS=false"
    if enabled and built is None and not _warned:
        _warned = True
        log.warning(
            "the compiled speed-ups were not built: the pure-Python references run, about half as fast;"
            " reinstall where a C compiler is (S3RB_REQUIRE_SPEEDUPS=1 makes a failed compile an error)",
            error=missing,
        )


def arrow_array(arrow_type: pa.DataType, length: int, got: tuple[Any, ...]) -> pa.Array:
    """An Arrow array over one column's buffers as ``columns_buffers`` filled them."""
    nulls, validity, data, offsets, _ = got
    buffers = [pa.py_buffer(validity) if nulls else None]
    if offsets is not None:
        buffers.append(pa.py_buffer(offsets))
    buffers.append(pa.py_buffer(data))
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count=nulls)
