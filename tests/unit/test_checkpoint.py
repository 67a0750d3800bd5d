from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3rb_stream.core.checkpoint import Checkpoint
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.errors import CorruptStateError


def test_round_trip() -> None:
    cp = Checkpoint(BinlogPosition("bin.000003", 1234), "sales", "analytics", datetime(2026, 1, 1, tzinfo=UTC))
    assert Checkpoint.from_json(cp.to_json(), "k") == cp


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'{"version": 99}', b'{"version": 1, "binlog_file": "x"}'])
def test_malformed_checkpoint_is_a_named_error(data: bytes) -> None:
    with pytest.raises(CorruptStateError, match="checkpoint k is unreadable"):
        Checkpoint.from_json(data, "k")
