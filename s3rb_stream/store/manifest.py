"""COPY manifests: the exact list of batch objects one Redshift load reads.

Redshift needs ``meta.content_length`` for every entry when it loads Parquet through a manifest,
and ``mandatory: true`` makes a missing object fail the COPY instead of loading less.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ManifestEntry:
    key: str
    size: int


def manifest_json(bucket: str, entries: Sequence[ManifestEntry]) -> bytes:
    if not entries:
        raise ValueError("a COPY manifest needs at least one object")
    return json.dumps(
        {
            "entries": [
                {"url": f"s3://{bucket}/{e.key}", "mandatory": True, "meta": {"content_length": e.size}}
                for e in entries
            ]
        },
        indent=1,
    ).encode()


def parse_manifest(data: bytes) -> list[tuple[str, bool, int | None]]:
    """(url, mandatory, content_length) per entry; what an emulator of COPY needs to read."""
    raw = json.loads(data)
    entries = raw.get("entries") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ValueError("a manifest is a JSON object with an 'entries' list")
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError(f"manifest entry is not an object: {entry!r}")
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith("s3://"):
            raise ValueError(f"manifest entry without an s3:// url: {entry!r}")
        length = (entry.get("meta") or {}).get("content_length")
        out.append((url, bool(entry.get("mandatory", False)), int(length) if length is not None else None))
    return out
