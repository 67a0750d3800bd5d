"""The emulator's COPY as pure logic: statement parsing, manifest handling, SQL literals."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_stream.store.manifest import ManifestEntry, manifest_json
from s3rb_stream.testing.redshift_emulator.copy import (
    CopyError,
    copy_as_statement,
    fitting_columns,
    parse_copy,
    raise_statement,
    sql_value,
)

COPY = "COPY \"_s3rb_stage\" FROM 's3://b/m.manifest' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST"


def parquet(table: pa.Table, compression: str = "snappy") -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=compression)
    return sink.getvalue()


def test_parse_copy() -> None:
    command = parse_copy(COPY)
    assert command is not None and (command.table, command.url, command.manifest) == (
        '"_s3rb_stage"',
        "s3://b/m.manifest",
        True,
    )
    assert parse_copy("SELECT 1") is None
    with pytest.raises(CopyError, match="PARQUET"):
        parse_copy("COPY t FROM 's3://b/x' IAM_ROLE 'r' FORMAT AS CSV")
    with pytest.raises(CopyError, match="IAM_ROLE"):
        parse_copy("COPY t FROM 's3://b/x' CREDENTIALS 'aws_iam_role=r' FORMAT AS PARQUET")


@pytest.mark.parametrize("option", ["REGION 'us-east-1'", "MAXERROR 10", "ACCEPTANYDATE", "TIMEFORMAT 'auto'"])
def test_copy_refuses_parameters_columnar_formats_do_not_take(option: str) -> None:
    first = option.split()[0]
    with pytest.raises(CopyError, match=f"^{first} argument is not supported for PARQUET based COPY"):
        parse_copy(f"{COPY} {option}")


def test_copy_takes_the_parameters_columnar_formats_allow() -> None:
    command = parse_copy(f"{COPY} ACCEPTINVCHARS AS '?' STATUPDATE OFF SERIALIZETOJSON")
    assert command is not None and command.manifest


@pytest.mark.parametrize(
    ("parquet_type", "fits", "does_not_fit"),
    [
        (pa.int64(), ["bigint"], ["integer", "numeric(19,0)", "character varying(20)"]),
        (pa.int32(), ["integer"], ["bigint", "smallint"]),
        (pa.string(), ["character varying(10)", "character(1)", "jsonb"], ["numeric(10,2)", "integer", "text"]),
        (pa.decimal128(10, 2), ["numeric(10,2)"], ["numeric(12,2)", "numeric(10,3)", "double precision"]),
        (pa.timestamp("us", tz="UTC"), ["timestamp with time zone"], ["timestamp without time zone"]),
        (pa.binary(), ["bytea"], ["character varying(10)"]),
    ],
)
def test_each_parquet_type_fits_only_its_own_column_type(
    parquet_type: pa.DataType, fits: list[str], does_not_fit: list[str]
) -> None:
    pattern = re.compile(fitting_columns(parquet_type))
    assert all(pattern.search(t) for t in fits)
    assert not any(pattern.search(t) for t in does_not_fit)


def test_values_become_quoted_literals() -> None:
    assert sql_value(None) == "NULL"
    assert sql_value(True) == "TRUE"
    assert sql_value(18446744073709551615) == "'18446744073709551615'"
    assert sql_value(Decimal("1.50")) == "'1.50'"
    assert sql_value("it's") == "'it''s'"
    assert sql_value(b"\x00\xff") == "'\\x00ff'"
    assert sql_value(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "'2024-01-02T03:04:05+00:00'"
    assert sql_value(date(2024, 2, 29)) == "'2024-02-29'"


def test_copy_reads_exactly_the_manifest_objects_in_order() -> None:
    objects = {
        "s3://b/a.parquet": parquet(pa.table({"id": [1, 2], "v": ["x", None]})),
        "s3://b/b.parquet": parquet(pa.table({"id": [3], "v": ["z"]})),
        "s3://b/unlisted.parquet": parquet(pa.table({"id": [99], "v": ["no"]})),
    }
    objects["s3://b/m.manifest"] = manifest_json(
        "b", [ManifestEntry("a.parquet", len(objects["s3://b/a.parquet"])), ManifestEntry("b.parquet", 1)]
    )
    block = copy_as_statement(COPY, objects.get)
    assert block is not None and block.startswith("DO $s3rb$")
    assert "VALUES\n('1', 'x'),\n('2', NULL),\n('3', 'z');" in block
    assert "99" not in block


def test_codecs_the_docs_do_not_name_for_parquet_fail_the_copy() -> None:
    objects = {"s3://b/a.parquet": parquet(pa.table({"id": [1]}), compression="zstd")}
    objects["s3://b/m.manifest"] = manifest_json("b", [ManifestEntry("a.parquet", 1)])
    with pytest.raises(CopyError, match="compressed with ZSTD"):
        copy_as_statement(COPY, objects.get)
    for codec in ("snappy", "gzip", "none"):
        objects["s3://b/a.parquet"] = parquet(pa.table({"id": [1]}), compression=codec)
        assert copy_as_statement(COPY, objects.get) is not None


def test_missing_objects_and_bad_parquet_fail_the_copy() -> None:
    with pytest.raises(CopyError, match=r"manifest s3://b/m\.manifest does not exist"):
        nothing: dict[str, bytes] = {}
        copy_as_statement(COPY, nothing.get)
    listing = {"s3://b/m.manifest": manifest_json("b", [ManifestEntry("gone.parquet", 1)])}
    with pytest.raises(CopyError, match=r"mandatory object s3://b/gone\.parquet"):
        copy_as_statement(COPY, listing.get)
    listing["s3://b/gone.parquet"] = b"PAR1 truncated"
    with pytest.raises(CopyError, match="not a valid Parquet file"):
        copy_as_statement(COPY, listing.get)


@pytest.mark.parametrize(
    ("column", "shown"),
    [
        (pa.array([1], pa.uint32()), "n (uint32)"),
        (pa.array([1], pa.time64("us")), "n (time64[us])"),
        (pa.array([Decimal(1)], pa.decimal256(40, 0)), "n (decimal256(40, 0))"),
    ],
)
def test_types_redshift_cannot_load_fail_the_copy(column: pa.Array, shown: str) -> None:
    objects = {"s3://b/a.parquet": parquet(pa.table({"id": [1], "n": column}))}
    objects["s3://b/m.manifest"] = manifest_json("b", [ManifestEntry("a.parquet", 1)])
    with pytest.raises(CopyError, match=rf"column types Redshift cannot load: {re.escape(shown)}"):
        copy_as_statement(COPY, objects.get)


def test_raise_statement_quotes_the_message() -> None:
    assert raise_statement("it's 100%") == ("DO $s3rb$ BEGIN RAISE EXCEPTION USING MESSAGE = 'it''s 100%'; END $s3rb$")


def test_a_doubled_quote_in_the_manifest_url_is_one_quote() -> None:
    command = parse_copy(
        "COPY \"_s3rb_stage\" FROM 's3://b/cdc/o''rders/m.manifest' IAM_ROLE 'arn:x' FORMAT AS PARQUET MANIFEST"
    )
    assert command is not None and command.url == "s3://b/cdc/o'rders/m.manifest"
