"""Storage faults: a truncated batch object or a malformed state object is never taken as good."""

from __future__ import annotations

import re

import pytest

from s3rb_stream.errors import CorruptStateError
from s3rb_stream.state.quarantines import active_quarantines
from s3rb_stream.store import open_store
from tests.integration.conftest import Pipeline


def setup_two_tables(p: Pipeline) -> None:
    p.tables('tables:\n  - name: "{db}.a"\n  - name: "{db}.b"\n')
    p.sql(
        "CREATE TABLE a (id INT PRIMARY KEY, v TEXT)",
        "CREATE TABLE b (id INT PRIMARY KEY, v TEXT)",
        *(f"INSERT INTO a VALUES ({i}, 'a{i}')" for i in range(20)),
        *(f"INSERT INTO b VALUES ({i}, 'b{i}')" for i in range(20)),
    )


def test_a_truncated_batch_object_is_set_aside_the_table_held_and_a_snapshot_recovers(pipeline: Pipeline) -> None:
    p = pipeline
    setup_two_tables(p)
    p.snapshot(load=False)
    store = open_store(p.settings)
    [part] = [k for k in store.list(store.prefix) if "/a/year=" in k]
    data = store.get(part)
    assert data is not None
    store.put(part, data[: len(data) // 2])  # a torn write, or bytes lost at rest

    p.run()
    assert p.target_rows("b") == p.source_rows("b")  # the other table goes on
    assert p.target_query(f"SELECT count(*) FROM {p.target_schema}.a") == [(0,)]  # nothing of a taken as good
    reason = active_quarantines(store, p.source_db, p.target_schema)["a"].describe()
    assert f"batch object {part} is unreadable" in reason
    assert store.get(part) is None
    assert store.get(part.split("/year=")[0] + "/_corrupt/" + part.rsplit("/", 1)[1]) is not None
    p.sql("INSERT INTO a VALUES (100, 'after')", "UPDATE b SET v = 'changed' WHERE id = 1")
    p.run()
    assert p.target_query(f"SELECT count(*) FROM {p.target_schema}.a") == [(0,)]  # still held, not half-loaded
    assert p.target_rows("b") == p.source_rows("b")

    p.snapshot("a", restart=True)  # the fix the quarantine names
    p.sql("INSERT INTO a VALUES (101, 'later')")
    p.run()
    assert "a" not in active_quarantines(store, p.source_db, p.target_schema)
    assert p.target_rows("a") == p.source_rows("a")
    assert p.target_rows("b") == p.source_rows("b")


@pytest.mark.parametrize("state", ["checkpoint.json", "extracts/a.json"])
def test_a_malformed_state_object_is_a_named_error_and_nothing_is_loaded(pipeline: Pipeline, state: str) -> None:
    p = pipeline
    setup_two_tables(p)
    p.snapshot()
    p.run(start_position="current")
    store = open_store(p.settings)
    [key] = [k for k in store.list(store.prefix) if k.endswith("_s3rb_state/" + state)]
    store.put(key, b'{"version": 1, "binlog_file": ')  # cut off mid-write by something else
    p.sql("INSERT INTO a VALUES (100, 'x')", "INSERT INTO b VALUES (100, 'y')")
    before = p.target_rows("a"), p.target_rows("b")
    with pytest.raises(CorruptStateError, match=f"{key}.* is unreadable"):
        p.run()
    assert (p.target_rows("a"), p.target_rows("b")) == before


def test_a_malformed_extract_state_of_a_quarantined_table_is_named_by_its_own_key(pipeline: Pipeline) -> None:
    """The lift rule reads the table's extract state: an error in it names that object, not the
    quarantine record."""
    p = pipeline
    setup_two_tables(p)
    p.snapshot(load=False)
    store = open_store(p.settings)
    [part] = [k for k in store.list(store.prefix) if "/a/year=" in k]
    data = store.get(part)
    assert data is not None
    store.put(part, data[: len(data) // 2])
    p.run()  # a is quarantined, its loads held
    [key] = [k for k in store.list(store.prefix) if k.endswith("_s3rb_state/extracts/a.json")]
    store.put(key, b'{"version": 1, "kind": ')
    with pytest.raises(CorruptStateError, match=f"state object {re.escape(key)} is unreadable"):
        p.run()
