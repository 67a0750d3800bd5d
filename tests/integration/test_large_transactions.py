"""A transaction larger than a batch is written as it is read (memory stays bounded), and a replay
of it writes the same objects: nothing lost, nothing twice."""

from __future__ import annotations

from s3rb_stream.store import open_store
from tests.integration.conftest import Pipeline


def test_a_huge_transaction_is_spilled_in_batches_and_replays_identically(file_pipeline: Pipeline) -> None:
    p = file_pipeline
    p.tables('tables:\n  - name: "{db}.items"\n  - name: "{db}.history"\n    mode: append\n')
    p.sql(
        "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))",
        "CREATE TABLE history (id INT PRIMARY KEY, v VARCHAR(20))",
    )
    p.configure(batch_max_rows=100)
    p.run(start_position="current")
    store = open_store(p.settings)
    [checkpoint_key] = [k for k in store.list(store.prefix) if k.endswith("checkpoint.json")]
    before_txn = store.get(checkpoint_key)
    assert before_txn is not None
    conn = p.server.connect(p.source_db, autocommit=False)
    with conn.cursor() as cur:  # one transaction: 1,050 inserts and 300 updates in two tables
        cur.execute("INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_1050")
        cur.execute("INSERT INTO history SELECT seq, CONCAT('h', seq) FROM seq_1_to_1050")
        cur.execute("UPDATE items SET v = 'changed' WHERE id <= 300")
    conn.commit()
    conn.close()

    result = p.run()
    assert result.changes == 1050 + 1050 + 300
    objects = {k for k in store.list(store.prefix) if k.endswith(".parquet")}
    # Written in pieces as it was read: at most batch_max_rows plus one rows event (~8 KB) each.
    assert len([k for k in objects if "/items/" in k]) >= 3
    assert p.target_rows("items") == p.source_rows("items")
    assert p.target_query(f"SELECT count(*), count(DISTINCT id) FROM {p.target_schema}.history") == [(1050, 1050)]

    store.put(checkpoint_key, before_txn)  # as if killed before the commit was read: replay it all
    p.run()
    assert {k for k in store.list(store.prefix) if k.endswith(".parquet")} == objects  # the same objects
    assert p.target_rows("items") == p.source_rows("items")
    assert p.target_query(f"SELECT count(*), count(DISTINCT id) FROM {p.target_schema}.history") == [(1050, 1050)]
