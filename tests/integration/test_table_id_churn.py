"""The server gives a table a new id each time it opens it again (FLUSH TABLES, a small table
cache). Capture decodes the same layout under a new id without compiling anything, and keeps no
map or decoder per id beyond a transaction's end once there are many."""

from __future__ import annotations

import re

import pytest

from s3rb_stream.sources import binlog
from s3rb_stream.sources.row_decoder import DECODERS
from tests.integration.conftest import Pipeline


def table_ids(pipeline: Pipeline, table: str) -> set[int]:
    conn = pipeline.server.connect()
    ids: set[int] = set()
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        for name, *_rest in cur.fetchall():
            cur.execute(f"SHOW BINLOG EVENTS IN '{name}'")
            for row in cur.fetchall():
                info = str(row[-1])
                match = re.match(rf"table_id: (\d+) \(`?{pipeline.source_db}`?\.`?{table}`?\)", info)
                if row[2] == "Table_map" and match:
                    ids.add(int(match.group(1)))
    conn.close()
    return ids


def test_a_new_table_id_with_the_same_layout_compiles_no_decoder(file_pipeline: Pipeline) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.items"\n')
    pipeline.sql("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2))")
    pipeline.sql("INSERT INTO items VALUES (1, 'a', 1.50)")
    pipeline.run()
    before = DECODERS.compiles
    for i in range(2, 12):  # ten new table ids
        pipeline.sql("FLUSH TABLES", f"INSERT INTO items VALUES ({i}, 'x{i}', {i}.25)")
    pipeline.run()
    assert len(table_ids(pipeline, "items")) >= 11, "FLUSH TABLES gave the table new ids"
    assert DECODERS.compiles == before, "the same layout under a new id reuses its decoder"
    assert pipeline.target_rows("items") == pipeline.source_rows("items")


def test_maps_by_table_id_are_let_go_at_a_transaction_end_past_the_bound(
    file_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = file_pipeline
    monkeypatch.setattr(binlog, "MAPS_KEPT", 2)
    pipeline.tables('tables:\n  - name: "{db}.t*"\n')
    pipeline.sql(*(f"CREATE TABLE t{i} (id INT PRIMARY KEY)" for i in range(6)))
    kept: list[int] = []
    original = binlog.EventReader._forget_maps

    def forget(self: binlog.EventReader) -> None:
        kept.append(len(self._maps))
        original(self)

    monkeypatch.setattr(binlog.EventReader, "_forget_maps", forget)
    for round_ in range(3):
        pipeline.sql("FLUSH TABLES", *(f"INSERT INTO t{i} VALUES ({round_})" for i in range(6)))
    pipeline.sql("FLUSH TABLES", "BEGIN", *(f"INSERT INTO t{i} VALUES (9)" for i in range(6)), "COMMIT")
    pipeline.run()
    # Never more than the bound plus the maps of the transaction that passed it (six tables).
    assert kept and max(kept) <= binlog.MAPS_KEPT + 6, kept
    for i in range(6):
        assert pipeline.target_rows(f"t{i}") == pipeline.source_rows(f"t{i}")
