"""The fault-injection harness: real servers, the real daemon as a subprocess, a sustained write
load, faults, and then a row-by-row comparison of source and target.

Two families, each returning a :class:`FaultResult` (one line of the printed table):

* :func:`crash_trials`: ``kill -9`` of the daemon, at a named fault point (see
  :mod:`s3rb_stream.faultpoints`) or at a random moment, several times per trial while the load
  runs; then one ``run --until-caught-up`` and the comparison. Recovery time is that final run.
* :func:`outage_trial`: the daemon runs through a MariaDB restart, cut binlog connections, the S3
  server down, or the warehouse down (TCP proxies in front of each). Recovery time runs from the
  end of the fault until a marker row committed at that moment is visible in the target.

Used by ``tests/faults`` (a short variant in CI) and ``bench/faults.py`` (the full variant).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import redshift_connector

from s3rb_stream.faultpoints import POINTS
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.emulator_server import RedshiftEmulatorServer
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server
from s3rb_stream.testing.tcp_proxy import CuttingProxy
from s3rb_stream.testing.workload import Comparison, Workload, compare, tables_yaml

ROLE = "arn:aws:iam::123456789012:role/s3rb-copy"
OUTAGES = ("mariadb restart", "binlog connection cuts", "S3 down", "warehouse down")
# How many visits of each point before the kill: spread over a run's first seconds.
VISITS = {"capture.commit": (1, 300), "store.write": (1, 8), "checkpoint.write": (1, 6), "load.begin": (1, 4),
          "load.copy": (1, 4), "load.merge": (1, 4), "cleanup.removed": (1, 3)}  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """How hard to push: trials and kills per fault point, and how long each outage lasts."""

    point_trials: int
    point_kills: int
    random_trials: int
    random_kills: int
    outage_seconds: dict[str, float]
    disk_full_seconds: float


SHORT = Variant(1, 2, 1, 3, {"mariadb restart": 2, "binlog connection cuts": 3, "S3 down": 8, "warehouse down": 8}, 5)
FULL = Variant(3, 3, 5, 4, {"mariadb restart": 5, "binlog connection cuts": 5, "S3 down": 30, "warehouse down": 60}, 30)


@dataclass
class FaultResult:
    fault: str
    trials: int
    load: int  # row changes the workload committed during the trials
    lost: int
    duplicated: int
    recovery_s: list[float] = field(default_factory=list)
    note: str = ""
    details: list[str] = field(default_factory=list)  # where and which keys, when a trial lost or doubled rows

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def format_table(results: list[FaultResult]) -> str:
    header = ("fault", "trials", "load (changes)", "rows lost", "rows duplicated", "time to recover", "note")
    lines = [header]
    for r in results:
        recovery = (
            f"{sum(r.recovery_s) / len(r.recovery_s):.1f} s avg, {max(r.recovery_s):.1f} s max" if r.recovery_s else "-"
        )
        lines.append((r.fault, str(r.trials), f"{r.load:,}", str(r.lost), str(r.duplicated), recovery, r.note))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


# ---------------------------------------------------------------------- the daemon


@dataclass
class Daemon:
    """``s3rb-stream run`` as a subprocess with the given environment; output appended to ``log``."""

    env: dict[str, str]
    db: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def _args(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "s3rb_stream", "run", "--source-db", self.db, "--target-schema", self.db, *extra]

    def start(self, fault: str | None = None) -> None:
        env = {**self.env, **({"S3RB_FAULT_KILL_AT": fault} if fault else {})}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self._args("--standby"), env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 60.0) -> int | None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def catch_up(self, *extra: str, timeout: float = 600.0) -> float:
        """``run --until-caught-up`` to the end; its duration."""
        started = time.monotonic()
        with open(self.log, "ab") as out:
            done = subprocess.run(
                self._args("--until-caught-up", *extra), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                timeout=timeout, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"catch-up run failed with {done.returncode}; see {self.log}")
        return time.monotonic() - started


def base_env(tables_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        **TEST_CREDENTIALS,
        "S3RB_TABLES_FILE": str(tables_file),
        "S3RB_HEARTBEAT_SECONDS": "0.5",
        "S3RB_BATCH_MAX_AGE_SECONDS": "1",
        "S3RB_LOAD_INTERVAL_SECONDS": "1",
        "S3RB_LEASE_SECONDS": "5",
        "S3RB_LOG_FORMAT": "json",
        # Applied batches removed a few seconds after their load, every two seconds: every trial
        # cleans up under its kills, and none may lose a batch not yet applied.
        "S3RB_RETAIN_APPLIED_HOURS": "0.001",
        "S3RB_CLEANUP_INTERVAL_SECONDS": "2",
    }


def trial_home(workdir: Path, db: str) -> Path:
    """A trial's own directory, with the tables file of the workload's tables in ``db``."""
    home = workdir / db
    home.mkdir(parents=True)
    (home / "tables.yml").write_text(tables_yaml(db))
    return home


def local_env(home: Path, server: MariaDBServer) -> dict[str, str]:
    """The daemon's settings for a trial into DuckDB through a local store, both under ``home``."""
    return base_env(home / "tables.yml") | {
        "S3RB_MYSQL_URL": server.url,
        "S3RB_STORE_URL": f"file://{home / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{home / 'w.duckdb'}",
    }


