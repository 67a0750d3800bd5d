from __future__ import annotations

from pathlib import Path

import pytest

from s3rb_stream.errors import ConfigError
from s3rb_stream.settings import (
    load_settings,
    load_tables_file,
    parse_mysql_url,
    parse_store_url,
    parse_warehouse_url,
)

SECRET = "s3cr3t-Pa55"


def test_mysql_url_parts_and_password_kept_out_of_repr() -> None:
    target = parse_mysql_url(f"mysql://repl:{SECRET}@db.internal:3307?ssl_ca=/ca.pem")
    assert (target.host, target.port, target.user, target.password) == ("db.internal", 3307, "repl", SECRET)
    assert target.options == {"ssl_ca": "/ca.pem"}
    assert SECRET not in repr(target) and SECRET not in target.describe()


def test_password_setting_overrides_url() -> None:
    assert parse_mysql_url("mysql://u@h", password="x").password == "x"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"S3RB_MYSQL_URL": f"postgres://u:{SECRET}@h"}, "S3RB_MYSQL_URL is not a MySQL URL"),
        ({"S3RB_MYSQL_URL": f"mysql://u:{SECRET}@h:99999"}, "S3RB_MYSQL_URL has an invalid port"),
        ({"S3RB_STORE_URL": "file://relative/dir"}, "S3RB_STORE_URL file:// needs an absolute path"),
        ({"S3RB_STORE_URL": "gs://bucket"}, "S3RB_STORE_URL has an unsupported scheme"),
        ({"S3RB_WAREHOUSE_URL": "sqlite:///x.db"}, "S3RB_WAREHOUSE_URL has an unsupported scheme"),
        ({"S3RB_BATCH_MAX_ROWS": "0"}, "S3RB_BATCH_MAX_ROWS"),
        ({"S3RB_HEARTBEAT_SECONDS": "soon"}, "S3RB_HEARTBEAT_SECONDS"),
    ],
)
def test_bad_settings_name_the_key_and_never_the_password(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert needle in str(info.value)
    assert SECRET not in str(info.value)


def test_store_and_warehouse_urls() -> None:
    assert parse_store_url("file:///tmp/x/").root == "/tmp/x"
    s3 = parse_store_url("s3://bucket/some/prefix/")
    assert (s3.root, s3.prefix) == ("bucket", "some/prefix")
    assert parse_warehouse_url("duckdb:///data/w.duckdb").path == "data/w.duckdb"
    assert parse_warehouse_url("duckdb:////abs/w.duckdb").path == "/abs/w.duckdb"


def test_redshift_url_parts_and_password_kept_out_of_repr() -> None:
    location = parse_warehouse_url(f"redshift://loader:{SECRET}@cluster.example:5439/dev?ssl=false")
    assert (location.kind, location.host, location.port, location.user, location.database) == (
        "redshift",
        "cluster.example",
        5439,
        "loader",
        "dev",
    )
    assert location.password == SECRET and location.options == {"ssl": "false"}
    assert SECRET not in repr(location) and SECRET not in location.describe()


def test_redshift_url_without_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs a user, a host and a database"):
        parse_warehouse_url(f"redshift://loader:{SECRET}@cluster.example:5439")


def test_the_settings_repr_holds_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3RB_MYSQL_URL", f"mysql://u:{SECRET}@h:3306")
    monkeypatch.setenv("S3RB_WAREHOUSE_URL", "redshift://loader:other-Secret@h:5439/dev")
    settings = load_settings()
    assert SECRET not in repr(settings) and "other-Secret" not in repr(settings)
    assert SECRET not in str(settings.model_dump()) and "other-Secret" not in str(settings.model_dump())
    assert settings.warehouse().password == "other-Secret"


def test_settings_lists_secrets_for_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3RB_MYSQL_URL", f"mysql://u:{SECRET}@h:3306")
    monkeypatch.setenv("S3RB_WAREHOUSE_URL", "redshift://loader:other-Secret@h:5439/dev")
    assert {SECRET, "other-Secret"} <= set(load_settings().secrets())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tables.yml"
    path.write_text(text)
    return path


def test_tables_file_defaults_and_pattern_resolution(tmp_path: Path) -> None:
    parsed = load_tables_file(
        write(
            tmp_path,
            'tables:\n  - name: "sales.orders"\n  - name: "sales.log_*"\n    mode: append\n'
            '  - name: "sales.log_special"\n    mode: merge\n',
        )
    )
    orders = parsed.resolve("sales", "orders")
    assert orders is not None and (orders.cdc_strategy, orders.mode) == ("binlog", "merge")
    assert parsed.resolve("sales", "log_2026").mode == "append"  # type: ignore[union-attr]
    assert parsed.resolve("sales", "log_special").mode == "merge"  # type: ignore[union-attr]
    assert parsed.resolve("sales", "customers") is None
    assert parsed.resolve("other", "orders") is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tables: [", "not valid YAML at line"),
        ("- a\n- b\n", "must be a mapping"),
        ("tables: []\n", "tables: must list at least one entry"),
        ('tables:\n  - name: "orders"\n', 'tables[0] (orders).name: expected "source_db.table"'),
        ('tables:\n  - name: "s.t"\n    mdoe: merge\n', "tables[0] (s.t): unknown key 'mdoe' (did you mean 'mode'?)"),
        (
            'tables:\n  - name: "s.t"\n    mode: upsert\n',
            "tables[0] (s.t).mode: must be 'merge', 'scd2' or 'append', not 'upsert'",
        ),
        ('tables:\n  - name: "s.t"\n    cdc_strategy: hybrid\n', "hybrid needs cdc_timestamp_column and cdc_id_column"),
        ('tables:\n  - name: "s.t"\n  - name: "s.t"\n', "lists s.t twice"),
        (
            'tables:\n  - name: "s.t"\n    cdc_timestamp_column: ts\n',
            "cdc_timestamp_column and cdc_id_column apply to cdc_strategy hybrid only",
        ),
        ('tables:\n  - name: "s.t"\n    cdc_strategy: full_sync\n    mode: append\n', "full_sync needs mode merge"),
        (
            'tables:\n  - name: "s.t"\n    cdc_strategy: hybrid_sync\n',
            "cdc_strategy: must be 'binlog', 'hybrid' or 'full_sync', not 'hybrid_sync'",
        ),
        ('tables:\n  - name: "s.t"\n    sync_interval: 0\n', "sync_interval: must be greater than 0, not 0"),
        ("colums: []\n", "(top level): unknown key 'colums' (known keys: pipelines, tables)"),
        (
            'tables:\n  - name: "s.t"\n    key_colums: [id]\n',
            "tables[0] (s.t): unknown key 'key_colums' (did you mean 'key_columns'?)",
        ),
        (
            'tables:\n  - name: "s.t"\n    mode: scd2\n    soft_delete: true\n',
            "tables[0] (s.t): soft_delete does not apply to mode scd2: SCD2 tables already keep"
            " history (a deleted key's current version is closed",
        ),
        (
            'tables:\n  - name: "s.t"\n    mode: append\n    soft_delete: true\n',
            "soft_delete does not apply to mode append: it keeps every change as a row, deletes included",
        ),
        (
            'tables:\n  - name: "s.t"\n    cdc_strategy: hybrid\n    cdc_timestamp_column: ts\n'
            "    cdc_id_column: id\n    soft_delete: true\n",
            "soft_delete does not apply to cdc_strategy hybrid: it reads rows by their change time and never sees",
        ),
    ],
)
def test_malformed_tables_file_errors_name_entry_and_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_tables_file(write(tmp_path, text))
    assert needle in str(info.value)
    for pydantic_talk in ("Value error,", "Extra inputs", "Input should be", "['"):  # the user's words only
        assert pydantic_talk not in str(info.value)


