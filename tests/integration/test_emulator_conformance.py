"""The Redshift emulator refuses what Redshift refuses and accepts what it accepts, statement by
statement through redshift_connector, as the Amazon Redshift Database Developer Guide describes.

One test per behaviour; the emulator's README has the table of behaviours, doc pages and tests.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redshift_connector

from s3rb_stream.store.manifest import ManifestEntry, manifest_json
from s3rb_stream.testing.s3server import MotoS3Server
from tests.integration.conftest import emulator_isolation

ROLE = "arn:aws:iam::123456789012:role/conformance"
BUCKET = "conformance"
_schemas = itertools.count(1)
Error = redshift_connector.error.ProgrammingError


def connect(port: int, **options: Any) -> Any:
    return redshift_connector.connect(
        host="127.0.0.1", port=port, user="postgres", password="", database="postgres", ssl=False, **options
    )


@pytest.fixture
def rs(emulator_port: int) -> Iterator[Any]:
    """An autocommit connection in a fresh schema of its own (first on the search path)."""
    conn = connect(emulator_port)
    conn.autocommit = True
    schema = f"conf{next(_schemas)}"
    cur = conn.cursor()
    cur.execute(f"CREATE SCHEMA {schema}")
    cur.execute(f"SET search_path TO {schema}, public")
    try:
        yield conn
    finally:
        conn.close()


def run(conn: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql, params)
    return [tuple(r) for r in cur.fetchall()] if cur.description else []


def fails(conn: Any, sql: str, match: str) -> None:
    with pytest.raises(Error, match=match):
        run(conn, sql)
    if not conn.autocommit:
        conn.rollback()


def test_quoted_identifiers_fold_to_lower_case_by_default(rs: Any) -> None:
    """ "Names and identifiers"; "enable_case_sensitive_identifier" (default false)."""
    run(rs, 'CREATE TABLE "Orders" ("createdAt" INT, "Id" INT)')
    schema = run(rs, "SELECT current_schema()")[0][0]
    tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1"
    assert run(rs, tables, (schema,)) == [("orders",)]
    columns = "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
    assert sorted(run(rs, columns, (schema, "orders"))) == [("createdat",), ("id",)]
    assert run(rs, columns, (schema, "Orders")) == []  # a lookup by the source's spelling finds nothing
    run(rs, 'INSERT INTO orders ("CREATEDAT", id) VALUES (1, 2)')
    assert run(rs, 'SELECT "createdAt", createdat FROM "ORDERS"') == [(1, 1)]
    fails(rs, 'CREATE TABLE "orders" (x INT)', "already exists")  # names that differ only in case collide
    assert run(rs, "SHOW enable_case_sensitive_identifier") == [("off",)]

    run(rs, "SET enable_case_sensitive_identifier TO true")
    assert run(rs, "SHOW enable_case_sensitive_identifier") == [("on",)]
    run(rs, 'CREATE TABLE "Orders" ("createdAt" INT)')  # now a second table, its case kept
    assert run(rs, tables, (schema,)) == [("Orders",), ("orders",)]
    run(rs, "RESET enable_case_sensitive_identifier")
    assert run(rs, 'SELECT count(*) FROM "Orders"') == [(1,)]  # folded again: the first table


def test_create_table_as_gives_an_expression_its_default_name(rs: Any) -> None:
    """ "CREATE TABLE AS": "Default column names are used for expressions"; JSON_PARSE → json_parse."""
    run(rs, "CREATE TABLE src (id INT, doc VARCHAR(100))")
    run(rs, "INSERT INTO src VALUES (1, '{\"a\": 1}')")
    run(rs, "CREATE TEMP TABLE made AS SELECT id, JSON_PARSE(doc) FROM src")
    assert [d[0] for d in rs.cursor().execute("SELECT * FROM made").description] == ["id", "json_parse"]
    run(rs, "CREATE TEMP TABLE named AS SELECT id, JSON_PARSE(doc) AS doc FROM src")
    assert [d[0] for d in rs.cursor().execute("SELECT * FROM named").description] == ["id", "doc"]
    fails(rs, "CREATE TEMP TABLE twice AS SELECT JSON_PARSE(doc), JSON_PARSE(doc) FROM src", "more than once")


def test_primary_key_and_unique_are_not_enforced(rs: Any) -> None:
    """ "Defining table constraints": informational only; NOT NULL is enforced."""
    run(rs, "CREATE TABLE keyed (id INT PRIMARY KEY, code VARCHAR(4) UNIQUE, PRIMARY KEY (id), UNIQUE (code))")
    run(rs, "INSERT INTO keyed VALUES (1, 'a'), (1, 'a')")
    assert run(rs, "SELECT count(*) FROM keyed") == [(2,)]
    fails(rs, "INSERT INTO keyed VALUES (NULL, 'b')", "null value")


def test_alter_column_type_only_widens_a_varchar_outside_a_transaction(emulator_port: int, rs: Any) -> None:
    """ "ALTER TABLE": VARCHAR size only, no transaction block, no default, not below the data."""
    run(rs, "CREATE TABLE narrow (v VARCHAR(4), d VARCHAR(4) DEFAULT 'x', n INT)")
    run(rs, "INSERT INTO narrow (v, n) VALUES ('abcd', 1)")
    run(rs, "ALTER TABLE narrow ALTER COLUMN v TYPE VARCHAR(8)")
    run(rs, "INSERT INTO narrow (v) VALUES ('abcdéfg')")  # 8 bytes: fits only after the widening
    fails(rs, "ALTER TABLE narrow ALTER COLUMN d TYPE VARCHAR(8)", "default value")
    fails(rs, "ALTER TABLE narrow ALTER COLUMN n TYPE BIGINT", "only changes a VARCHAR's size")
    fails(rs, "ALTER TABLE narrow ALTER COLUMN v TYPE VARCHAR(2)", "greater or equal to current maximum")
    fails(rs, "INSERT INTO narrow (v) VALUES ('abcdéfgh')", "check constraint")  # 9 bytes > 8

    tx = connect(emulator_port)  # autocommit off: redshift_connector opens a transaction block
    try:
        run(tx, f"SET search_path TO {run(rs, 'SELECT current_schema()')[0][0]}")
        fails(tx, "ALTER TABLE narrow ALTER COLUMN v TYPE VARCHAR(16)", "cannot run inside a transaction block")
    finally:
        tx.close()


def put_parquet(s3_server: MotoS3Server, name: str, table: pa.Table, compression: str = "snappy") -> str:
    """Write ``table`` as one Parquet object with a manifest; the COPY statement that loads it into ``{}``."""
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=compression)
    s3.put_object(Bucket=BUCKET, Key=f"{name}.parquet", Body=sink.getvalue())
    manifest = manifest_json(BUCKET, [ManifestEntry(f"{name}.parquet", len(sink.getvalue()))])
    s3.put_object(Bucket=BUCKET, Key=f"{name}.manifest", Body=manifest)
    return f"COPY {{}} FROM 's3://{BUCKET}/{name}.manifest' IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST"


def test_copy_from_parquet_maps_by_position_and_converts_nothing(rs: Any, s3_server: MotoS3Server) -> None:
    """ "COPY from columnar data formats": same column count, by position, exact types, few options."""
    copy = put_parquet(
        s3_server,
        "typed",
        pa.table(
            {
                "a": pa.array([1], pa.int64()),
                "b": pa.array(["x"], pa.string()),
                "c": pa.array([Decimal("1.50")], pa.decimal128(10, 2)),
            }
        ),
    )
    run(rs, "CREATE TABLE exact (x BIGINT, y VARCHAR(4), z DECIMAL(10,2))")
    run(rs, copy.format("exact"))
    assert run(rs, "SELECT * FROM exact") == [(1, "x", Decimal("1.50"))]
    run(rs, "CREATE TABLE fewer (x BIGINT, y VARCHAR(4))")
    fails(rs, copy.format("fewer"), "has 3 columns and the table")
    run(rs, "CREATE TABLE narrower (x INTEGER, y VARCHAR(4), z DECIMAL(10,2))")
    fails(rs, copy.format("narrower"), r"incompatible Parquet schema for column 1 .*INTEGER.*int64")
    run(rs, "CREATE TABLE numeric_text (x BIGINT, y DECIMAL(10,2), z DECIMAL(10,2))")
    fails(rs, copy.format("numeric_text"), r"incompatible Parquet schema for column 2 .*NUMERIC.*string")
    run(rs, "CREATE TABLE other_scale (x BIGINT, y VARCHAR(4), z DECIMAL(12,2))")
    fails(rs, copy.format("other_scale"), r"incompatible Parquet schema for column 3")
    fails(rs, copy.format("exact") + " REGION 'us-east-1'", "REGION argument is not supported for PARQUET")
    fails(rs, copy.format("exact") + " MAXERROR 10", "MAXERROR argument is not supported")
    zstd = put_parquet(s3_server, "zstd", pa.table({"a": pa.array([1], pa.int64())}), compression="zstd")
    run(rs, "CREATE TABLE one (x BIGINT)")
    fails(rs, zstd.format("one"), "compressed with ZSTD")

    text = put_parquet(s3_server, "text", pa.table({"j": ['{"a": 1}']}))
    run(rs, "CREATE TABLE semi (j SUPER)")
    run(rs, text.format("semi"))  # a string into SUPER is a string scalar, not parsed JSON
    assert json.loads(run(rs, "SELECT j::text FROM semi")[0][0]) == '{"a": 1}'


def test_name_and_type_limits(rs: Any) -> None:
    """ "Names and identifiers" (127 bytes, longer truncated); "Character types"; "VARBYTE type";
    "Numeric types"."""
    long = "c" * 100  # over PostgreSQL's 63 bytes, within Redshift's 127
    too_long = "t" * 130
    run(rs, f'CREATE TABLE "{too_long}" ("{long}" INT, "{"é" * 64}" INT)')
    schema = run(rs, "SELECT current_schema()")[0][0]
    assert run(rs, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)) == [
        ("t" * 127,)
    ]
    columns = "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
    assert sorted(run(rs, columns, (schema, "t" * 127))) == [(long,), ("é" * 63,)]
    run(rs, f'INSERT INTO "{"t" * 127}" ("{long}") VALUES (7)')
    cur = rs.cursor()
    cur.execute(f'SELECT "{long}" FROM "{too_long}"')
    assert cur.description[0][0] == long and cur.fetchall()[0][0] == 7
    fails(rs, "CREATE TABLE wide (v VARCHAR(65536))", "cannot exceed 65535")
    run(rs, "CREATE TABLE widest (v VARCHAR(65535), b VARBYTE(16777216), d DECIMAL(38,37))")
    fails(rs, "CREATE TABLE blob (b VARBYTE(16777217))", "cannot exceed 16777216")
    fails(rs, "CREATE TABLE exact (d DECIMAL(39,0))", "precision 39 must be between 1 and 38")
    fails(rs, "CREATE TABLE padded (" + ", ".join(f"c{i} CHAR(4096)" for i in range(17)) + ")", "8001")


def test_merge_takes_redshifts_one_form(rs: Any) -> None:
    """ "MERGE": one unconditional WHEN MATCHED, one WHEN NOT MATCHED, no target alias, equality ON,
    a target row matched by one source row at most."""
    run(rs, "CREATE TABLE target (id INT, v INT)")
    run(rs, "CREATE TABLE source (id INT, v INT)")
    run(rs, "INSERT INTO target VALUES (1, 10)")
    run(rs, "INSERT INTO source VALUES (1, 11), (2, 20)")
    tail = "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (source.id, source.v)"
    run(rs, f"MERGE INTO target USING source ON target.id = source.id WHEN MATCHED THEN UPDATE SET v = source.v {tail}")
    assert run(rs, "SELECT id, v FROM target ORDER BY id") == [(1, 11), (2, 20)]
    fails(
        rs,
        "MERGE INTO target USING source ON target.id = source.id"
        f" WHEN MATCHED AND source.v > 0 THEN UPDATE SET v = source.v {tail}",
        "no condition",
    )
    fails(rs, f"MERGE INTO target AS t USING source ON t.id = source.id WHEN MATCHED THEN DELETE {tail}", "alias")
    fails(rs, f"MERGE INTO target USING source ON target.id < source.id WHEN MATCHED THEN DELETE {tail}", "equality")
    fails(rs, "MERGE INTO target USING source ON target.id = source.id WHEN MATCHED THEN DELETE", "exactly one")
    run(rs, "INSERT INTO source VALUES (1, 12)")
    fails(
        rs,
        f"MERGE INTO target USING source ON target.id = source.id WHEN MATCHED THEN UPDATE SET v = source.v {tail}",
        "Found multiple matches to update the same tuple",
    )


def test_a_statement_slower_than_the_socket_timeout_surfaces_as_the_driver_surfaces_it(emulator_port: int) -> None:
    """redshift_connector's ``timeout`` is a socket timeout on every read: a slow statement raises
    the socket's TimeoutError from ``execute``. Redshift's ``statement_timeout`` cancels it instead."""
    admin = connect(emulator_port)
    admin.autocommit = True
    try:
        run(admin, "SET s3rb_emulator.statement_delay TO '2 s3rb_slow_statement'")
        quick = connect(emulator_port, timeout=1)
        try:
            assert run(quick, "SELECT 1") == [(1,)]  # other statements are not delayed
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                run(quick, "SELECT 2 AS s3rb_slow_statement")
            assert time.monotonic() - started < 2
        finally:
            quick.close()
        patient = connect(emulator_port, timeout=10)
        try:
            started = time.monotonic()
            assert run(patient, "SELECT 3 AS s3rb_slow_statement") == [(3,)]
            assert time.monotonic() - started >= 2
            # "statement_timeout": Redshift cancels the statement itself, with its own words
            run(patient, "SET statement_timeout TO 1000")
            with pytest.raises(Error, match=r"Query \(0\) cancelled on user's request") as cancelled:
                run(patient, "SELECT 4 AS s3rb_slow_statement")
            assert cancelled.value.args[0]["C"] == "57014"
            patient.rollback()
            assert run(patient, "SELECT 5") == [(5,)]  # the session goes on
        finally:
            patient.close()
    finally:
        run(admin, "SET s3rb_emulator.statement_delay TO '0'")
        admin.close()


LEVEL = "SELECT TRIM(isolation_level) FROM stv_db_isolation_level WHERE TRIM(db_name) = current_database()"


def test_concurrent_writers_that_read_each_others_tables_fail_with_1023(emulator_port: int, rs: Any) -> None:
    """ "Isolation levels in Amazon Redshift", SERIALIZABLE: two transactions that each read a table
    and then write it cannot both commit as if they ran one after the other; one fails with error
    1023 and must be retried."""
    schema = run(rs, "SELECT current_schema()")[0][0]
    run(rs, "CREATE TABLE ledger (id INT, tab VARCHAR(10))")
    run(rs, "INSERT INTO ledger VALUES (1, 'a'), (2, 'b')")
    with emulator_isolation(emulator_port, "serializable"):
        first, second = connect(emulator_port), connect(emulator_port)
        assert run(first, LEVEL) == [("Serializable",)]
    try:
        assert run(first, f"SELECT COUNT(*) FROM {schema}.ledger WHERE tab = 'a'") == [(1,)]
        assert run(second, f"SELECT COUNT(*) FROM {schema}.ledger WHERE tab = 'b'") == [(1,)]
        run(first, f"INSERT INTO {schema}.ledger VALUES (3, 'b')")
        run(second, f"INSERT INTO {schema}.ledger VALUES (4, 'a')")
        first.commit()
        with pytest.raises(Error, match="1023 DETAIL: Serializable isolation violation on table") as conflict:
            run(second, "SELECT 1")
            second.commit()
        assert conflict.value.args[0]["C"] == "40001"
        second.rollback()
        assert run(rs, "SELECT id FROM ledger ORDER BY id") == [(1,), (2,), (3,)]
    finally:
        first.close()
        second.close()


def test_snapshot_isolation_is_the_default_and_lets_write_skew_commit_but_not_two_writes_of_a_row(
    emulator_port: int, rs: Any
) -> None:
    """ "Isolation levels in Amazon Redshift": SNAPSHOT is the default of new clusters and Serverless
    ("STV_DB_ISOLATION_LEVEL" shows it); transactions that write different rows both commit, even
    where no serial order gives their result; a transaction that writes a row another committed
    since its snapshot fails with error 1023, as under SERIALIZABLE."""
    assert run(rs, LEVEL) == [("Snapshot Isolation",)]
    schema = run(rs, "SELECT current_schema()")[0][0]
    run(rs, "CREATE TABLE numbers (digits INT)")
    run(rs, "INSERT INTO numbers VALUES (0), (1)")
    first, second = connect(emulator_port), connect(emulator_port)
    try:
        assert run(first, f"SELECT digits FROM {schema}.numbers ORDER BY 1") == [(0,), (1,)]
        assert run(second, f"SELECT digits FROM {schema}.numbers ORDER BY 1") == [(0,), (1,)]
        run(first, f"UPDATE {schema}.numbers SET digits = 0 WHERE digits = 1")
        first.commit()
        run(second, f"UPDATE {schema}.numbers SET digits = 1 WHERE digits = 0")
        second.commit()  # the documented swap: both commit under SNAPSHOT
        assert run(rs, "SELECT digits FROM numbers ORDER BY 1") == [(0,), (1,)]

        assert run(first, f"SELECT count(*) FROM {schema}.numbers") == [(2,)]  # its snapshot starts
        assert run(second, f"SELECT count(*) FROM {schema}.numbers") == [(2,)]
        run(first, f"UPDATE {schema}.numbers SET digits = 5 WHERE digits = 0")
        first.commit()
        with pytest.raises(Error, match="1023 DETAIL: Serializable isolation violation on table") as conflict:
            run(second, f"UPDATE {schema}.numbers SET digits = 6 WHERE digits = 0")
        assert conflict.value.args[0]["C"] == "40001"
        second.rollback()
    finally:
        first.close()
        second.close()


def test_varchar_comparison_ignores_trailing_blanks(rs: Any) -> None:
    """ "Character types", "Significance of trailing blanks": trailing spaces in VARCHAR and CHAR
    values are insignificant when values are compared; lengths count them in a VARCHAR."""
    run(rs, "CREATE TABLE padded (k VARCHAR(8), v INT)")
    run(rs, "INSERT INTO padded VALUES ('a', 1), ('a ', 2), ('a  ', 3), ('b', 4)")
    assert run(rs, "SELECT count(*) FROM padded WHERE k = 'a'") == [(3,)]
    assert run(rs, "SELECT count(DISTINCT k) FROM padded") == [(2,)]
    assert run(rs, "SELECT count(*) FROM padded GROUP BY k ORDER BY 1") == [(1,), (3,)]
    ranked = "SELECT v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) FROM padded ORDER BY v"
    assert run(rs, ranked) == [(1, 3), (2, 2), (3, 1), (4, 1)]  # one partition for 'a', 'a ', 'a  '
    run(rs, "CREATE TABLE keys (k VARCHAR(8), v INT)")
    run(rs, "INSERT INTO keys VALUES ('a', 9)")
    joined = "SELECT padded.v FROM padded JOIN keys ON padded.k = keys.k ORDER BY 1"
    assert run(rs, joined) == [(1,), (2,), (3,)]
    assert run(rs, "SELECT OCTET_LENGTH(k) FROM padded ORDER BY v") == [(1,), (2,), (3,), (1,)]
    exact = f"{joined[: joined.index(' ORDER')]} AND OCTET_LENGTH(padded.k) = OCTET_LENGTH(keys.k)"
    assert run(rs, exact) == [(1,)]
    assert run(rs, "SELECT k FROM padded WHERE v = 2") == [("a ",)]  # the value keeps its blanks


def test_a_table_named_with_a_hash_is_a_temporary_table(emulator_port: int, rs: Any) -> None:
    """ "CREATE TABLE": a table name that begins with # makes a temporary table, in a schema of the
    session's own, gone when it ends; "Names and identifiers": printable UTF-8 only."""
    schema = run(rs, "SELECT current_schema()")[0][0]
    run(rs, f'CREATE TABLE IF NOT EXISTS "{schema}"."#Orders" (id INT)')
    run(rs, "INSERT INTO #orders VALUES (1)")
    assert run(rs, 'SELECT id FROM "#orders"') == [(1,)]
    listed = "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s"
    assert run(rs, listed, (schema,)) == [(0,)]  # not in the schema it was named in
    other = connect(emulator_port)
    try:
        fails(other, 'SELECT id FROM "#orders"', "does not exist")  # another session: another table
    finally:
        other.close()
    fails(rs, 'CREATE TABLE "tab\tbed" (id INT)', "printable")


