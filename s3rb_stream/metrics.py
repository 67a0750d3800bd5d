"""Prometheus metrics and the health endpoints (``S3RB_METRICS_PORT``: ``/metrics``, ``/healthz``, ``/readyz``).

Per source (``source_db``, ``target_schema``): lag, bytes behind, changes by op, batches written.
Per table: batches pending, freshness, load duration, errors, coercions. Lag and freshness are
computed when scraped, from the newest commit time seen, so they keep growing while nothing moves.
deploy/metrics.md is the reference; deploy/alerts.yml has sample alert rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from s3rb_stream.threads import worker

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: process_start_time_seconds says it
REGISTRY = CollectorRegistry()
# The process's own: resident memory, CPU seconds, open files, start time (process_*), and Python's.
REGISTRY.register(PROCESS_COLLECTOR)
REGISTRY.register(PLATFORM_COLLECTOR)
SOURCE = ["source_db", "target_schema"]
TABLE = [*SOURCE, "table"]

CHANGES = Counter("s3rb_changes", "Row changes captured, by operation.", [*SOURCE, "op"], registry=REGISTRY)
BATCHES_WRITTEN = Counter("s3rb_batches_written", "Batch objects written.", TABLE, registry=REGISTRY)
QUARANTINED = Gauge(
    "s3rb_quarantined_tables",
    "1 while the table is quarantined (not captured until re-snapshot), else 0.",
    TABLE,
    registry=REGISTRY,
)
BATCHES_PENDING = Gauge("s3rb_batches_pending", "Batch objects written, not yet applied.", TABLE, registry=REGISTRY)
BYTES_BEHIND = Gauge(
    "s3rb_binlog_behind_bytes", "Binlog bytes between capture and the source.", SOURCE, registry=REGISTRY
)
BINLOG_CONNECTED = Gauge(
    "s3rb_binlog_connected", "1 while the binlog connection to the source is open.", SOURCE, registry=REGISTRY
)
# A load into Redshift takes seconds to minutes (a COPY and a MERGE per table); DuckDB's, milliseconds.
LOAD_BUCKETS = (0.05, 0.25, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
STORE_REQUESTS = Counter(
    "s3rb_store_requests",
    "Requests made to the object store, by kind (a list request is one page).",
    ["kind"],
    registry=REGISTRY,
)
LOAD_PASS_REQUESTS = Gauge(
    "s3rb_load_pass_store_requests",
    "Object store requests the last load pass made, by kind: flat however long the pipeline has run.",
    [*SOURCE, "kind"],
    registry=REGISTRY,
)
OBJECTS_REMOVED = Counter(
    "s3rb_objects_removed",
    "Objects removed by cleanup once applied and older than S3RB_RETAIN_APPLIED_HOURS, by kind (batch, fitted,"
    " manifest).",
    [*TABLE, "kind"],
    registry=REGISTRY,
)
VERIFY_ROWS_CHECKED = Counter(
    "s3rb_verify_rows_checked", "Source rows verify compared with the target.", TABLE, registry=REGISTRY
)
VERIFY_DIFFERENCES = Gauge(
    "s3rb_verify_differences",
    "Differences the last verify of a table found, by kind (missing, extra, differs).",
    [*TABLE, "kind"],
    registry=REGISTRY,
)
LOAD_SECONDS = Histogram(
    "s3rb_load_duration_seconds", "Duration of one load of a table.", TABLE, buckets=LOAD_BUCKETS, registry=REGISTRY
)
LOADED_ROWS = Counter("s3rb_loaded_rows", "Rows staged into the target.", TABLE, registry=REGISTRY)
# kind: load, capture (the binlog connection), sync (a hybrid/full_sync run), lease, quarantine, cleanup.
# table is "" for errors of the whole pipeline.
ERRORS = Counter("s3rb_errors", "Errors, by where they happened.", [*TABLE, "kind"], registry=REGISTRY)
COERCIONS = Counter(
    "s3rb_coercions", "Values changed to fit the target, by policy.", [*TABLE, "column", "action"], registry=REGISTRY
)
CAPTURE_PAUSED = Gauge(
    "s3rb_capture_paused",
    "1 while capture waits because the batches pending in the store reached S3RB_MAX_PENDING_BATCHES.",
    SOURCE,
    registry=REGISTRY,
)
BATCHES_BACKLOG = Gauge(
    "s3rb_batches_backlog", "Batch objects written and not yet applied, all tables.", SOURCE, registry=REGISTRY
)


class PartState(StrEnum):
    """How a part of a pipeline is; what each means for the health endpoints is in :data:`STATES`."""

    RUNNING = "running"  # beats regularly, and is stalled when it stops beating
    BUSY = "busy"  # in a step that may take long (a load, a sync, a lease renewal)
    WAITING = "waiting"  # on purpose: a standby, capture paused by back-pressure, a load between passes
    FAILED = "failed"  # its run ends with an error


@dataclass(frozen=True)
class Meaning:
    """What a state says to ``/healthz`` (alive, and whether silence is a stall) and, for the lease,
    to ``/readyz`` (the pipeline writes)."""

    must_beat: bool
    alive: bool
    writes: bool


# The health table, as data (one row per state): /healthz and /readyz read nothing else.
STATES: dict[PartState, Meaning] = {
    PartState.RUNNING: Meaning(must_beat=True, alive=True, writes=True),
    PartState.BUSY: Meaning(must_beat=False, alive=True, writes=True),
    PartState.WAITING: Meaning(must_beat=False, alive=True, writes=False),
    PartState.FAILED: Meaning(must_beat=False, alive=False, writes=False),
}
# The parts of a pipeline (pipeline/workers.py, pipeline/runner.py) and the states each takes.
PARTS: dict[str, frozenset[PartState]] = {
    "preflight": frozenset({PartState.WAITING}),  # retrying after an outage, before the lease
    "lease": frozenset(PartState),
    "capture": frozenset({PartState.RUNNING, PartState.WAITING, PartState.FAILED}),
    "load": frozenset({PartState.WAITING, PartState.BUSY, PartState.FAILED}),
    "sync": frozenset({PartState.RUNNING, PartState.BUSY, PartState.FAILED}),
    "heartbeat": frozenset({PartState.RUNNING, PartState.BUSY, PartState.FAILED}),
    "verify": frozenset({PartState.RUNNING, PartState.BUSY, PartState.FAILED}),
}


@dataclass(frozen=True)
class _Row:
    state: PartState
    since: float  # wall clock of the report
    note: str  # said in place of the state's name when set (why preflight waits)


class Health:
    """The table of every pipeline's parts and their states in this process, shared by the
    threads that report and the HTTP thread that answers."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], _Row] = {}
        self._lock = threading.Lock()

    def report(self, source_db: str, target_schema: str, name: str, state: PartState, note: str = "") -> None:
        if state not in PARTS[name]:
            raise ValueError(f"part {name!r} does not take the state {state.value!r}")
        with self._lock:
            self._rows[(source_db, target_schema, name)] = _Row(state, time.time(), note)

    def forget(self, source_db: str, target_schema: str, name: str | None = None) -> None:
        """A part stopped (``name``), or a whole run ended: it no longer counts."""
        with self._lock:
            for key in [k for k in self._rows if k[:2] == (source_db, target_schema) and name in (None, k[2])]:
                del self._rows[key]

    def rows(self) -> list[tuple[tuple[str, str, str], _Row]]:
        with self._lock:
            return sorted(self._rows.items())


