"""The process-wide switches a command's settings set, once, before it does anything: which
implementation of the hot loops runs (``S3RB_SPEEDUPS``, docs/ARCHITECTURE.md, "Throughput") and
Arrow's allocator ("Memory"). The CLI sets them at start for every command; the library entry
points (``run``, ``snapshot``, ``sync``, ``check``) set them from the settings they are given."""

from __future__ import annotations

from s3rb_stream import speedups
from s3rb_stream.settings import Settings
from s3rb_stream.store import parquet


def configure(settings: Settings) -> None:
    speedups.use(settings.speedups)
    parquet.use_system_allocator()
