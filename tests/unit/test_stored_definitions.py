"""Stored table definitions are data: a definition read back from the store (a checkpoint, a batch
object's metadata) is parsed by a typed model, and the row decoder compiled from it never runs
text from it."""

from __future__ import annotations

import json
import traceback

import pytest

from s3rb_stream.core.schema import SourceColumn, SourceTable, table_from_json, table_to_json
from s3rb_stream.errors import CorruptStateError
from s3rb_stream.sources import table_map as tm
from s3rb_stream.sources.row_decoder import compile_decoder

TABLE = SourceTable(
    "db",
    "t",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("code", "binary", "binary(4)", char_length=4, default="'x'"),
        SourceColumn("amount", "decimal", "decimal(60,2)", precision=60, scale=2, decimal_overflow="null"),
    ),
    ("id",),
)


def test_a_definition_round_trips() -> None:
    back = table_from_json(table_to_json(TABLE))
    assert back == TABLE and back.key_columns == ("id",) and back.columns[1].default == "'x'"


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (lambda c: c.update(char_length="4, b''); __import__('os').system('id'); (0"), "char_length"),
        (lambda c: c.update(precision=True), "precision"),
        (lambda c: c.update(datetime_precision=9), "datetime_precision"),
        (lambda c: c.update(data_type="int; import os"), "data_type"),
        (lambda c: c.update(decimal_overflow="ignore"), "decimal_overflow"),
        (lambda c: c.update(__class__="x"), "__class__"),
    ],
)
def test_a_tampered_definition_is_refused_with_what_is_wrong(tamper: object, named: str) -> None:
    raw = json.loads(table_to_json(TABLE))
    tamper(raw["columns"][1])  # type: ignore[operator]
    with pytest.raises(CorruptStateError, match=rf"the checkpoint's definition of t is not a valid .*{named}"):
        table_from_json(json.dumps(raw), "the checkpoint's definition of t")


def test_a_generated_decoder_has_a_file_name_and_its_lines_in_tracebacks() -> None:
    table = SourceTable("db", "t", (SourceColumn("id", "int", "int(11)", nullable=False),), ("id",))
    tmap = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.LONG, 0),), ("id",), (False,))
    decode = compile_decoder(table, tmap, "python")
    assert decode(b"\x00" + (7).to_bytes(4, "little"), 0, 5) == [(7,)]
    with pytest.raises(ValueError) as failed:
        decode(b"\x00" + (7).to_bytes(4, "little"), 0, 3)  # the event ends inside the image: torn
    frames = traceback.extract_tb(failed.value.__traceback__)
    assert frames[-1].filename.startswith("<s3rb row decoder db.t")
    assert frames[-1].line and "raise ValueError" in frames[-1].line
