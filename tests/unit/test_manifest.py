from __future__ import annotations

import json

import pytest

from s3rb_stream.store.manifest import ManifestEntry, manifest_json, parse_manifest


def test_manifest_lists_every_object_as_mandatory_with_its_length() -> None:
    data = manifest_json("bkt", [ManifestEntry("cdc/a_1_2.parquet", 123), ManifestEntry("cdc/a_3_4.parquet", 9)])
    assert json.loads(data) == {
        "entries": [
            {"url": "s3://bkt/cdc/a_1_2.parquet", "mandatory": True, "meta": {"content_length": 123}},
            {"url": "s3://bkt/cdc/a_3_4.parquet", "mandatory": True, "meta": {"content_length": 9}},
        ]
    }
    assert parse_manifest(data) == [("s3://bkt/cdc/a_1_2.parquet", True, 123), ("s3://bkt/cdc/a_3_4.parquet", True, 9)]


def test_empty_manifest_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        manifest_json("bkt", [])


@pytest.mark.parametrize(
    "data", [b"[]", b'{"entries": {}}', b'{"entries": [{"url": "http://x"}]}', b'{"entries": [1]}']
)
def test_malformed_manifest(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_manifest(data)
