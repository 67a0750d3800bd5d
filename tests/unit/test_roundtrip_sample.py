"""The roundtrip check's sample covers the whole type contract, and its comparison can fail."""

from __future__ import annotations

import pyarrow as pa

from s3rb_stream.core import roundtrip as sample
from s3rb_stream.core.schema import arrow_type
from s3rb_stream.store.parquet import changes_to_table


def test_the_sample_holds_every_arrow_type_of_the_contract() -> None:
    types = {str(arrow_type(c)) for c in sample.evolved().columns}
    assert types >= {
        "int16", "int32", "int64", "float", "double", "string", "binary", "date32[day]", "timestamp[us]",
        "timestamp[us, tz=UTC]", "decimal128(10, 2)", "decimal128(38, 10)", "decimal128(20, 0)",
    }  # fmt: skip


def test_the_batches_are_what_capture_writes() -> None:
    first = changes_to_table(sample.table(), sample.first_batch(10))
    second = changes_to_table(sample.evolved(), sample.second_batch(20))
    assert first.num_rows == 3 and second.num_rows == 3
    assert second.schema.field("addedLater").type == pa.string()


def test_values_that_came_back_different_are_named() -> None:
    columns = sample.evolved().columns
    rows = sample.expected_rows()
    assert sample.differences(rows, columns) == []
    changed = [rows[0], (*rows[1][:21], "other", *rows[1][22:]), rows[2]]
    assert sample.differences(changed, columns) == ["row 2, column name: got 'other', wrote 'renamed'"]
    assert sample.differences(rows[:2], columns) == ["2 rows came back, 3 expected"]
    json_respaced = [rows[0], (*rows[1][:25], '{ "changed" : true }', *rows[1][26:]), rows[2]]
    assert sample.differences(json_respaced, columns) == []  # JSON compares as JSON