HEALTH = Health()


def part(source_db: str, target_schema: str, name: str, state: PartState, note: str = "") -> None:
    HEALTH.report(source_db, target_schema, name, state, note)


def forget_part(source_db: str, target_schema: str, name: str) -> None:
    HEALTH.forget(source_db, target_schema, name)


def forget_parts(source_db: str, target_schema: str) -> None:
    """A run ended: its parts no longer count."""
    HEALTH.forget(source_db, target_schema)


def health(stale_after: float) -> tuple[bool, list[str]]:
    """Alive unless a part has failed, or a part that must beat has not for ``stale_after``."""
    now, ok, lines = time.time(), True, []
    for (source_db, target_schema, name), row in HEALTH.rows():
        age = now - row.since
        meaning = STATES[row.state]
        stalled = meaning.must_beat and age > stale_after
        ok = ok and meaning.alive and not stalled
        label = "stalled" if stalled else row.note or row.state.value
        lines.append(f"{source_db} → {target_schema} {name}: {label} ({age:.0f}s)")
    return ok, lines


def readiness() -> tuple[bool, list[str]]:
    """Ready when every pipeline of the process holds its lease (a standby is alive, not ready)."""
    leases = {key[:2]: row.state for key, row in HEALTH.rows() if key[2] == "lease"}
    lines = [f"{s} → {t}: {'writing' if STATES[st].writes else st.value}" for (s, t), st in sorted(leases.items())]
    return bool(leases) and all(STATES[st].writes for st in leases.values()), lines


