"""Object stores (local directory, S3) and Parquet encoding of batches."""

from __future__ import annotations

from s3rb_stream.settings import Settings
from s3rb_stream.store.base import ObjectStore


def open_store(settings: Settings) -> ObjectStore:
    location = settings.store()
    if location.scheme == "file":
        from s3rb_stream.store.local import LocalStore

        return LocalStore(location.root, settings.batch_codec())
    from s3rb_stream.store.s3 import S3Store

    return S3Store(
        location.root, location.prefix, endpoint_url=settings.s3_endpoint_url, parquet_codec=settings.batch_codec()
    )
