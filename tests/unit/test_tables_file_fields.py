"""Every field of the tables file acts.

For each field of ``TableConfig``, enumerated from the model so that a field added later needs an
entry here, one check changes it (from its default, where it has one) and shows that what the
pipeline does changes: the rows a load leaves in DuckDB, the SQL it writes, the tables a command
picks, the values it fits, an error it raises. A field that is accepted and then ignored, as
``soft_delete`` once was, fails here. Local store and embedded DuckDB, no servers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.core.overflow import fit_table
from s3rb_stream.core.query_state import HybridState
from s3rb_stream.core.schema import SourceColumn, SourceTable, arrow_type
from s3rb_stream.errors import ConfigError, WarehouseError
from s3rb_stream.pipeline.extract import select_tables
from s3rb_stream.pipeline.load import Loader, overflow_policy
from s3rb_stream.pipeline.sync import QueryScheduler, hybrid_query, hybrid_start, prepare_query_tables
from s3rb_stream.settings import Settings, TableConfig, TablesFile
from s3rb_stream.sources.mysql_meta import configured_table
from s3rb_stream.sql import duckdb as duckdb_sql
from s3rb_stream.sql import redshift as redshift_sql
from s3rb_stream.store.batches import put_batch
from s3rb_stream.store.local import LocalStore
from s3rb_stream.store.parquet import changes_to_table
from s3rb_stream.targets.duckdb import DuckDBWarehouse

TS = datetime(2026, 1, 1, tzinfo=UTC)

# What a load works on: a key, a tracked-or-not pair of columns.
ITEMS = SourceTable(
    "src",
    "items",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("name", "varchar", "varchar(20)", char_length=20),
        SourceColumn("visits", "int", "int(11)"),
    ),
    ("id",),
)
# What the source may have for the other fields: another unique column, change times, a wide DECIMAL.
WIDE = SourceTable(
    "src",
    "items",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("code", "int", "int(11)", nullable=False),
        SourceColumn("changed", "datetime", "datetime"),
        SourceColumn("created", "datetime", "datetime"),
        SourceColumn("big", "decimal", "decimal(50,2)", precision=50, scale=2),
        SourceColumn("note", "text", "text", char_length=65535),
    ),
    ("id",),
)


def entry(**fields: Any) -> TableConfig:
    return TableConfig(name="src.items", **fields)


def change(op: str, seq: int, key: int, name: str, visits: int = 0) -> Change:
    return Change(Op(op), seq, TS + timedelta(seconds=seq), (key, name, visits))


def load(tmp: Path, config: TableConfig, *changes: Change) -> DuckDBWarehouse:
    """The changes, one batch each, loaded by the loader as ``config`` says; the warehouse, open."""
    store = LocalStore(str(tmp / "objects"))
    for c in changes:
        key = batch_key(store.prefix, "src", "t", "items", c.seq, c.seq, c.source_ts)
        put_batch(store, key, changes_to_table(ITEMS, [c]))
    warehouse = DuckDBWarehouse(str(tmp / "w.duckdb"))
    Loader(store, warehouse, "src", "t", [(config, ITEMS)]).load_all(idle=False)
    return warehouse


def rows(warehouse: DuckDBWarehouse, columns: str = "id, name, visits") -> list[tuple[object, ...]]:
    return warehouse.query(f"SELECT {columns} FROM t.items ORDER BY _s3rb_seq")


def target_columns(warehouse: DuckDBWarehouse) -> set[str]:
    found = warehouse.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'items'")
    return {str(r[0]) for r in found}


def fresh(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.mkdir()
    return path


CHECKS: dict[str, Callable[[Path], None]] = {}


def acts(field: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(check: Callable[[Path], None]) -> Callable[[Path], None]:
        CHECKS[field] = check
        return check

    return register


@acts("name")
def _name(tmp: Path) -> None:
    """The entry covers the tables its name matches, and only those."""
    assert TablesFile(tables=[entry()]).resolve("src", "items") is not None
    assert TablesFile(tables=[TableConfig(name="src.other")]).resolve("src", "items") is None
    assert TablesFile(tables=[TableConfig(name="src.it*")]).resolve("src", "items") is not None


@acts("cdc_strategy")
def _cdc_strategy(tmp: Path) -> None:
    """``snapshot`` takes binlog tables, ``sync`` the others."""
    assert select_tables([(entry(), ITEMS)], [], {"binlog"}, "snapshot") == [(entry(), ITEMS)]
    full = entry(cdc_strategy="full_sync")
    with pytest.raises(ConfigError, match="no table of this source database has cdc_strategy binlog"):
        select_tables([(full, ITEMS)], [], {"binlog"}, "snapshot")
    assert prepare_query_tables([(full, ITEMS)], []) == [(full, ITEMS)]


@acts("mode")
def _mode(tmp: Path) -> None:
    """merge keeps the last state, append every change, scd2 every version."""
    history = (change("c", 10, 1, "a"), change("u", 20, 1, "b"))
    assert rows(load(fresh(tmp, "merge"), entry(), *history)) == [(1, "b", 0)]
    assert rows(load(fresh(tmp, "append"), entry(mode="append"), *history)) == [(1, "a", 0), (1, "b", 0)]
    scd2 = load(fresh(tmp, "scd2"), entry(mode="scd2"), *history)
    assert rows(scd2, "id, name, is_current") == [(1, "a", False), (1, "b", True)]


@acts("key_columns")
def _key_columns(tmp: Path) -> None:
    """The key a merge matches rows by."""
    assert configured_table(entry(), WIDE).key_columns == ("id",)
    table = configured_table(entry(key_columns=("code",)), WIDE)
    assert table.key_columns == ("code",)
    assert 'ON _s3rb_t."code" = _s3rb_s."code"' in duckdb_sql.merge("t", table, "stage")


@acts("soft_delete")
def _soft_delete(tmp: Path) -> None:
    """A delete removes the row, or keeps it marked with the delete's time."""
    history = (change("c", 10, 1, "a"), change("d", 20, 1, "a"))
    assert rows(load(fresh(tmp, "hard"), entry(), *history)) == []
    soft = load(fresh(tmp, "soft"), entry(soft_delete=True), *history)
    assert rows(soft, "id, name, _s3rb_op, _s3rb_deleted_at") == [(1, "a", "d", TS + timedelta(seconds=20))]


