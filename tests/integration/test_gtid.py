"""GTID positioning: resume on a promoted replica whose binlog files differ, and reopen the stream
from our own GTID state when the connection is cut (never the library's replay from the start)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from s3rb_stream.commands.snapshot import snapshot
from s3rb_stream.errors import BinlogGone
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings, load_settings
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.tcp_proxy import CuttingProxy
from tests.integration.conftest import SERVER_TIME_ZONE, Pipeline

GTID_SERVER = {"gtid_strict_mode": "ON", "log_slave_updates": "ON", "default-time-zone": SERVER_TIME_ZONE}
TABLES = 'tables:\n  - name: "shop.orders"\n'


@pytest.fixture
def topology() -> Iterator[tuple[MariaDBServer, MariaDBServer]]:
    """A primary and a GTID replica that logs what it applies under its own binlog file names."""
    primary = MariaDBServer(options=GTID_SERVER).start()
    replica = MariaDBServer(options={**GTID_SERVER, "log_bin": "replica-bin", "server_id": "2"})
    try:
        replica.start()
        replica.replicate_from(primary)
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


def gtid_settings(tmp_path: Path, server: MariaDBServer) -> Settings:
    (tmp_path / "tables.yml").write_text(TABLES)
    return load_settings(
        mysql_url=server.url,
        store_url=f"file://{tmp_path / 'objects'}",
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        tables_file=tmp_path / "tables.yml",
        heartbeat_seconds=0.5,
        positioning="gtid",
    )


def checkpoint(tmp_path: Path) -> dict[str, object]:
    found = list((tmp_path / "objects").rglob("checkpoint.json"))
    assert len(found) == 1, found
    data: dict[str, object] = json.loads(found[0].read_text())
    return data


def test_resume_by_gtid_after_failover_to_a_replica_with_other_binlog_files(
    tmp_path: Path, topology: tuple[MariaDBServer, MariaDBServer]
) -> None:
    primary, replica = topology
    primary.execute(
        "CREATE DATABASE shop",
        "CREATE TABLE shop.orders (id INT PRIMARY KEY, status VARCHAR(20), amount INT)",
        *(f"INSERT INTO shop.orders VALUES ({i}, 'new', {i * 10})" for i in range(1, 41)),
    )
    settings = gtid_settings(tmp_path, primary)
    pipeline = Pipeline(primary, "shop", "t", settings)

    first = snapshot(settings, "shop", "t")
    assert first.rows == {"orders": 40}
    assert first.position.gtid and first.position.gtid.startswith("0-1-")
    primary.execute(
        "UPDATE shop.orders SET status = 'paid' WHERE id <= 10",  # 10 changes in one transaction
        "DELETE FROM shop.orders WHERE id BETWEEN 11 AND 15",  # 5
        *(f"INSERT INTO shop.orders VALUES ({i}, 'new', {i})" for i in range(41, 51)),  # 10
    )
    assert pipeline.run().changes == 25
    assert pipeline.target_rows("orders") == pipeline.source_rows("orders")
    at_primary = checkpoint(tmp_path)
    assert str(at_primary["binlog_file"]).startswith("mariadb-bin.")

    # Changes the pipeline has not read reach the replica; then the primary is gone for good.
    primary.execute(
        "UPDATE shop.orders SET amount = amount + 1 WHERE id BETWEEN 41 AND 45",  # 5
        *(f"INSERT INTO shop.orders VALUES ({i}, 'late', {i})" for i in range(51, 56)),  # 5
    )
    replica.wait_replicated(primary)
    primary.stop()
    replica.promote()
    replica.execute("FLUSH BINARY LOGS", "FLUSH BINARY LOGS")  # its file names and offsets share nothing
    replica.execute(
        "UPDATE shop.orders SET status = 'shipped' WHERE id <= 5",  # 5: newer than the primary's 'paid'
        "DELETE FROM shop.orders WHERE id = 41",  # 1
        "INSERT INTO shop.orders VALUES (100, 'after failover', 1)",  # 1
    )

    failed_over = Pipeline(replica, "shop", "t", settings.model_copy(update={"mysql_url": SecretStr(replica.url)}))
    result = failed_over.run()
    assert result.changes == 17  # exactly what the pipeline had not read: no replay, no gap
    assert failed_over.target_rows("orders") == failed_over.source_rows("orders")
    shipped = failed_over.target_query("SELECT count(*) FROM t.orders WHERE status = 'shipped'")
    assert shipped == [(5,)]  # the replica's changes outrank the old primary's by _s3rb_seq
    at_replica = checkpoint(tmp_path)
    assert str(at_replica["binlog_file"]).startswith("replica-bin.")
    assert str(at_replica["gtid"]).startswith("0-2-")  # the promoted server's own transactions
    assert int(str(at_replica["gtid_ordinal"])) > int(str(at_primary["gtid_ordinal"]))


def first_run(tmp_path: Path, primary: MariaDBServer) -> Settings:
    """A GTID pipeline on an empty shop.orders, checkpointed at the current position."""
    primary.execute("CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY)")
    settings = gtid_settings(tmp_path, primary)
    run(settings, "shop", "t", until_caught_up=True, start_position="current")
    return settings


def test_switching_positioning_under_an_existing_checkpoint_is_refused(
    tmp_path: Path, topology: tuple[MariaDBServer, MariaDBServer]
) -> None:
    settings = first_run(tmp_path, topology[0])
    with pytest.raises(Exception, match="written with S3RB_POSITIONING=gtid, but it is now file"):
        run(settings.model_copy(update={"positioning": "file"}), "shop", "t", until_caught_up=True)


def test_purged_gtids_stop_the_source_with_the_lost_range_and_the_fix(
    tmp_path: Path, topology: tuple[MariaDBServer, MariaDBServer]
) -> None:
    primary, _ = topology
    settings = first_run(tmp_path, primary)
    primary.execute("INSERT INTO shop.orders VALUES (1)", "FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
    primary.purge_binary_logs()
    with pytest.raises(BinlogGone) as caught:
        run(settings, "shop", "t", until_caught_up=True)
    message = str(caught.value) + " " + str(caught.value.hint)
    assert "the server's binlogs no longer hold GTIDs up to 0-1-" in message
    assert "s3rb-stream snapshot --source-db shop --target-schema t -t orders --restart" in message


def test_cut_binlog_connections_reopen_from_our_gtid_state_without_replaying(
    file_pipeline: Pipeline,
) -> None:
    p = file_pipeline
    p.tables('tables:\n  - name: "{db}.orders"\n')
    p.sql("CREATE TABLE orders (id INT PRIMARY KEY, amount INT, filler VARCHAR(200))")
    with CuttingProxy(p.server.port) as proxy:
        p.configure(mysql_url=SecretStr(f"mysql://root@127.0.0.1:{proxy.port}"), positioning="gtid")
        p.run(start_position="current")
        filler = "x" * 150
        for start in range(0, 3000, 100):  # 30 transactions of 100 inserts
            values = ", ".join(f"({i}, {i}, '{filler}')" for i in range(start, start + 100))
            p.sql(f"INSERT INTO orders VALUES {values}")
        p.sql("UPDATE orders SET amount = amount + 1 WHERE id % 3 = 0", "DELETE FROM orders WHERE id % 10 = 0")
        proxy.cut_after_bytes, proxy.cuts_left = 100_000, 3
        result = p.run()
        assert proxy.cuts == 3
    assert result.changes == 3000 + 1000 + 300  # each change read once: reopened at our last commit
    assert p.target_rows("orders") == p.source_rows("orders")