def test_missing_tables_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_tables_file(tmp_path / "nope.yml")


def test_mysql_url_options_are_typed_and_unknown_ones_named() -> None:
    from s3rb_stream.sources.mysql_meta import driver_options

    target = parse_mysql_url("mysql://u:p@h:3306?ssl_disabled=true&read_timeout=7&charset=utf8mb4")
    options = driver_options(target)
    assert (options["ssl_disabled"], options["read_timeout"], options["charset"]) == (True, 7, "utf8mb4")
    with pytest.raises(ConfigError, match="S3RB_MYSQL_URL has an unknown option 'sslca'"):
        driver_options(parse_mysql_url("mysql://u:p@h:3306?sslca=/ca.pem"))


def test_batch_objects_for_redshift_default_to_snappy_and_the_codec_is_a_setting() -> None:
    redshift = load_settings(warehouse_url="redshift://u:p@h:5439/db")
    assert redshift.batch_codec() == "snappy"  # what the Redshift docs name for Parquet, and what UNLOAD writes
    assert load_settings(warehouse_url="duckdb:///w.duckdb").batch_codec() == "zstd"
    assert load_settings(warehouse_url="redshift://u:p@h:5439/db", parquet_codec="gzip").batch_codec() == "gzip"
    with pytest.raises(ConfigError, match="S3RB_PARQUET_CODEC"):
        load_settings(parquet_codec="lz4")


def test_without_a_mysql_url_nothing_reads_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S3RB_MYSQL_URL", raising=False)
    settings = load_settings()  # commands that need no source still start
    with pytest.raises(ConfigError, match=r"S3RB_MYSQL_URL is not set.*mysql://cdc@db\.internal:3306"):
        settings.mysql()
