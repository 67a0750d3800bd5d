from __future__ import annotations

from datetime import UTC, datetime

from s3rb_stream.core.object_keys import batch_key, checkpoint_key, parse_batch_key, table_prefix


def test_batch_key_layout_is_schema_isolated_and_has_no_colons_or_spaces() -> None:
    key = batch_key("cdc", "sales", "analytics", "orders", 17, 42, datetime(2026, 3, 9, 23, 59, tzinfo=UTC))
    assert key == "cdc/sales/analytics/orders/year=2026/month=03/day=09/orders_17_42.parquet"
    assert ":" not in key and " " not in key


def test_batch_key_without_prefix() -> None:
    key = batch_key("", "sales", "analytics", "orders", 1, 2, datetime(2026, 1, 1, tzinfo=UTC))
    assert key.startswith("sales/analytics/orders/")


def test_parse_round_trips_and_ignores_other_objects() -> None:
    key = batch_key("p", "s", "t", "order_items", 5, 9, datetime(2026, 1, 1, tzinfo=UTC))
    ref = parse_batch_key(key)
    assert ref is not None and (ref.table, ref.first_seq, ref.last_seq, ref.key) == ("order_items", 5, 9, key)
    assert parse_batch_key(checkpoint_key("p", "s", "t")) is None
    assert parse_batch_key("p/s/t/orders/year=2026/month=01/day=01/other_1_2.parquet") is None


def test_table_prefix_does_not_match_a_longer_table_name() -> None:
    assert table_prefix("", "s", "t", "orders") == "s/t/orders/"
    assert not "s/t/orders_archive/x".startswith(table_prefix("", "s", "t", "orders"))


def test_names_that_are_unsafe_in_keys_are_percent_encoded_and_parsed_back() -> None:
    from datetime import UTC, datetime

    from s3rb_stream.core.object_keys import batch_key, parse_batch_key, segment, source_db_of

    assert segment("orders_2024-v1.x") == "orders_2024-v1.x"  # plain names stay as spelled
    assert segment('o\'rders "q" ü:`~') == "o%27rders%20%22q%22%20%C3%BC%3A%60%7E"
    key = batch_key("cdc", "shop db", "an:alytics", "o'rders ü", 10, 20, datetime(2026, 1, 2, tzinfo=UTC))
    assert " " not in key and ":" not in key and "'" not in key
    ref = parse_batch_key(key)
    assert ref is not None and (ref.table, ref.first_seq, ref.last_seq) == ("o'rders ü", 10, 20)
    assert source_db_of(key) == "shop db"


def test_the_objects_kept_for_a_batch_live_beside_it_in_its_table_folder() -> None:
    from s3rb_stream.core.object_keys import aside_key, fitted_key, manifest_key

    key = batch_key("cdc", "shop db", "an", "o'rders", 10, 20, datetime(2026, 1, 2, tzinfo=UTC))
    table = "cdc/shop%20db/an/o%27rders"
    assert aside_key(key) == f"{table}/_corrupt/o%27rders_10_20.parquet"
    assert fitted_key(key, "a1") == f"{table}/_fitted/a1/o%27rders_10_20.parquet"
    assert manifest_key(key, 10, 35, "a1") == f"{table}/_manifests/10_35_a1.manifest"
    for built in (aside_key(key), fitted_key(key, "a1"), manifest_key(key, 10, 35, "a1")):
        assert parse_batch_key(built) is None  # never listed as a batch to load


def test_a_pending_note_names_its_batch_and_nothing_else() -> None:
    from s3rb_stream.core.object_keys import aside_key, batch_of_pending, pending_key, pending_prefix

    key = batch_key("cdc", "shop db", "an", "o'rders", 10, 20, datetime(2026, 1, 2, tzinfo=UTC), part=3, run=2)
    note = pending_key(key)
    assert note.startswith(pending_prefix("cdc", "shop db", "an", "o'rders")) and note.endswith(".json")
    assert batch_of_pending(note) == key
    assert parse_batch_key(note) is None  # a note is never taken for a batch
    assert batch_of_pending(key) is None and batch_of_pending(aside_key(key)) is None
    assert batch_of_pending("cdc/shop%20db/an/o%27rders/_pending/not-a-batch.json") is None


def test_only_a_batch_key_has_objects_beside_it() -> None:
    import pytest

    from s3rb_stream.core.object_keys import aside_key

    with pytest.raises(ValueError, match="is not a batch object key"):
        aside_key(checkpoint_key("p", "s", "t"))


def test_state_keys_name_their_pipeline_and_table_and_nothing_else_does() -> None:
    from s3rb_stream.core.object_keys import (
        extract_state_key,
        lease_key,
        pipeline_of_state_key,
        quarantine_key,
        table_of_state_key,
        write_check_key,
    )

    for prefix in ("", "cdc", "cdc/deeper"):
        assert pipeline_of_state_key(prefix, checkpoint_key(prefix, "shop db", "an")) == ("shop db", "an")
        assert pipeline_of_state_key(prefix, lease_key(prefix, "s", "t")) == ("s", "t")
        assert pipeline_of_state_key(prefix, quarantine_key(prefix, "s", "t", "x")) == ("s", "t")
        assert pipeline_of_state_key(prefix, write_check_key(prefix)) is None  # the store's, no pipeline's
        batch = batch_key(prefix, "s", "t", "x", 1, 2, datetime(2026, 1, 1, tzinfo=UTC))
        assert pipeline_of_state_key(prefix, batch) is None
    assert pipeline_of_state_key("cdc", checkpoint_key("other", "s", "t")) is None  # another prefix
    assert table_of_state_key(extract_state_key("p", "s", "t", "o'rders ü")) == "o'rders ü"
    assert table_of_state_key(quarantine_key("", "s", "t", "x.y")) == "x.y"
    assert table_of_state_key(checkpoint_key("p", "s", "t")) is None
    assert table_of_state_key(lease_key("p", "s", "t")) is None