def test_version_names_the_cluster_version(emulator_port: int, rs: Any) -> None:
    """ "Cluster versions for Amazon Redshift": SELECT version() ends with the cluster version."""
    assert run(rs, "SELECT version()")[0][0].endswith(", Redshift 1.0.121010")
    try:
        run(rs, "SET s3rb_emulator.cluster_version TO '1.0.72000'")
        # another statement text: the driver runs a statement it prepared before as prepared then
        assert run(rs, "SELECT version() AS older")[0][0].endswith("Redshift 1.0.72000")
    finally:
        run(rs, "SET s3rb_emulator.cluster_version TO '1.0.121010'")


def test_strtol_reads_hex_and_from_varbyte_prints_lower_case_hex(rs: Any) -> None:
    """ "STRTOL function": the text's digits in the base, as a BIGINT; "FROM_VARBYTE function":
    'hex' prints the bytes as lower-case hex digits. What verify digests with."""
    run(rs, "CREATE TABLE bytes (b VARBYTE(8))")
    run(rs, "INSERT INTO bytes VALUES (CAST('Hi' AS VARBYTE))")
    assert run(rs, "SELECT STRTOL('ff', 16), STRTOL(SUBSTRING(MD5('a'), 1, 15), 16)") == [
        (255, int("0cc175b9c0f1b6a"[:15], 16))
    ]
    assert run(rs, "SELECT FROM_VARBYTE(b, 'hex') FROM bytes") == [("4869",)]
    fails(rs, "SELECT FROM_VARBYTE(b, 'base64') FROM bytes", "FROM_VARBYTE format")
