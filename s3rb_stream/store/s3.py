"""S3 (or any S3-compatible endpoint) as object store. Credentials: the standard AWS chain."""

from __future__ import annotations

import builtins
from typing import Any

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from s3rb_stream.core.object_keys import join, write_check_key
from s3rb_stream.errors import ConfigError, StoreError, StoreUnavailable
from s3rb_stream.settings import DEFAULT_CODEC, ParquetCodec
from s3rb_stream.store.base import StoredObject
from s3rb_stream.store.requests import count

# S3's answers that mean "try again later"; any other error code is about the request or the
# credentials, and retrying cannot fix it.
_OUTAGE_CODES = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "500", "502", "503", "504"}
_HINTS = {
    "AccessDenied": "the credentials may not do this: allow s3:GetObject, PutObject, DeleteObject and ListBucket on"
    " the bucket and prefix",
    "InvalidAccessKeyId": "the AWS access key is not known: check AWS_ACCESS_KEY_ID (or the role in use)",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key: check AWS_SECRET_ACCESS_KEY",
    "ExpiredToken": "the AWS session token expired: renew the credentials",
    "NoSuchBucket": "the bucket does not exist: create it, or fix S3RB_STORE_URL",
}
CONDITIONAL_WRITES_BOTOCORE = "1.35.69"  # the first botocore that sends IfMatch on PutObject


def check_conditional_writes(client: Any) -> None:
    """The lease writes with If-None-Match and If-Match; an older botocore would refuse the
    parameter at the first renewal, so refuse to start instead."""
    members = client.meta.service_model.operation_model("PutObject").input_shape.members
    if "IfMatch" not in members or "IfNoneMatch" not in members:
        raise ConfigError(
            f"botocore {botocore.__version__} cannot make S3 conditional writes (If-Match), which the lease needs",
            f"install boto3/botocore {CONDITIONAL_WRITES_BOTOCORE} or newer: pip install -U boto3",
        )


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
        check_conditional_writes(self._client)

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{join(self.bucket, self.prefix)}{where}"

    def _fail(self, action: str, key: str, exc: Exception) -> StoreError:
        """A terminal error for what retrying cannot fix (credentials, permissions, a bad request),
        an outage (retried with backoff) for the rest."""
        what = f"cannot {action} {key} on {self.describe()}"
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return StoreError(
                f"{what}: no AWS credentials were found",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run with an IAM role"
                " (EC2 instance profile, EKS service account)",
            )
        if isinstance(exc, ParamValidationError):
            return StoreError(f"{what}: the S3 client refused the request: {exc}", "please report this")
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", "?"))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in _OUTAGE_CODES or status in _OUTAGE_CODES:
                return StoreUnavailable(f"{what}: {code}", "S3 asked to try again later; retried with backoff")
            return StoreError(f"{what}: {code}", _HINTS.get(code, "check the bucket name and the credentials"))
        return StoreUnavailable(f"{what}: {type(exc).__name__}", "is the endpoint reachable?")

    def put(self, key: str, data: bytes) -> None:
        count("put")
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("write", key, exc) from None

    def get(self, key: str) -> bytes | None:
        found = self.get_versioned(key)
        return found[0] if found is not None else None

    def delete(self, key: str) -> None:
        count("delete")
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete", key, exc) from None

    def delete_many(self, keys: builtins.list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes up to 1,000 keys
            chunk = keys[start : start + 1000]
            count("delete")
            try:
                done = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._fail("delete", chunk[0], exc) from None
            for error in done.get("Errors", []):  # per key: the request itself succeeded
                code = str(error.get("Code", "?"))
                failure = ClientError({"Error": {"Code": code}}, "DeleteObjects")
                raise self._fail("delete", str(error.get("Key", chunk[0])), failure)

    def size(self, key: str) -> int:
        count("head")
        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("stat", key, exc) from None

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def list(self, prefix: str) -> list[str]:
        return [entry.key for entry in self.entries(prefix)]

    def entries(self, prefix: str) -> builtins.list[StoredObject]:
        found: builtins.list[StoredObject] = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                count("list")
                found.extend(
                    StoredObject(obj["Key"], int(obj["Size"]), obj["LastModified"]) for obj in page.get("Contents", [])
                )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", prefix, exc) from None
        return sorted(found, key=lambda entry: entry.key)

    def check(self) -> None:
        self.put(write_check_key(self.prefix), b"ok")

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        count("get")
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
        count("put")
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
