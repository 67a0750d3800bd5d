"""The quickstart: a local MariaDB with binlog, a sample shop with ongoing writes, mirrored into
DuckDB through a local object store. Everything lives under ``data_dir``."""

from __future__ import annotations

import random
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from s3rb_stream import log as logging_setup
from s3rb_stream import metrics
from s3rb_stream.settings import load_settings
from s3rb_stream.sources import mysql_meta
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
    """Sample traffic: new and changed customers, new orders, some orders changed, a few deleted."""
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
            if rng.random() < 0.2:
                cur.execute("UPDATE orders SET note = 'shipped' ORDER BY RAND() LIMIT 1")
            if rng.random() < 0.1:
                cur.execute("DELETE FROM orders ORDER BY RAND() LIMIT 1")
            done += 1
            time.sleep(0.01)
    conn.close()
    return done


def _counter(name: str, **labels: str) -> float:
    """A metric summed over its labels (those given must match): what the daemon has done so far."""
    total = 0.0
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def render_rows(headers: list[str], rows: list[tuple[Any, ...]]) -> list[str]:
    """Rows under their column names, NULL shown as NULL."""
    cells = [[("NULL" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  " + "  ".join("-" * w for w in widths))
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return [line.rstrip() for line in lines]


def _query_hint(warehouse_path: Path) -> str:
    query = "SELECT * FROM analytics.orders ORDER BY id DESC LIMIT 5"
    if shutil.which("duckdb"):
        return f'look inside: duckdb {warehouse_path} "{query}"'
    python = Path(sys.executable)
    return (
        f"look inside: {python} -c \"import duckdb; print(duckdb.connect('{warehouse_path}',"
        f" read_only=True).sql('{query}'))\""
    )


def run_demo(seconds: float, data_dir: str) -> None:
    """The daemon, run as a user runs it, beside sample writes; then source and target compared."""
    from s3rb_stream.pipeline.runner import run
    from s3rb_stream.pipeline.types import RunResult, StopFlag
    from s3rb_stream.state.checkpoint import load_checkpoint
    from s3rb_stream.store import open_store
    from s3rb_stream.targets.duckdb import DuckDBWarehouse

    root = Path(data_dir).resolve()
    (root / "conf").mkdir(parents=True, exist_ok=True)
    log_path = root / "demo.log"
    log_file = log_path.open("a", encoding="utf-8")
    logging_setup.configure("json", "info", file=log_file)  # the daemon's log lines, out of the way
    tables_file = root / "conf" / "tables.yml"
    tables_file.write_text(TABLES_YML)
    server = MariaDBServer(basedir=root / "mariadb", port=0).start()
    click.echo(f"MariaDB with binlog running on 127.0.0.1:{server.port} (data in {root / 'mariadb'})")
    click.echo(f"the daemon's log lines go to {log_path}")
    try:
        server.execute(*SCHEMA)
        settings = load_settings(
            mysql_url=server.url,
            store_url=f"file://{root / 'objects'}",
            warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
            tables_file=tables_file,
            batch_max_age_seconds=1,
            load_interval_seconds=1,
            heartbeat_seconds=1,
        )
        stop = StopFlag()
        outcome: list[RunResult | BaseException] = []

        def daemon() -> None:
            try:
                outcome.append(run(settings, "shop", "analytics", until_caught_up=False, stop=stop))
            except BaseException as exc:  # shown below, as the command would
                outcome.append(exc)

        runner = threading.Thread(target=daemon, name="demo-daemon", daemon=True)
        runner.start()
        halt = threading.Event()
        writer = threading.Thread(target=lambda: _writes(server, seconds, halt), daemon=True)
        writer.start()
        click.echo(f"s3rb-stream run is capturing shop.* into DuckDB; writing to shop for {seconds:.0f}s ...")
        started = time.monotonic()
        while writer.is_alive() and runner.is_alive():
            writer.join(timeout=5)
            if not writer.is_alive():
                break  # the writes are over: the caught-up line says the rest
            captured, loaded = _counter("s3rb_changes_total"), _counter("s3rb_loaded_rows_total")
            click.echo(f"  {time.monotonic() - started:4.0f}s: {captured:,.0f} changes captured, {loaded:,.0f} loaded")
        halt.set()
        conn = mysql_meta.connect(settings.mysql())
        try:
            target = mysql_meta.current_position(conn)
        finally:
            conn.close()
        store = open_store(settings)
        deadline = time.monotonic() + 60
        while runner.is_alive() and time.monotonic() < deadline:  # until the checkpoint reaches the source's end
            checkpoint = load_checkpoint(store, "shop", "analytics")
            if checkpoint is not None and checkpoint.position.at_or_after(target):
                break
            time.sleep(0.5)
        stop.stopping = True  # as SIGTERM would: flush, a last load, release the lease
        runner.join(timeout=120)
        result = outcome[0] if outcome else None
        if not isinstance(result, RunResult):
            raise result if isinstance(result, BaseException) else RuntimeError("the daemon did not stop")
        ops = {op: _counter("s3rb_changes_total", op=op) for op in ("insert", "update", "delete")}
        click.echo(
            f"caught up at {result.position}: {result.changes:,} changes captured ({ops['insert']:,.0f} inserts,"
            f" {ops['update']:,.0f} updates, {ops['delete']:,.0f} deletes), {result.loaded.rows:,} rows loaded;"
            " the daemon stopped"
        )
        _compare(server, DuckDBWarehouse(str(root / "warehouse.duckdb"), read_only=True))
        click.echo(f"\nobjects: {root / 'objects'}   warehouse: {root / 'warehouse.duckdb'}")
        click.echo(_query_hint(root / "warehouse.duckdb"))
    finally:
        server.stop()
        log_file.close()


def _compare(server: MariaDBServer, warehouse: Any) -> None:
    conn = server.connect("shop")
    with conn.cursor() as cur:
        counts = {}
        for table in ("customers", "orders"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    conn.close()
    try:
        click.echo("\nsource (MariaDB shop.*)  vs  target (DuckDB analytics.*)")
        for table, source_count in counts.items():
            target_count = warehouse.query(f"SELECT COUNT(*) FROM {warehouse.table_sql('analytics', table)}")[0][0]
            click.echo(f"  {table:10} {source_count:8} rows   {target_count:8} rows")
        columns = ["id", "customer_id", "amount", "note", "_s3rb_op", "_s3rb_source_ts"]
        orders = f"SELECT {', '.join(columns)} FROM {warehouse.table_sql('analytics', 'orders')}"
        rows = warehouse.query(f"{orders} WHERE _s3rb_op = 'c' ORDER BY id DESC LIMIT 3")
        rows += warehouse.query(f"{orders} WHERE _s3rb_op = 'u' ORDER BY _s3rb_source_ts DESC, id LIMIT 3")
        click.echo("\nnewest orders in DuckDB, created (_s3rb_op c) and updated (u); deleted ones are gone:")
        for line in render_rows(columns, rows):
            click.echo(line)
    finally:
        warehouse.close()
