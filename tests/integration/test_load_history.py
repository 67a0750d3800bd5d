"""A load pass costs the same on day 1 and on day 365 (docs/ARCHITECTURE.md, "Finding new
batches"): with a few thousand applied batch objects kept in moto's S3, one new change costs the
same LIST requests, store requests by kind, and ledger keys as with none."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import boto3

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import batch_key
from s3rb_stream.pipeline.load import Loader
from s3rb_stream.settings import TableConfig
from s3rb_stream.store.batches import put_batch
from s3rb_stream.store.parquet import changes_to_table
from s3rb_stream.store.s3 import S3Store
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.s3server import MotoS3Server
from tests.unit.test_duckdb_apply import TABLE

HISTORY = 2_500  # three LIST pages of a table's prefix, as every pass used to read
TS = datetime(2026, 1, 1, tzinfo=UTC)


class CountingWarehouse(DuckDBWarehouse):
    """The real warehouse, counting the ledger keys a pass asks about and the rows it reads."""

    asked = 0
    rows_read = 0

    def applied_among(self, target_schema: str, table: str, keys: Sequence[str]) -> set[str]:
        found = super().applied_among(target_schema, table, keys)
        self.asked += len(keys)
        self.rows_read += len(found)
        return found

    def applied(self, target_schema: str, table: str) -> set[str]:
        found = super().applied(target_schema, table)
        self.rows_read += len(found)
        return found


def write(store: S3Store, seq: int) -> None:
    change = Change(Op.INSERT, seq, TS, (seq, f"row {seq}"))
    key = batch_key(store.prefix, "src", "t", "items", seq, seq, TS)
    put_batch(store, key, changes_to_table(TABLE, [change]))


def pass_after(s3_server: MotoS3Server, tmp_path_name: str, history: int) -> tuple[dict[str, int], int, int]:
    bucket = f"history-{history}"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=bucket)
    store = S3Store(bucket, "cdc", endpoint_url=s3_server.endpoint_url)
    warehouse = CountingWarehouse(f"{tmp_path_name}/w{history}.duckdb")
    tables = [(TableConfig(name="src.items"), TABLE)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda seq: write(store, seq), range(1, history + 1)))
    assert Loader(store, warehouse, "src", "t", tables).load_all().batches == history
    write(store, history + 1)
    warehouse.asked = warehouse.rows_read = 0
    stats = Loader(store, warehouse, "src", "t", tables).load_all()  # a new run, as a timer starts one
    assert stats.batches == 1
    assert warehouse.query("SELECT COUNT(*) FROM t.items") == [(history + 1,)]
    warehouse.close()
    return dict(stats.requests), warehouse.asked, warehouse.rows_read


def test_a_pass_after_thousands_of_batches_costs_what_one_after_none_does(
    s3_server: MotoS3Server, tmp_path: object
) -> None:
    fresh = pass_after(s3_server, str(tmp_path), 0)
    old = pass_after(s3_server, str(tmp_path), HISTORY)
    assert old == fresh
    requests, asked, rows_read = old
    assert requests["list"] == 2  # the table's pending notes, and the pipeline's quarantine records
    assert (asked, rows_read) == (1, 0)  # the one batch waiting; no ledger row of the history
