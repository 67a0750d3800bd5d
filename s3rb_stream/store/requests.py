"""Requests made to the object store, counted where they are made (each store adapter calls
:func:`count`): the total per kind as a metric, and, for code that asks, the requests of one piece
of work (a load pass) whatever thread makes them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from s3rb_stream import metrics

_local = threading.local()


def count(kind: str, n: int = 1) -> None:
    """``kind``: list (one page), get, put, delete (one request, however many keys), head."""
    metrics.STORE_REQUESTS.labels(kind).inc(n)
    for tally in getattr(_local, "open", ()):
        tally[kind] += n


@contextmanager
def counted(into: Counter[str] | None = None) -> Iterator[Counter[str]]:
    """Count this thread's requests into ``into`` (a new counter by default) while inside; a
    worker thread of the same piece of work passes the same counter."""
    tally: Counter[str] = into if into is not None else Counter()
    stack: list[Counter[str]] = getattr(_local, "open", [])
    _local.open = [*stack, tally]
    try:
        yield tally
    finally:
        _local.open = stack
