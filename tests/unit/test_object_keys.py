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
