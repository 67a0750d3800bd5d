"""One error hierarchy for the whole pipeline.

Every error says what is wrong and what to do, and whether retrying can help::

    S3rbError                      (fatal unless a subclass says otherwise)
    ├── ConfigError                bad settings or tables file
    ├── SourceError
    │   ├── SourceUnavailable      retryable: MySQL unreachable or connection dropped
    │   ├── BinlogSettingsError    binlog off, not ROW/FULL, compressed events
    │   ├── BinlogGone             the changes needed to resume are not on the server (purged)
    │   ├── UnsupportedEventError  an event the reader cannot decode
    │   └── SchemaError            missing table, missing key, unexpected columns
    ├── StoreError                 object store failure
    │   └── StoreUnavailable       retryable
    ├── WarehouseError             target failure
    │   ├── WarehouseUnavailable   retryable
    │   └── FencedOut              a newer lease holder writes the target: this one must stop
    └── CorruptStateError          a checkpoint or batch object that cannot be trusted

Messages never contain secrets: build them from names and settings keys, never from URLs.
"""

from __future__ import annotations

from collections.abc import Iterable


class S3rbError(Exception):
    """Base class. ``hint`` tells the user what to do about it."""

    retryable: bool = False

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(S3rbError):
    """Settings or tables file are invalid."""


class SourceError(S3rbError):
    """The MySQL source refused or could not serve what we need."""


class SourceUnavailable(SourceError):
    retryable = True


class BinlogSettingsError(SourceError):
    """The server's binlog is not configured the way row-based CDC needs."""


class BinlogGone(SourceError):
    """The server cannot send the binlog from where capture must resume: purged, or never had it."""


class UnsupportedEventError(SourceError):
    """A binlog event we cannot decode; skipping it would lose changes."""


class SchemaError(SourceError):
    """A configured table is missing, has no usable key, or changed shape."""


class StoreError(S3rbError):
    """The object store failed."""


class StoreUnavailable(StoreError):
    retryable = True


class WarehouseError(S3rbError):
    """The target warehouse failed."""


class WarehouseUnavailable(WarehouseError):
    retryable = True


class FencedOut(WarehouseError):
    """The warehouse has seen a newer lease generation than ours: another instance took over."""


class CorruptStateError(S3rbError):
    """A state or batch object is unreadable; it is never used as if good."""


class Stopped(S3rbError):
    """A signal (SIGTERM, SIGINT) stopped a batch command between two pages, its progress saved."""


def listed(names: Iterable[object]) -> str:
    """Names in a message as a person writes them (``a, b``), not as Python prints a list."""
    return ", ".join(str(n) for n in names) or "none"
