"""The Redshift apply statements run on a real PostgreSQL 15: their semantics, before the emulator.

COPY is replaced by INSERTs into the stage (the emulator will do that part); every other
statement is the builder's text as Redshift would receive it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.sql import redshift as rs
from s3rb_stream.sql.identifiers import quote_ansi
from s3rb_stream.testing.postgres import PostgresServer

TS = datetime(2026, 1, 1, tzinfo=UTC)
TABLE = SourceTable(
    "shop",
    "items",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("name", "varchar", "varchar(20)", char_length=20),
    ),
    ("id",),
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def conn(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[psycopg.Connection]:
    schema = f"t_{request.node.name}".lower().replace("[", "_").replace("]", "")[:60]
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {quote_ansi(schema)} CASCADE")
        for statement in (rs.create_schema(schema), *rs.create_table(schema, TABLE), rs.create_control_table(schema)):
            connection.execute(statement)
        connection.execute(f"SET search_path TO {quote_ansi(schema)}")
        yield connection


def schema_of(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    assert row is not None
    return str(row[0])


def load(conn: psycopg.Connection, key: str, *changes: tuple[str, int, int, str | None], fail: bool = False) -> None:
    """One merge load of (op, seq, id, name) changes, in one transaction, as the adapter will run it;
    ``fail``: the last step fails."""
    schema = schema_of(conn)
    with conn.transaction():
        row = conn.execute(rs.watermark(schema), [TABLE.name]).fetchone()
        mark = int(row[0]) if row else -1
        for statement in rs.merge_load(schema, TABLE, "s3://unused/manifest", "arn:unused", mark):
            if statement.startswith("COPY "):
                for op, seq, key_id, name in changes:
                    conn.execute('INSERT INTO "_s3rb_stage" VALUES (%s, %s, %s, %s, %s)', [key_id, name, seq, op, TS])
            else:
                conn.execute(statement)
        seqs = [c[1] for c in changes]
        if fail:
            conn.execute("SELECT 1 / 0")
        conn.execute(
            rs.record_batch(schema).replace("SYSDATE", "now()"),
            [TABLE.name, key, min(seqs), max(seqs), len(changes)],
        )


def rows(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute('SELECT id, name, "_s3rb_seq", "_s3rb_op" FROM items ORDER BY id').fetchall()


def test_newest_change_per_key_wins(conn: psycopg.Connection) -> None:
    load(conn, "b1", ("c", 10, 1, "a"), ("u", 11, 1, "b"), ("c", 12, 2, "x"))
    assert rows(conn) == [(1, "b", 11, "u"), (2, "x", 12, "c")]


def test_same_changes_twice_change_nothing(conn: psycopg.Connection) -> None:
    load(conn, "b1", ("c", 10, 1, "a"), ("c", 11, 2, "b"))
    before = rows(conn)
    load(conn, "b1-replayed", ("c", 10, 1, "a"), ("c", 11, 2, "b"))
    assert rows(conn) == before


def test_older_batch_after_newer_changes_nothing(conn: psycopg.Connection) -> None:
    load(conn, "new", ("u", 20, 1, "new"))
    load(conn, "old", ("c", 5, 1, "old"), ("c", 6, 3, "late"))
    assert rows(conn) == [(1, "new", 20, "u")]


def test_delete_is_not_undone_and_key_change_moves_the_row(conn: psycopg.Connection) -> None:
    load(conn, "b1", ("c", 10, 1, "a"), ("c", 11, 2, "b"))
    load(conn, "b2", ("d", 30, 1, "a"), ("d", 31, 2, "b"), ("u", 31, 20, "b"))
    assert rows(conn) == [(20, "b", 31, "u")]
    load(conn, "zombie", ("u", 15, 1, "zombie"))
    assert rows(conn) == [(20, "b", 31, "u")]


def test_a_failed_load_leaves_nothing_half_applied(conn: psycopg.Connection) -> None:
    load(conn, "b1", ("c", 10, 1, "a"))
    with pytest.raises(psycopg.errors.DivisionByZero):
        load(conn, "b2", ("u", 20, 1, "changed"), ("c", 21, 2, "new"), fail=True)
    assert rows(conn) == [(1, "a", 10, "c")]
    assert conn.execute("SELECT object_key FROM _s3rb_batches").fetchall() == [("b1",)]


def test_a_batch_recorded_again_counts_once(conn: psycopg.Connection) -> None:
    conn.execute("ALTER TABLE _s3rb_batches DROP CONSTRAINT _s3rb_batches_pkey")  # as on Redshift: not enforced
    load(conn, "b1", ("c", 10, 1, "a"))
    load(conn, "b1", ("c", 10, 1, "a"))  # a retried commit that had succeeded
    assert conn.execute("SELECT object_key, row_count FROM _s3rb_batches").fetchall() == [("b1", 1)]
