"""XA transactions on MariaDB 10.11, which binlogs them as MySQL does in two parts: the rows and
XA PREPARE (an XA_PREPARE_LOG_EVENT), and later, in a transaction of its own, XA COMMIT or XA
ROLLBACK. Rows are loaded only once committed, numbered where the commit is; a restart between
PREPARE and COMMIT reads the prepared rows again (docs/ARCHITECTURE.md, "XA transactions")."""

from __future__ import annotations

import pytest

from s3rb_stream.sources import mysql_meta
from s3rb_stream.state.checkpoint import load_checkpoint
from s3rb_stream.state.quarantines import active_quarantines
from s3rb_stream.store import open_store
from tests.integration.conftest import Pipeline


def setup(p: Pipeline, positioning: str) -> None:
    p.configure(positioning=positioning)
    p.tables('tables:\n  - name: "{db}.t"\n')
    p.sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
    p.run(start_position="current")


def statements(p: Pipeline, *sql: str) -> None:
    conn = p.server.connect(p.source_db, autocommit=True)
    with conn.cursor() as cur:
        for statement in sql:
            cur.execute(statement)
    conn.close()  # a prepared XA transaction outlives its connection (MariaDB 10.5+)


@pytest.mark.parametrize("positioning", ["file", "gtid"])
def test_rolled_back_xa_loads_nothing_and_committed_xa_loads_its_rows(
    file_pipeline: Pipeline, positioning: str
) -> None:
    p = file_pipeline
    setup(p, positioning)
    statements(
        p,
        "XA START 'r1'", "INSERT INTO t VALUES (1, 'rolled back')", "XA END 'r1'", "XA PREPARE 'r1'",
        "XA ROLLBACK 'r1'",
        "XA START 'c1'", "INSERT INTO t VALUES (2, 'committed'), (5, 'then deleted')", "DELETE FROM t WHERE id = 5",
        "XA END 'c1'", "XA PREPARE 'c1'", "XA COMMIT 'c1'",
        "XA START 'o1'", "INSERT INTO t VALUES (3, 'one phase')", "XA END 'o1'", "XA COMMIT 'o1' ONE PHASE",
        "INSERT INTO t VALUES (4, 'plain')",
    )  # fmt: skip
    p.run()
    assert p.target_rows("t") == p.source_rows("t") == [(2, "committed"), (3, "one phase"), (4, "plain")]


@pytest.mark.parametrize("positioning", ["file", "gtid"])
def test_a_restart_between_prepare_and_commit_loses_nothing(file_pipeline: Pipeline, positioning: str) -> None:
    """The first run ends with the XA transaction prepared: its row is not loaded, a row committed
    after it is, and the checkpoint stays before the PREPARE. The second run reads the prepared rows
    again and loads them at the commit, though a newer change of the table is loaded already."""
    p = file_pipeline
    setup(p, positioning)
    conn = p.server.connect(p.source_db)
    before_xa = mysql_meta.current_position(conn, "mariadb" if positioning == "gtid" else None)
    conn.close()
    statements(p, "XA START 'w1'", "INSERT INTO t VALUES (1, 'xa')", "XA END 'w1'", "XA PREPARE 'w1'")
    statements(p, "INSERT INTO t VALUES (10, 'after prepare')")
    p.run()
    assert p.target_rows("t") == [(10, "after prepare")]  # the prepared row is not a change yet
    checkpoint = load_checkpoint(open_store(p.settings), p.source_db, p.target_schema)
    assert checkpoint is not None and checkpoint.position.seq <= before_xa.seq

    statements(p, "XA COMMIT 'w1'")
    p.run()
    assert p.target_rows("t") == p.source_rows("t") == [(1, "xa"), (10, "after prepare")]
    checkpoint = load_checkpoint(open_store(p.settings), p.source_db, p.target_schema)
    assert checkpoint is not None and checkpoint.position.seq > before_xa.seq  # released: it moves on


@pytest.mark.parametrize("positioning", ["file", "gtid"])
def test_an_xa_commit_too_large_for_file_positions_is_quarantined_by_name(
    file_pipeline: Pipeline, positioning: str
) -> None:
    """File positions number a committed XA transaction's rows inside its XA COMMIT statement's
    bytes; 500 rows do not fit there: the table is quarantined, naming GTID positioning, which
    numbers them by the commit's GTID."""
    p = file_pipeline
    setup(p, positioning)
    statements(
        p,
        "XA START 'big'", "INSERT INTO t SELECT seq, 'x' FROM seq_1_to_500", "XA END 'big'", "XA PREPARE 'big'",
        "XA COMMIT 'big'", "INSERT INTO t VALUES (1000, 'plain')",
    )  # fmt: skip
    p.run()
    found = active_quarantines(open_store(p.settings), p.source_db, p.target_schema)
    quarantined = {table: quarantine.describe() for table, quarantine in found.items()}
    if positioning == "file":
        assert "S3RB_POSITIONING=gtid" in quarantined["t"] and "500 rows" in quarantined["t"]
    else:
        assert quarantined == {}
        assert p.target_rows("t") == p.source_rows("t") and len(p.target_rows("t")) == 501
