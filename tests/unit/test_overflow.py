"""Overflow policies: fail names the column, truncate keeps whole characters, null and JSON."""

from __future__ import annotations

import pyarrow as pa
import pytest

from s3rb_stream.core.overflow import Overflow, fit_table, truncate_utf8
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import WarehouseError
from s3rb_stream.sql.redshift import byte_limits

DATA = pa.table({"id": [1, 2, 3], "body": ["ok", "é" * 6, None], "doc": ['{"a": 1}', '{"k": "xxxxxxxx"}', None]})


def test_truncation_never_splits_a_character() -> None:
    assert truncate_utf8("é" * 6, 5) == "éé"
    assert truncate_utf8("a😀b", 4) == "a"
    assert truncate_utf8("abc", 10) == "abc"


def test_fail_names_table_column_count_and_sizes() -> None:
    with pytest.raises(
        WarehouseError, match=r"1 value\(s\) of s\.t\.body exceed the target's 8 bytes \(the longest has 12\)"
    ):
        fit_table(DATA, {"body": 8}, set(), Overflow(), "s.t")


def test_policies_per_table_and_per_column() -> None:
    fitted, done = fit_table(DATA, {"body": 8, "doc": 10}, {"doc"}, Overflow("truncate"), "s.t")
    assert fitted.column("body").to_pylist() == ["ok", "éééé", None]
    assert fitted.column("doc").to_pylist() == ['{"a": 1}', None, None]  # JSON cannot be cut: nulled
    assert [(d.column, d.action, d.count) for d in done] == [("body", "truncated", 1), ("doc", "nulled", 1)]
    fitted, done = fit_table(DATA, {"body": 8}, set(), Overflow("fail", {"body": "null"}), "s.t")
    assert fitted.column("body").to_pylist() == ["ok", None, None]
    unchanged, none = fit_table(DATA, {"body": 100}, set(), Overflow(), "s.t")
    assert unchanged.equals(DATA) and none == []


def test_only_columns_that_can_overflow_are_checked() -> None:
    table = SourceTable(
        "s",
        "t",
        (
            SourceColumn("id", "int", "int"),
            SourceColumn("name", "varchar", "varchar(100)", char_length=100),  # 400 bytes: fits
            SourceColumn("big", "varchar", "varchar(20000)", char_length=20000),  # 80,000 bytes: capped
            SourceColumn("body", "mediumtext", "mediumtext", char_length=16777215),
            SourceColumn("doc", "json", "json"),
        ),
        ("id",),
    )
    assert byte_limits(table) == {"big": 65535, "body": 65535, "doc": 65535}


def test_binary_values_over_their_varbyte_are_cut_at_the_limit_or_nulled() -> None:
    data = pa.table({"b": pa.array([b"\x00" * 10, b"ok", None], pa.binary())})
    fitted, done = fit_table(data, {"b": 4}, set(), Overflow("truncate"), "s.t")
    assert fitted.column("b").to_pylist() == [b"\x00" * 4, b"ok", None]
    assert [(d.column, d.action, d.count, d.longest) for d in done] == [("b", "truncated", 1, 10)]
    with pytest.raises(WarehouseError, match=r"1 value\(s\) of s\.t\.b exceed the target's 4 bytes"):
        fit_table(data, {"b": 4}, set(), Overflow(), "s.t")


def test_only_blobs_longer_than_redshifts_varbyte_are_checked() -> None:
    table = SourceTable(
        "s",
        "t",
        (
            SourceColumn("id", "int", "int"),
            SourceColumn("small", "varbinary", "varbinary(100)", char_length=100),
            SourceColumn("blob", "blob", "blob", char_length=65535),
            SourceColumn("long", "longblob", "longblob", char_length=4294967295),
        ),
        ("id",),
    )
    assert byte_limits(table) == {"long": 1_024_000}
