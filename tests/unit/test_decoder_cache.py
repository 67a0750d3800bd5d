"""Decoders are kept by definition and layout, not table id, in a bounded cache whose evicted
Python decoders leave linecache too."""

from __future__ import annotations

import linecache

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.sources import table_map as tm
from s3rb_stream.sources.row_decoder import DecoderCache

TABLE = SourceTable("db", "t", (SourceColumn("id", "int", "int"), SourceColumn("n", "varchar", "varchar(10)")))


def layout(table_id: int, width: int = 10) -> tm.TableMap:
    return tm.TableMap(
        table_id, "db", "t", (tm.ColumnLayout(tm.LONG, 0), tm.ColumnLayout(tm.VARCHAR, width)), ("id", "n")
    )


def test_a_new_table_id_reuses_the_decoder_of_its_layout() -> None:
    cache = DecoderCache()
    first = cache.get(TABLE, layout(1), "python")
    assert cache.get(TABLE, layout(2), "python") is first and cache.compiles == 1
    row = b"\x00" + (7).to_bytes(4, "little") + b"\x02hi"
    assert first(row, 0, len(row)) == [(7, "hi")]
    wider = SourceTable("db", "t", (TABLE.columns[0], SourceColumn("n", "varchar", "varchar(20)")))
    cache.get(wider, layout(3, 20), "python")  # another layout: built
    assert cache.compiles == 2


def test_the_cache_is_bounded_and_an_evicted_decoder_leaves_linecache() -> None:
    cache = DecoderCache(limit=2)
    before = set(linecache.cache)
    for width in (10, 11, 12, 13):
        table = SourceTable("db", "t", (TABLE.columns[0], SourceColumn("n", "varchar", f"varchar({width})")))
        cache.get(table, layout(width, width), "python")
    assert len(cache) == 2 and cache.compiles == 4
    generated = [name for name in set(linecache.cache) - before if name.startswith("<s3rb row decoder")]
    assert len(generated) == 2, generated  # the two kept decoders' sources, not all four
