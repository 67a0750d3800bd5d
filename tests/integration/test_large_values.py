"""A JSON value over 16 MB (Redshift's SUPER limit): the exact value stays in the object store and
reaches DuckDB whole; Redshift gets what the overflow policy says, counted, never a silent cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s3rb_stream.errors import WarehouseError
from s3rb_stream.pipeline.runner import run
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import MotoS3Server
from tests.integration.conftest import Pipeline
from tests.integration.test_redshift_end_to_end import redshift_source, target_rows

BIG = 17 * 1024 * 1024


def big_document() -> str:
    return json.dumps({"items": ["x" * 1000] * (BIG // 1000 + 1), "ü": "😀"})


def insert_big(server: MariaDBServer, db: str) -> str:
    server.execute("SET GLOBAL max_allowed_packet = 67108864")  # the server must accept a 17 MB statement
    doc = big_document()
    conn = server.connect(db, max_allowed_packet=64 * 1024 * 1024)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO items VALUES (1, %s), (2, %s)", (doc, '{"small": true}'))
    conn.close()
    return doc


def test_a_17_mb_json_value_reaches_duckdb_whole(file_pipeline: Pipeline) -> None:
    p = file_pipeline
    p.tables('tables:\n  - name: "{db}.items"\n')
    p.sql("CREATE TABLE items (id INT PRIMARY KEY, doc JSON)")
    p.run(start_position="current")
    doc = insert_big(p.server, p.source_db)
    p.run()
    [(length,)] = p.target_query(f"SELECT length(doc::VARCHAR) FROM {p.target_schema}.items WHERE id = 1")
    assert length == len(doc)


@pytest.mark.parametrize("policy", ["fail", "null"])
def test_a_17_mb_json_value_follows_the_overflow_policy_into_redshift(
    policy: str, mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    db, schema = f"rs_big_{policy}", f"rs_big_{policy}_target"
    settings = redshift_source(
        mariadb, s3_server, emulator_port, tmp_path, db,
        f'tables:\n  - name: "{db}.items"\n    overflow: "{policy}"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, doc JSON)",
    )  # fmt: skip
    run(settings, db, schema, until_caught_up=True, start_position="current")
    insert_big(mariadb, db)
    if policy == "fail":
        with pytest.raises(WarehouseError, match=r"items.*doc"):
            run(settings, db, schema, until_caught_up=True)
        assert target_rows(emulator_port, schema, "items", "id", "id") == []  # nothing applied
    else:
        run(settings, db, schema, until_caught_up=True)
        assert target_rows(emulator_port, schema, "items", "id, doc::text", "id") == [(1, None), (2, '{"small": true}')]


def test_a_blob_over_redshifts_varbyte_follows_the_overflow_policy(
    mariadb: MariaDBServer, s3_server: MotoS3Server, emulator_port: int, tmp_path: Path
) -> None:
    """A LONGBLOB becomes VARBYTE(1024000), the size every Redshift takes: a longer value is a
    named error by default, or is cut or nulled as configured; never a failure of every load."""
    db, schema = "rs_blob", "rs_blob_target"
    blob = bytes(range(256)) * 4100  # 1,049,600 bytes
    settings = redshift_source(
        mariadb, s3_server, emulator_port, tmp_path, db,
        f'tables:\n  - name: "{db}.items"\n',
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY, data LONGBLOB, small VARBINARY(8))",
    )  # fmt: skip
    run(settings, db, schema, until_caught_up=True, start_position="current")
    conn = mariadb.connect(db)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO items VALUES (1, %s, %s), (2, %s, NULL)", (blob, b"\x00\xff", b"fits"))
    conn.close()
    with pytest.raises(
        WarehouseError, match=r"1 value\(s\) of rs_blob_target\.items\.data exceed the target's 1024000"
    ):
        run(settings, db, schema, until_caught_up=True)
    assert target_rows(emulator_port, schema, "items", "id", "id") == []  # nothing applied
    (tmp_path / "tables.yml").write_text(f'tables:\n  - name: "{db}.items"\n    overflow: truncate\n')
    run(settings, db, schema, until_caught_up=True)

    def as_bytes(value: object) -> object:  # the driver hands the emulator's bytea over as '\\x<hex>' text
        return bytes.fromhex(value[2:]) if isinstance(value, str) and value.startswith("\\x") else value

    rows = [tuple(map(as_bytes, r)) for r in target_rows(emulator_port, schema, "items", "id, data, small", "id")]
    assert rows == [(1, blob[:1_024_000], b"\x00\xff"), (2, b"fits", None)]