def hybrid(**fields: Any) -> TableConfig:
    return entry(**{"cdc_strategy": "hybrid", "cdc_timestamp_column": "changed", "cdc_id_column": "id"} | fields)


@acts("cdc_timestamp_column")
def _cdc_timestamp_column(tmp: Path) -> None:
    """The column a hybrid sync reads rows in the order of."""
    assert "ORDER BY `changed`, `id`" in hybrid_query(WIDE, hybrid(), "all", 10)
    assert "ORDER BY `created`, `id`" in hybrid_query(WIDE, hybrid(cdc_timestamp_column="created"), "all", 10)


@acts("cdc_id_column")
def _cdc_id_column(tmp: Path) -> None:
    assert "ORDER BY `changed`, `code`" in hybrid_query(WIDE, hybrid(cdc_id_column="code"), "all", 10)


@acts("cdc_lookback")
def _cdc_lookback(tmp: Path) -> None:
    """How far below its watermark a hybrid sync starts reading again."""
    state = HybridState("2026-01-01 00:10:00", b"7", 1)
    assert hybrid_start(hybrid(), state) == ("from", ["2026-01-01 00:05:00.000000"])
    assert hybrid_start(hybrid(cdc_lookback=0), state) == ("from", ["2026-01-01 00:10:00.000000"])


@acts("sync_interval")
def _sync_interval(tmp: Path) -> None:
    """How often ``run`` syncs the table; else S3RB_SYNC_INTERVAL_SECONDS."""
    scheduler = QueryScheduler(Settings(sync_interval_seconds=300), LocalStore(str(tmp)), "src", "t", [])
    assert scheduler.interval(entry(cdc_strategy="full_sync")) == 300
    assert scheduler.interval(entry(cdc_strategy="full_sync", sync_interval=60)) == 60


