from __future__ import annotations

import pytest

from s3rb_stream.core.preflight import binlog_problems, require_binlog_settings
from s3rb_stream.errors import BinlogSettingsError

GOOD = {
    "log_bin": "ON",
    "binlog_format": "ROW",
    "binlog_row_image": "FULL",
    "binlog_row_metadata": "FULL",
    "log_bin_compress": "OFF",
}


def test_good_settings_pass() -> None:
    assert binlog_problems(GOOD) == []


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("log_bin", "OFF", "log_bin is OFF"),
        ("binlog_format", "STATEMENT", "binlog_format=STATEMENT"),
        ("binlog_format", "MIXED", "set binlog_format=ROW"),
        ("binlog_row_image", "MINIMAL", "binlog_row_image=MINIMAL"),
        ("binlog_row_metadata", "MINIMAL", "binlog_row_metadata=MINIMAL"),
        ("log_bin_compress", "ON", "log_bin_compress=ON"),
        ("binlog_transaction_compression", "ON", "binlog_transaction_compression=ON"),
    ],
)
def test_each_bad_setting_is_named(name: str, value: str, needle: str) -> None:
    problems = binlog_problems({**GOOD, name: value})
    assert len(problems) == 1 and needle in problems[0]
    with pytest.raises(BinlogSettingsError, match="cannot be captured"):
        require_binlog_settings({**GOOD, name: value}, "server")
