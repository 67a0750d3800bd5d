"""The object store contract the pipeline relies on."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from s3rb_stream.settings import ParquetCodec


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # UTC


class ObjectStore(Protocol):
    """Keys are ``/``-separated and relative to the store root.

    ``put`` is atomic: a reader sees the whole object or nothing (rename on disk, PUT on S3).
    """

    prefix: str
    parquet_codec: ParquetCodec  # how batch objects written to this store are compressed

    def describe(self) -> str: ...

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    def list(self, prefix: str) -> list[str]:
        """All keys that start with ``prefix``, sorted."""

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when it does not exist."""

    def delete_many(self, keys: builtins.list[str]) -> None:
        """Remove the objects (S3: up to 1,000 per request); those that do not exist are skipped."""

    def entries(self, prefix: str) -> builtins.list[StoredObject]:
        """Like :meth:`list`, with each object's size and time of writing."""

    def check(self) -> None:
        """Raise a clear error when the store cannot be written."""

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and a token of this version, or None when it does not exist."""

    def put_if(self, key: str, data: bytes, token: str | None) -> str | None:
        """Write only if the object is still at ``token`` (None: only if it does not exist).
        The new version's token, or None when another writer got there first."""