class _Clocks(Collector):
    """Lag and freshness, as of the scrape."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_event: dict[tuple[str, str], float] = {}
        self.newest_applied: dict[tuple[str, str, str], float] = {}
        self.alive: float = 0.0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        lag = GaugeMetricFamily(
            "s3rb_source_lag_seconds",
            "Now minus the source commit time of the newest transaction read (any table).",
            labels=SOURCE,
        )
        read = GaugeMetricFamily(
            "s3rb_source_read_timestamp_seconds",
            "Source commit time of the newest transaction read (any table), Unix seconds.",
            labels=SOURCE,
        )
        fresh = GaugeMetricFamily(
            "s3rb_freshness_seconds",
            "Now minus the source time up to which the target table is complete.",
            labels=TABLE,
        )
        complete = GaugeMetricFamily(
            "s3rb_target_complete_timestamp_seconds",
            "Source time up to which every change of the table is applied to the target, Unix seconds.",
            labels=TABLE,
        )
        with self.lock:
            for key, ts in self.last_event.items():
                lag.add_metric(list(key), max(0.0, now - ts))
                read.add_metric(list(key), ts)
            for tkey, ts in self.newest_applied.items():
                fresh.add_metric(list(tkey), max(0.0, now - ts))
                complete.add_metric(list(tkey), ts)
        yield lag
        yield read
        yield fresh
        yield complete


CLOCKS = _Clocks()
REGISTRY.register(CLOCKS)


def event_read(source_db: str, target_schema: str, commit_ts: datetime | None) -> None:
    """An event was read; ``None`` (a heartbeat at the end of the binlog) means caught up now."""
    with CLOCKS.lock:
        CLOCKS.last_event[(source_db, target_schema)] = commit_ts.timestamp() if commit_ts else time.time()
        CLOCKS.alive = time.time()


def applied(source_db: str, target_schema: str, table: str, newest: datetime | None) -> None:
    """A load applied changes up to ``newest``: a table's loads go in source order, so the table is
    complete up to it."""
    if newest is not None:
        complete(source_db, target_schema, table, newest)


def complete(source_db: str, target_schema: str, table: str, until: datetime) -> None:
    """Every change of the table up to source time ``until`` is in the target (a load pass left it
    nothing pending, or applied a change of that time): freshness is measured from there."""
    key = (source_db, target_schema, table)
    with CLOCKS.lock:
        CLOCKS.newest_applied[key] = max(CLOCKS.newest_applied.get(key, 0.0), until.timestamp())


def heartbeat() -> None:
    """The pipeline loop is alive (for ``/healthz``)."""
    with CLOCKS.lock:
        CLOCKS.alive = time.time()


def render() -> bytes:
    return generate_latest(REGISTRY)


class _Handler(BaseHTTPRequestHandler):
    stale_after = 60.0

    def do_GET(self) -> None:  # the http.server API
        if self.path.split("?")[0] == "/metrics":
            self._reply(200, render(), "text/plain; version=0.0.4; charset=utf-8")
        elif self.path.split("?")[0] == "/healthz":
            with CLOCKS.lock:
                age = time.time() - CLOCKS.alive
            ok, lines = health(self.stale_after)
            if not lines:  # no run yet (or between runs): whether anything moved lately
                ok = age <= self.stale_after
            head = f"{'ok' if ok else 'stalled'}: last progress {age:.0f}s ago"
            self._reply(200 if ok else 503, "\n".join([head, *lines]).encode() + b"\n")
        elif self.path.split("?")[0] == "/readyz":
            ready, lines = readiness()
            self._reply(200 if ready else 503, "\n".join(["ready" if ready else "not ready", *lines]).encode() + b"\n")
        else:
            self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # scrapes are not log lines
        return


def serve(port: int, stale_after: float, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 - S3RB_METRICS_ADDRESS
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` in a daemon thread. ``/healthz`` (liveness)
    turns 503 when a part of a pipeline failed or a running part has not beaten for ``stale_after``
    seconds; a long load, a standby and capture paused by back-pressure are alive. ``/readyz`` is 200
    while this process holds the lease of every pipeline it runs."""
    handler = type("Handler", (_Handler,), {"stale_after": stale_after})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=worker(server.serve_forever), name="s3rb-metrics", daemon=True).start()
    heartbeat()
    return server