# ---------------------------------------------------------------------- crashes


def crash_trials(
    workdir: Path,
    server: MariaDBServer,
    point: str | None,
    trials: int,
    kills: int,
    seed: int = 7,
    prefix: str = "crash",
    rig: OutageRig | None = None,
) -> FaultResult:
    """``kill -9`` at ``point`` (None: at random moments), ``kills`` times per trial, under load.

    Into DuckDB through a local store, or with ``rig`` through S3 into the Redshift emulator (where
    ``load.copy`` is a real COPY and ``load.merge`` the moment before COMMIT).
    """
    rng = random.Random(seed)
    name = point or "random"
    result = FaultResult(f"kill -9 at {name}" + (" (S3 → Redshift)" if rig else ""), trials, 0, 0, 0)
    missed = 0
    for trial in range(trials):
        db = f"{prefix}_{name.replace('.', '_')}_{trial}"
        home = trial_home(workdir, db)
        env = local_env(home, server) if rig is None else rig.env(db, home / "tables.yml")
        workload = Workload(server, db, seed=seed + trial)
        workload.create()
        daemon = Daemon(env, db, home / "daemon.log")
        daemon.catch_up("--start-position", "current")  # the checkpoint: capture starts here
        workload.start()
        try:
            for _ in range(kills):
                if point is None:
                    daemon.start()
                    time.sleep(rng.uniform(1.0, 5.0))
                    daemon.kill9()
                    continue
                low, high = VISITS[point]
                daemon.start(f"{point}:{rng.randint(low, high)}")
                code = daemon.wait(timeout=45)
                if code is None:  # the point was not reached in time: kill anyway, and say so
                    daemon.kill9()
                    missed += 1
                elif code != -signal.SIGKILL:
                    raise RuntimeError(f"the daemon exited with {code} instead of being killed; see {daemon.log}")
        finally:
            workload.stop()
        result.load += workload.changes
        result.recovery_s.append(daemon.catch_up())
        target = _duckdb_rows(home / "w.duckdb", db) if rig is None else rig.target_rows(db)
        _add(result, compare(server, db, target), home)
    if missed:
        result.note = f"{missed} of {trials * kills} kills came by timeout: the point was not reached"
    return result


def disk_full_trial(workdir: Path, server: MariaDBServer, full_seconds: float, seed: int = 5) -> FaultResult:
    """The local store's disk full for ``full_seconds`` under load (see :mod:`.disk_full`)."""
    db = "disk_full"
    home = trial_home(workdir, db)
    store = home / "objects"
    env = local_env(home, server)
    workload = Workload(server, db, seed=seed)
    workload.create()
    driver = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-m", "s3rb_stream.testing.disk_full",
         "--store", str(store), "--db", db, "--log", str(home / "daemon.log"), "--full-seconds", str(full_seconds)],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert driver.stdin is not None and driver.stdout is not None

    def expect(word: str) -> str:
        line = driver.stdout.readline().strip()  # type: ignore[union-attr]
        if line != word:
            driver.kill()
            raise RuntimeError(f"the disk-full driver said {line!r}, not {word!r}; see {home / 'daemon.log'}")
        return line

    expect("ready")
    workload.start()
    try:
        expect("full")
        expect("freed")
        time.sleep(3.0)
    finally:
        workload.stop()
    driver.stdin.write("go\n")
    driver.stdin.flush()
    report = json.loads(driver.stdout.readline())
    driver.wait(timeout=60)
    if report["exit_code"] != 0:
        raise RuntimeError(f"the daemon exited with {report['exit_code']} on SIGTERM; see {home / 'daemon.log'}")
    result = FaultResult(
        "local store disk full", 1, workload.changes, 0, 0, [report["recovery_s"]],
        f"{report['full_errors']} 'disk is full' errors logged while full; the daemon kept running",
    )  # fmt: skip
    _add(result, compare(server, db, _duckdb_rows(home / "w.duckdb", db)), home)
    return result


def _duckdb_rows(path: Path, schema: str) -> Any:
    def rows(table: str, columns: str) -> list[tuple[Any, ...]]:
        wh = DuckDBWarehouse(str(path), read_only=True)
        try:
            return wh.query(f"SELECT {columns} FROM {wh.table_sql(schema, table)}")
        finally:
            wh.close()

    return rows


def _add(result: FaultResult, outcome: Comparison, home: Path | None = None) -> None:
    result.lost += outcome.total_lost
    result.duplicated += outcome.total_duplicated
    if outcome.examples:
        result.details.append(f"{home}: keys lost or doubled per table: {outcome.examples}")


# ---------------------------------------------------------------------- outages


