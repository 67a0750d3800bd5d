"""The quickstart: a local MariaDB with binlog, a sample shop with ongoing writes, mirrored into
DuckDB through a local object store. Everything lives under ``data_dir``."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import click

from s3rb_stream.settings import load_settings
from s3rb_stream.testing.mariadb import MariaDBServer

SCHEMA = [
    "CREATE DATABASE IF NOT EXISTS shop",
    """CREATE TABLE IF NOT EXISTS shop.customers (
        id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200), tier ENUM('free','pro'),
        updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))""",
    """CREATE TABLE IF NOT EXISTS shop.orders (
        id BIGINT UNSIGNED PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL,
        amount DECIMAL(12,2) NOT NULL, note TEXT, created_at DATETIME(6) NOT NULL)""",
]

TABLES_YML = """tables:
  - name: "shop.customers"
  - name: "shop.orders"
    mode: merge
"""


def _writes(server: MariaDBServer, seconds: float, stop: threading.Event) -> int:
    rng = random.Random(7)  # noqa: S311 - sample data, not secrets
    conn = server.connect("shop")
    done = 0
    deadline = time.monotonic() + seconds
    with conn.cursor() as cur:
        while time.monotonic() < deadline and not stop.is_set():
            cid = rng.randint(1, 200)
            cur.execute(
                "INSERT INTO customers (id, name, email, tier) VALUES (%s, %s, %s, %s)"
                " ON DUPLICATE KEY UPDATE email = VALUES(email), tier = VALUES(tier)",
                (cid, f"customer {cid}", f"c{cid}.{rng.randint(0, 99)}@example.com", rng.choice(["free", "pro"])),
            )
            cur.execute(
                "INSERT INTO orders (customer_id, amount, note, created_at) VALUES (%s, %s, %s, NOW(6))",
                (cid, round(rng.uniform(1, 500), 2), rng.choice([None, "gift", "express ✈"])),
            )
            if rng.random() < 0.1:
                cur.execute("DELETE FROM orders ORDER BY RAND() LIMIT 1")
            done += 1
            time.sleep(0.01)
    conn.close()
    return done


def run_demo(seconds: float, data_dir: str) -> None:
    from s3rb_stream.pipeline.runner import run
    from s3rb_stream.targets.duckdb import DuckDBWarehouse

    root = Path(data_dir).resolve()
    (root / "conf").mkdir(parents=True, exist_ok=True)
    tables_file = root / "conf" / "tables.yml"
    tables_file.write_text(TABLES_YML)
    server = MariaDBServer(basedir=root / "mariadb", port=0).start()
    click.echo(f"MariaDB with binlog running on 127.0.0.1:{server.port} (data in {root / 'mariadb'})")
    try:
        server.execute(*SCHEMA)
        settings = load_settings(
            mysql_url=server.url,
            store_url=f"file://{root / 'objects'}",
            warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
            tables_file=tables_file,
            batch_max_age_seconds=2,
        )
        stop = threading.Event()
        writer = threading.Thread(target=lambda: _writes(server, seconds, stop), daemon=True)
        writer.start()
        click.echo(f"writing to shop.customers and shop.orders for {seconds:.0f}s, mirroring every few seconds ...")
        while writer.is_alive():
            result = run(settings, "shop", "analytics", until_caught_up=True)
            click.echo(f"  caught up at {result.position}: {result.changes} changes, {result.loaded.rows} rows loaded")
            time.sleep(2)
        result = run(settings, "shop", "analytics", until_caught_up=True)
        conn = server.connect("shop")
        with conn.cursor() as cur:
            counts = {}
            for table in ("customers", "orders"):
                cur.execute(f"SELECT COUNT(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
        conn.close()
        warehouse = DuckDBWarehouse(str(root / "warehouse.duckdb"))
        try:
            click.echo("\nsource (MariaDB shop.*)  vs  target (DuckDB analytics.*)")
            for table, source_count in counts.items():
                target_count = warehouse.query(f"SELECT COUNT(*) FROM {warehouse.table_sql('analytics', table)}")[0][0]
                click.echo(f"  {table:10} {source_count:8} rows   {target_count:8} rows")
            click.echo("\nnewest orders in DuckDB:")
            rows = warehouse.query(
                "SELECT id, customer_id, amount, note, _s3rb_op, _s3rb_source_ts"
                f" FROM {warehouse.table_sql('analytics', 'orders')} ORDER BY id DESC LIMIT 5"
            )
            for row in rows:
                click.echo("  " + " | ".join(str(v) for v in row))
        finally:
            warehouse.close()
        click.echo(f"\nobjects: {root / 'objects'}   warehouse: {root / 'warehouse.duckdb'}")
    finally:
        server.stop()
