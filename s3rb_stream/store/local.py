"""A local directory as object store: the embedded default."""

from __future__ import annotations

import builtins
import errno
import fcntl
import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from s3rb_stream import faultpoints
from s3rb_stream.core.object_keys import write_check_key
from s3rb_stream.errors import StoreError, StoreUnavailable
from s3rb_stream.settings import DEFAULT_CODEC, ParquetCodec
from s3rb_stream.store.base import StoredObject
from s3rb_stream.store.requests import count


class LocalStore:
    prefix = ""

    def __init__(self, root: str, parquet_codec: ParquetCodec = DEFAULT_CODEC) -> None:
        self.root = Path(root)
        self.parquet_codec = parquet_codec

    def describe(self) -> str:
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StoreError(f"object key {key!r} escapes the store root")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write to a temporary file, fsync, rename: never a half-written object under ``key``."""
        count("put")
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as fh:
                    view, half = memoryview(data), len(data) // 2
                    fh.write(view[:half])
                    faultpoints.reached("store.write")  # a fault test may kill us with half an object written
                    fh.write(view[half:])
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                # Nothing was written under the key and the checkpoint stays put: free space and the
                # daemon goes on from where it was.
                raise StoreUnavailable(
                    f"cannot write {key} to {self.describe()}: the disk is full ({exc.strerror})",
                    "free space on that disk; the daemon retries with backoff and loses nothing",
                ) from None
            raise StoreError(
                f"cannot write {key} to {self.describe()}: {exc.strerror}",
                "check that the directory is writable and the disk has space",
            ) from None

    def get(self, key: str) -> bytes | None:
        count("get")
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {key} from {self.describe()}: {exc.strerror}") from None

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def delete_many(self, keys: builtins.list[str]) -> None:
        count("delete")
        for key in keys:
            try:
                self._path(key).unlink(missing_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot delete {key} from {self.describe()}: {exc.strerror}") from None

    def entries(self, prefix: str) -> builtins.list[StoredObject]:
        found = []
        for key in self.list(prefix):
            try:
                stat = self._path(key).stat()
            except FileNotFoundError:
                continue  # removed meanwhile
            found.append(StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
        return found

    def list(self, prefix: str) -> list[str]:
        count("list")
        base = self.root / prefix
        start = base if base.is_dir() else base.parent
        if not start.is_relative_to(self.root):  # no prefix, and no store yet: nothing outside it
            start = self.root
        if not start.exists():
            return []
        keys = []
        for path in start.rglob("*"):
            if path.is_file() and not path.name.startswith((".tmp-", ".")):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def check(self) -> None:
        self.put(write_check_key(self.prefix), b"ok")

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        data = self.get(key)
        return (data, hashlib.sha256(data).hexdigest()) if data is not None else None

    def put_if(self, key: str, data: bytes, token: str | None) -> str | None:
        """Compare and write under an exclusive lock on a sibling lock file: one writer at a time."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.name}.lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                current = self.get_versioned(key)
                if (current[1] if current else None) != token:
                    return None
                self.put(key, data)
                return hashlib.sha256(data).hexdigest()
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
