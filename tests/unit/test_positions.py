from __future__ import annotations

import pytest

from s3rb_stream.core.positions import BinlogPosition, file_index, make_seq


def test_file_index_reads_the_numeric_extension() -> None:
    assert file_index("mariadb-bin.000042") == 42
    assert file_index("mysql-bin.1000000") == 1_000_000


def test_file_without_index_is_rejected() -> None:
    with pytest.raises(ValueError, match="no numeric extension"):
        file_index("binlog")


def test_seq_orders_by_file_then_offset() -> None:
    assert make_seq("b.000001", 4_000_000_000) < make_seq("b.000002", 4)
    assert make_seq("b.000002", 4) < make_seq("b.000002", 5)


def test_seq_fits_signed_64_bits() -> None:
    assert make_seq("b.999999", (1 << 32) - 1) < (1 << 63)


def test_offset_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError):
        make_seq("b.000001", 1 << 32)


def test_positions_compare_across_files() -> None:
    assert BinlogPosition("b.000002", 4).at_or_after(BinlogPosition("b.000001", 999))
    assert not BinlogPosition("b.000001", 10).at_or_after(BinlogPosition("b.000001", 11))
    assert str(BinlogPosition("b.000001", 10)) == "b.000001:10"
