"""S3 (or any S3-compatible endpoint) as object store. Credentials: the standard AWS chain."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from s3rb_stream.core.object_keys import join
from s3rb_stream.errors import StoreError, StoreUnavailable
from s3rb_stream.settings import DEFAULT_CODEC, ParquetCodec


class S3Store:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        endpoint_url: str | None = None,
        client: Any = None,
        parquet_codec: ParquetCodec = DEFAULT_CODEC,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.parquet_codec = parquet_codec
        self.endpoint_url = endpoint_url
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{join(self.bucket, self.prefix)}{where}"

    def _fail(self, action: str, key: str, exc: Exception) -> StoreError:
        if isinstance(exc, (EndpointConnectionError, BotoCoreError)) and not isinstance(exc, ClientError):
            return StoreUnavailable(
                f"cannot {action} {key} on {self.describe()}: {type(exc).__name__}", "is the endpoint reachable?"
            )
        code = exc.response.get("Error", {}).get("Code", "?") if isinstance(exc, ClientError) else "?"
        return StoreError(
            f"cannot {action} {key} on {self.describe()}: {code}",
            "check the bucket name and the credentials' permissions",
        )

    def put(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("write", key, exc) from None

    def get(self, key: str) -> bytes | None:
        found = self.get_versioned(key)
        return found[0] if found is not None else None

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete", key, exc) from None

    def size(self, key: str) -> int:
        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("stat", key, exc) from None

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", prefix, exc) from None
        return sorted(keys)

    def check(self) -> None:
        self.put(join(self.prefix, "_s3rb_state/.write-check"), b"ok")

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        try:
            found = self._client.get_object(Bucket=self.bucket, Key=key)
            body: bytes = found["Body"].read()
            return body, str(found["ETag"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail("read", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("read", key, exc) from None

    def put_if(self, key: str, data: bytes, token: str | None) -> str | None:
        """S3 conditional writes: If-None-Match for a new object, If-Match for this version."""
        try:
            if token is None:
                done = self._client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
            else:
                done = self._client.put_object(Bucket=self.bucket, Key=key, Body=data, IfMatch=token)
            return str(done["ETag"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                return None
            raise self._fail("write", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("write", key, exc) from None
