"""Pydantic's errors in the user's words: what each kind of problem becomes."""

from __future__ import annotations

from s3rb_stream.core.validation_words import say


def test_an_unknown_key_names_the_closest_known_one_or_lists_them() -> None:
    typo = {"type": "extra_forbidden", "loc": ("tables", 0, "key_colums"), "msg": "Extra inputs are not permitted"}
    assert say(typo, ["key_columns", "mode"]) == "unknown key 'key_colums' (did you mean 'key_columns'?)"
    far = {"type": "extra_forbidden", "loc": ("zzz",), "msg": "Extra inputs are not permitted"}
    assert say(far, ["tables", "pipelines"]) == "unknown key 'zzz' (known keys: pipelines, tables)"


def test_prefixes_and_python_reprs_are_dropped() -> None:
    value = {"type": "value_error", "loc": ("name",), "msg": 'Value error, expected "source_db.table"'}
    assert say(value) == 'expected "source_db.table"'
    literal = {"type": "literal_error", "loc": ("mode",), "msg": "Input should be 'merge' or 'append'", "input": "x"}
    assert say(literal) == "must be 'merge' or 'append', not 'x'"
    bound = {"type": "greater_than", "loc": ("n",), "msg": "Input should be greater than 0", "input": [1, "a"]}
    assert say(bound) == "must be greater than 0, not 1, 'a'"
    assert say({"type": "missing", "loc": ("tables",), "msg": "Field required"}) == "'tables' is required"