@dataclass
class OutageRig:
    """MariaDB, moto S3 and the Redshift emulator, each behind a proxy the faults act on."""

    workdir: Path
    server: MariaDBServer
    s3: MotoS3Server
    emulator: RedshiftEmulatorServer
    mysql_proxy: CuttingProxy
    s3_proxy: CuttingProxy
    warehouse_proxy: CuttingProxy

    def env(self, db: str, tables_file: Path) -> dict[str, str]:
        bucket = db.replace("_", "-")
        boto3.client("s3", endpoint_url=self.s3.endpoint_url).create_bucket(Bucket=bucket)
        return base_env(tables_file) | {
            "S3RB_MYSQL_URL": f"mysql://root@127.0.0.1:{self.mysql_proxy.port}",
            "S3RB_STORE_URL": f"s3://{bucket}/cdc",
            "S3RB_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_proxy.port}",
            "S3RB_WAREHOUSE_URL": f"redshift://postgres:not-checked@127.0.0.1:{self.warehouse_proxy.port}/postgres?ssl=false",
            "S3RB_REDSHIFT_IAM_ROLE": ROLE,
        }

    def target_rows(self, schema: str) -> Any:
        def rows(table: str, columns: str) -> list[tuple[Any, ...]]:
            conn = redshift_connector.connect(
                host="127.0.0.1", port=self.emulator.port, user="postgres", password="", database="postgres", ssl=False
            )
            try:
                cur = conn.cursor()
                cur.execute(f"SELECT {columns} FROM {schema}.{table}")
                return [tuple(r) for r in cur.fetchall()]
            finally:
                conn.close()

        return rows

    def marker_visible(self, schema: str, marker: int) -> bool:
        try:
            return any(row[0] == marker for row in self.target_rows(schema)("markers", "id"))
        except redshift_connector.error.Error:
            return False  # the table is not there yet


@contextlib.contextmanager
def outage_rig(workdir: Path) -> Iterator[OutageRig]:
    for key, value in TEST_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(MariaDBServer())
        s3 = stack.enter_context(MotoS3Server())
        emulator = stack.enter_context(RedshiftEmulatorServer(s3.endpoint_url))
        proxies = [stack.enter_context(CuttingProxy(port)) for port in (server.port, s3.port, emulator.port)]
        yield OutageRig(workdir, server, s3, emulator, *proxies)


def wait_for_marker(rig: OutageRig, daemon: Daemon, marker: int, timeout: float = 600.0) -> float:
    """Seconds until ``marker`` is in the target; an error if the daemon died or it took too long."""
    started = time.monotonic()
    while not rig.marker_visible(daemon.db, marker):
        if daemon.proc is not None and daemon.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {daemon.proc.returncode} during the fault; see {daemon.log}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"marker {marker} did not reach {daemon.db} within {timeout:.0f} s; see {daemon.log}")
        time.sleep(0.2)
    return time.monotonic() - started


def outage_trial(rig: OutageRig, fault: str, duration: float, seed: int = 11) -> FaultResult:
    """The daemon runs under load through ``fault`` lasting ``duration`` seconds."""
    db = "outage_" + "".join(ch if ch.isalnum() else "_" for ch in fault.lower())
    home = trial_home(rig.workdir, db)
    daemon = Daemon(rig.env(db, home / "tables.yml"), db, home / "daemon.log")
    workload = Workload(rig.server, db, seed=seed)
    workload.create()
    daemon.catch_up("--start-position", "current")
    daemon.start()
    workload.start()
    try:
        time.sleep(3.0)
        baseline = wait_for_marker(rig, daemon, workload.marker())
        _inject(rig, fault, duration)
        recovery = wait_for_marker(rig, daemon, workload.marker())
    finally:
        workload.stop()
    wait_for_marker(rig, daemon, workload.marker())
    code = daemon.terminate()
    if code != 0:
        raise RuntimeError(f"the daemon exited with {code} on SIGTERM; see {daemon.log}")
    result = FaultResult(fault, 1, workload.changes, 0, 0, [recovery], f"end-to-end latency before: {baseline:.1f} s")
    _add(result, compare(rig.server, db, rig.target_rows(db)), home)
    return result


def _inject(rig: OutageRig, fault: str, duration: float) -> None:
    if fault == "mariadb restart":
        rig.server.restart(down_seconds=duration)
    elif fault == "binlog connection cuts":
        rig.mysql_proxy.cut_after_bytes, rig.mysql_proxy.cuts_left = 20_000, max(1, int(duration))
        deadline = time.monotonic() + 120
        while rig.mysql_proxy.cuts_left > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        rig.mysql_proxy.cut_after_bytes = None
    elif fault == "S3 down":
        rig.s3_proxy.set_down(True)
        time.sleep(duration)
        rig.s3_proxy.set_down(False)
    elif fault == "warehouse down":
        rig.warehouse_proxy.set_down(True)
        time.sleep(duration)
        rig.warehouse_proxy.set_down(False)
    else:
        raise ValueError(f"unknown outage {fault!r}; known: {', '.join(OUTAGES)}")


__all__ = [
    "FULL",
    "OUTAGES",
    "POINTS",
    "SHORT",
    "FaultResult",
    "Variant",
    "crash_trials",
    "disk_full_trial",
    "format_table",
    "outage_rig",
    "outage_trial",
]