LONG = "ü" * 40_000  # 80,000 bytes: Redshift's VARCHAR holds 65,535


def fitted(config: TableConfig) -> list[object]:
    """The ``note`` values a Redshift load sends for a text longer than its VARCHAR can hold."""
    data = changes_to_table(WIDE, [Change(Op.INSERT, 1, TS, (1, 1, None, None, None, LONG))])
    out, _ = fit_table(data, redshift_sql.byte_limits(WIDE), set(), overflow_policy(config), "src.items")
    return list(out.column("note").to_pylist())


@acts("overflow")
def _overflow(tmp: Path) -> None:
    with pytest.raises(WarehouseError, match="note"):
        fitted(entry())
    assert fitted(entry(overflow="truncate")) == [LONG[:32_767]]
    assert fitted(entry(overflow="null")) == [None]


@acts("overflow_columns")
def _overflow_columns(tmp: Path) -> None:
    assert fitted(entry(overflow_columns={"note": "null"})) == [None]
    assert fitted(entry(overflow="null", overflow_columns={"note": "truncate"})) == [LONG[:32_767]]


@acts("decimal_overflow")
def _decimal_overflow(tmp: Path) -> None:
    """A DECIMAL over 38 digits lands as exact text, or as DECIMAL(38) under the policy."""

    def big(config: TableConfig) -> SourceColumn:
        return next(c for c in configured_table(config, WIDE).columns if c.name == "big")

    assert str(arrow_type(big(entry()))) == "string"
    assert duckdb_sql.column_type(big(entry(decimal_overflow="fail"))) == "DECIMAL(38,0)"


SCD2_HISTORY = (change("c", 10, 1, "a", 0), change("u", 20, 1, "a", 5))  # only visits changes


@acts("scd2_tracked_columns")
def _scd2_tracked_columns(tmp: Path) -> None:
    """A change to an untracked column is no new version."""
    every = load(fresh(tmp, "every"), entry(mode="scd2"), *SCD2_HISTORY)
    assert rows(every, "id, visits, is_current") == [(1, 0, False), (1, 5, True)]
    tracked = load(fresh(tmp, "name"), entry(mode="scd2", scd2_tracked_columns=("name",)), *SCD2_HISTORY)
    assert rows(tracked, "id, visits, is_current") == [(1, 5, True)]


@acts("scd2_untracked")
def _scd2_untracked(tmp: Path) -> None:
    config = entry(mode="scd2", scd2_tracked_columns=("name",), scd2_untracked="ignore")
    assert rows(load(tmp, config, *SCD2_HISTORY), "id, visits, is_current") == [(1, 0, True)]


def scd2_columns(tmp: Path, **names: str) -> set[str]:
    return target_columns(load(tmp, entry(mode="scd2", **names), change("c", 10, 1, "a")))


@acts("scd2_valid_from_column")
def _scd2_valid_from_column(tmp: Path) -> None:
    assert {"valid_from", "starts"} & scd2_columns(tmp, scd2_valid_from_column="starts") == {"starts"}


@acts("scd2_valid_to_column")
def _scd2_valid_to_column(tmp: Path) -> None:
    assert {"valid_to", "ends"} & scd2_columns(tmp, scd2_valid_to_column="ends") == {"ends"}


@acts("scd2_current_column")
def _scd2_current_column(tmp: Path) -> None:
    assert {"is_current", "live"} & scd2_columns(tmp, scd2_current_column="live") == {"live"}


def test_every_field_of_the_tables_file_has_a_check() -> None:
    missing = sorted(set(TableConfig.model_fields) - set(CHECKS))
    assert not missing, f"tables-file field(s) {missing} have no check here that shows they act: add one"
    assert sorted(set(CHECKS) - set(TableConfig.model_fields)) == []


@pytest.mark.parametrize("field", sorted(TableConfig.model_fields))
def test_changing_the_field_changes_what_the_pipeline_does(field: str, tmp_path: Path) -> None:
    assert field in CHECKS, f"{field} has no check: a field that is accepted must act"
    CHECKS[field](tmp_path)
