"""The roundtrip check's sample covers the whole type contract, and its comparison can fail."""

from __future__ import annotations

import pyarrow as pa

from s3rb_stream.core import roundtrip as sample
from s3rb_stream.core import roundtrip_edges as edges
from s3rb_stream.core.object_keys import segment
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


def test_a_cluster_older_than_patch_183_is_named_with_what_to_do() -> None:
    """ "Cluster versions for Amazon Redshift": patch 183 (1.0.72982) added subqueries as MERGE's source."""
    redshift = "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017, Redshift {}"
    assert edges.cluster_version(redshift.format("1.0.121010")) == "1.0.121010"
    assert edges.version_problem(redshift.format("1.0.72982")) is None
    assert edges.version_problem(redshift.format("1.0.73016")) is None  # Serverless, patch 183
    problem = edges.version_problem(redshift.format("1.0.72503"))  # patch 182
    assert problem is not None and problem.startswith("cluster version 1.0.72503 is older than patch 183")
    assert "pending maintenance" in problem
    assert (
        edges.version_problem("PostgreSQL 15.2")
        == "SELECT version() names no Redshift cluster version: 'PostgreSQL 15.2'"
    )


def test_values_at_the_limits_stay_whole_and_one_byte_over_is_cut_on_a_character() -> None:
    limits = {"text": edges.VARCHAR_LIMIT, "bytes": edges.VARBYTE_LIMIT}
    at, over = edges.limits_expected(limits)
    assert (len(at[1].encode()), len(at[2])) == (65535, 1_024_000)  # exactly at both: unchanged
    assert at == edges.LIMITS_WRITTEN[0]
    assert (len(over[1].encode()), len(over[2])) == (65534, 1_024_000)  # cut before the split "ü"
    assert edges.limits_expected({}) == edges.LIMITS_WRITTEN  # no limit: whole
    columns = edges.LIMITS.columns
    assert edges.row_differences([at, over], [at, over], columns) == []
    driver_hex = (1, at[1], "\\x" + at[2].hex())  # VARBYTE as the driver may hand it over
    assert edges.row_differences([driver_hex, over], [at, over], columns) == []
    whole = edges.LIMITS_WRITTEN[1]
    assert edges.row_differences([at, whole], [at, over], columns) == [
        "row 2, column text: got 65536 bytes ('üüüüüüüüüüüü'...), expected 65534 bytes ('üüüüüüüüüüüü'...)",
        "row 2, column bytes: got 1024001 bytes (b'\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02'...),"
        " expected 1024000 bytes (b'\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02\\x02'...)",
    ]
    assert edges.row_differences([at], [at, over], columns)[0].startswith("1 rows came back, 2 expected")


def test_the_edge_tables_are_what_they_test() -> None:
    assert segment(edges.ENCODED.name) == "Stra%C3%9Fe%2050%25"  # COPY's manifest must take such keys
    assert [c.name for c in edges.EVOLVE_AFTER.columns if c.renamed_from] == ["newName"]
    assert [c.default for c in edges.EVOLVE_AFTER.columns if c.default] == ["'dflt'"]
    first, update = edges.blanks_batches(1)
    assert [c.values[0] for c in [*first, *update]] == ["a", "a ", "a "]
    parts = edges.parts_batches(1)
    assert len(parts) == 3 and sorted(c.values[0] for batch in parts for c in batch) == [1, 1, 2, 3]
