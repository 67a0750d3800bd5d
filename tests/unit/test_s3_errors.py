"""What an S3 error means: retrying helps only for an outage; credentials, permissions and bad
requests end the run with what to do. And the installed botocore must make conditional writes."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.model import ServiceModel

from s3rb_stream.errors import ConfigError, StoreUnavailable
from s3rb_stream.retry import transient
from s3rb_stream.store.s3 import S3Store, check_conditional_writes


def store() -> S3Store:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return S3Store("bucket", "cdc", client=client)


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    ("error", "retried", "words"),
    [
        (NoCredentialsError(), False, "no AWS credentials were found (set AWS_ACCESS_KEY_ID"),
        (client_error("AccessDenied", 403), False, "AccessDenied (the credentials may not do this"),
        (client_error("InvalidAccessKeyId", 403), False, "check AWS_ACCESS_KEY_ID"),
        (client_error("NoSuchBucket", 404), False, "create it, or fix S3RB_STORE_URL"),
        (client_error("SlowDown", 503), True, "SlowDown"),
        (client_error("InternalError", 500), True, "InternalError"),
        (EndpointConnectionError(endpoint_url="http://nowhere"), True, "is the endpoint reachable?"),
    ],
)
def test_what_is_retried_and_what_ends_the_run(error: Exception, retried: bool, words: str) -> None:
    failure = store()._fail("write", "cdc/k", error)
    assert transient(failure) is retried and isinstance(failure, StoreUnavailable) is retried
    assert words in str(failure) and str(failure).startswith("cannot write cdc/k on s3://bucket/cdc")


def test_a_botocore_without_conditional_writes_is_refused_at_start() -> None:
    check_conditional_writes(store()._client)  # the installed one has them
    loader = botocore.session.get_session().get_component("data_loader")
    model = copy.deepcopy(loader.load_service_model("s3", "service-2"))
    del model["shapes"]["PutObjectRequest"]["members"]["IfMatch"]
    older = SimpleNamespace(meta=SimpleNamespace(service_model=ServiceModel(model, "s3")))
    with pytest.raises(ConfigError, match=r"cannot make S3 conditional writes .* 1\.35\.69 or newer"):
        check_conditional_writes(older)
