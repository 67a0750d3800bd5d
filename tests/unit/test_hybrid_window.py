"""The hybrid look-back window: which rows read again are left out, and what it keeps."""

from __future__ import annotations

from s3rb_stream.core.hybrid_window import changed, prune, row_digest, window_id
from s3rb_stream.core.query_state import HybridState


def test_a_row_is_left_out_only_when_every_value_is_as_last_read() -> None:
    row = (b"7", b"lead 7", b"2026-01-01 10:00:00")
    window = {window_id(b"7"): (row_digest(row), "2026-01-01 10:00:00")}
    assert not changed(window, window_id(b"7"), row_digest(row))
    assert changed(window, window_id(b"7"), row_digest((b"7", b"lead 7!", b"2026-01-01 10:00:00")))
    assert changed(window, window_id(b"8"), row_digest(row))  # never read: written
    assert row_digest((b"1", None)) != row_digest((b"1", b""))  # NULL is not an empty string


def test_the_window_keeps_what_a_later_sync_can_read_again_and_survives_its_state_file() -> None:
    window = {"a": ("d1", "2026-01-01 10:00:00"), "b": ("d2", "2026-01-01 10:05:00.5"), "z": ("d3", "0000-00-00")}
    kept = prune(window, "2026-01-01 10:01:00.000000")
    assert kept == {"b": ("d2", "2026-01-01 10:05:00.5"), "z": ("d3", "0000-00-00")}  # an odd date stays
    state = HybridState("2026-01-01 10:05:00.5", b"b", 41, 3, kept)
    assert HybridState.from_json(state.to_json(), "t") == state
    older = b'{"version": 1, "last_ts": "x", "last_id": "YQ==", "last_seq": 1, "rows": 1}'
    assert HybridState.from_json(older, "t").window == {}  # a state from before the window: all rows written
