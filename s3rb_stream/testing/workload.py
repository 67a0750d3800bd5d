"""A sustained OLTP write load on several tables, and the row-by-row comparison of source and target
that says how many rows a fault lost or duplicated.

Tables: ``customers`` and ``orders`` (merge: inserts, updates, deletes, some multi-table
transactions), ``events`` (append, inserts only: a duplicate delivery shows as a second row) and
``markers`` (merge: probes of end-to-end latency).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pymysql

from s3rb_stream.testing.mariadb import MariaDBServer

TABLES_DDL = (
    "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, balance BIGINT NOT NULL,"
    " updated DATETIME(6) NOT NULL)",
    "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(16) NOT NULL,"
    " amount DECIMAL(12,2) NOT NULL, note VARCHAR(200), updated DATETIME(6) NOT NULL)",
    "CREATE TABLE events (id BIGINT PRIMARY KEY, kind VARCHAR(16) NOT NULL, payload VARCHAR(200))",
    "CREATE TABLE markers (id INT PRIMARY KEY, written_at DATETIME(6) NOT NULL)",
)
COLUMNS = {
    "customers": "id, name, balance, updated",
    "orders": "id, customer_id, status, amount, note, updated",
    "events": "id, kind, payload",
    "markers": "id, written_at",
}
MERGE_TABLES = ("customers", "orders", "markers")
APPEND_TABLES = ("events",)


def tables_yaml(db: str) -> str:
    return (
        "tables:\n"
        + "".join(f'  - name: "{db}.{t}"\n' for t in MERGE_TABLES)
        + "".join(f'  - name: "{db}.{t}"\n    mode: append\n' for t in APPEND_TABLES)
    )


@dataclass
class Workload:
    """Writes random transactions to ``db`` on ``server`` (or ``port``) from a thread until stopped.

    A dropped connection (a restarted server, a cut) is reconnected; a transaction whose outcome is
    unknown is not retried: the comparison reads what the source holds, not what was attempted.
    """

    server: MariaDBServer
    db: str
    seed: int = 1
    rate: float = 300.0  # transactions per second at most
    changes: int = 0
    transactions: int = 0
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _rng: random.Random = field(default_factory=random.Random)
    _next_id: Counter[str] = field(default_factory=Counter)
    _live: dict[str, list[int]] = field(default_factory=lambda: {"customers": [], "orders": []})
    _markers: int = 0

    def create(self) -> None:
        self.server.execute(f"CREATE DATABASE IF NOT EXISTS `{self.db}`")
        self.server.execute(*TABLES_DDL, database=self.db)
        self._rng.seed(self.seed)

    def start(self) -> Workload:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"workload-{self.db}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def marker(self) -> int:
        """Commit a marker row now; its id, to wait for in the target."""
        self._markers += 1
        for _ in range(100):
            try:
                self.server.execute(f"INSERT INTO markers VALUES ({self._markers}, NOW(6))", database=self.db)
                return self._markers
            except pymysql.err.OperationalError:
                time.sleep(0.2)  # the server is restarting
        raise RuntimeError("could not write a marker row")

    # ------------------------------------------------------------------ writing

    def _connect(self) -> Any:
        while not self._stop.is_set():
            try:
                return self.server.connect(self.db, autocommit=False)
            except pymysql.err.OperationalError:
                time.sleep(0.2)
        return None

    def _run(self) -> None:
        conn = self._connect()
        interval = 1.0 / self.rate
        while not self._stop.is_set() and conn is not None:
            started = time.monotonic()
            statements, changes = self._transaction()
            try:
                with conn.cursor() as cur:
                    for statement in statements:
                        cur.execute(statement)
                conn.commit()
                self.changes += changes
                self.transactions += 1
            except pymysql.err.MySQLError:
                self.errors += 1
                with contextlib.suppress(pymysql.err.Error):
                    conn.close()
                conn = self._connect()
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        if conn is not None:
            conn.close()

    def _new_id(self, table: str) -> int:
        self._next_id[table] += 1
        return self._next_id[table]

    def _transaction(self) -> tuple[list[str], int]:
        """One random transaction: statements and how many row changes they make."""
        rng = self._rng
        now = "NOW(6)"
        kind = rng.random()
        customers, orders = self._live["customers"], self._live["orders"]
        if kind < 0.10 or not customers:
            cid = self._new_id("customers")
            customers.append(cid)
            return [f"INSERT INTO customers VALUES ({cid}, 'customer {cid}', 0, {now})"], 1
        if kind < 0.45:
            rows = []
            for _ in range(rng.randint(1, 5)):
                oid = self._new_id("orders")
                orders.append(oid)
                amount = Decimal(rng.randint(100, 1_000_000)) / 100
                rows.append(f"({oid}, {rng.choice(customers)}, 'new', {amount}, 'note {oid}', {now})")
            return [f"INSERT INTO orders VALUES {', '.join(rows)}"], len(rows)
        if kind < 0.70 and orders:
            picked = {rng.choice(orders) for _ in range(rng.randint(1, 3))}
            status = rng.choice(["paid", "shipped", "returned"])
            ids = ", ".join(str(i) for i in sorted(picked))
            cid = rng.choice(customers)
            return [
                f"UPDATE orders SET status = '{status}', amount = amount + 1, updated = {now} WHERE id IN ({ids})",
                f"UPDATE customers SET balance = balance + {len(picked)}, updated = {now} WHERE id = {cid}",
            ], len(picked) + 1
        if kind < 0.80 and len(orders) > 10:
            oid = orders.pop(rng.randrange(len(orders)))
            return [f"DELETE FROM orders WHERE id = {oid}"], 1
        if kind < 0.83 and len(customers) > 20:
            cid = customers[rng.randrange(len(customers))]
            return [f"UPDATE customers SET name = CONCAT(name, '+'), updated = {now} WHERE id = {cid}"], 1
        rows = [
            f"({self._new_id('events')}, '{rng.choice(['view', 'click', 'buy'])}', 'payload {rng.random():.6f}')"
            for _ in range(rng.randint(1, 3))
        ]
        return [f"INSERT INTO events VALUES {', '.join(rows)}"], len(rows)


# ---------------------------------------------------------------------- comparing


@dataclass
class Comparison:
    """Per table: rows the target lacks or holds stale or deleted (lost), and extra copies (duplicated)."""

    lost: dict[str, int]
    duplicated: dict[str, int]
    rows: dict[str, int]
    examples: dict[str, list[Any]] = field(default_factory=dict)  # a few lost or duplicated keys

    @property
    def total_lost(self) -> int:
        return sum(self.lost.values())

    @property
    def total_duplicated(self) -> int:
        return sum(self.duplicated.values())

    @property
    def checksums_equal(self) -> bool:
        return self.total_lost == 0 and self.total_duplicated == 0


def normalize(value: Any) -> str:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return "" if value is None else str(value)


def row_digest(row: tuple[Any, ...]) -> str:
    return hashlib.sha256("\x1f".join(normalize(v) for v in row).encode()).hexdigest()


def compare(server: MariaDBServer, db: str, target_rows: Callable[[str, str], list[tuple[Any, ...]]]) -> Comparison:
    """Source and target, row by row, by a per-row checksum of every column.

    ``target_rows(table, columns)`` returns the target's rows of those columns (key first).
    """
    lost: dict[str, int] = {}
    duplicated: dict[str, int] = {}
    counts: dict[str, int] = {}
    examples: dict[str, list[Any]] = {}
    conn = server.connect(db)
    try:
        for table, columns in COLUMNS.items():
            with conn.cursor() as cur:
                cur.execute(f"SELECT {columns} FROM {table}")
                source = {row[0]: row_digest(row) for row in cur.fetchall()}
            target: dict[Any, list[str]] = {}
            for row in target_rows(table, columns):
                target.setdefault(row[0], []).append(row_digest(row))
            counts[table] = len(source)
            wrong = [key for key, digest in source.items() if digest not in target.get(key, [])]
            wrong += [key for key in target if key not in source]  # a delete that never arrived
            twice = [key for key, copies in target.items() if len(copies) > 1]
            lost[table] = len(wrong)
            duplicated[table] = sum(len(target[key]) - 1 for key in twice)
            if wrong or twice:
                examples[table] = sorted(wrong)[:5] + sorted(twice)[:5]
    finally:
        conn.close()
    return Comparison(lost, duplicated, counts, examples)
