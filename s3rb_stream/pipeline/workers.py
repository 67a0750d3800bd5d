"""The parts of one pipeline that run on their own clocks, each on a thread, so that capture never
waits for the warehouse, a query sync or the lease (docs/ARCHITECTURE.md, "Concurrency").

- :class:`Backlog`: batch objects written and not yet applied. The object store is the queue
  between capture and load; capture pauses reading beyond its bound, and never drops anything.
- :class:`LoadWorker`: loads when capture has written batches, and every load interval. An outage
  of the warehouse is retried with backoff while capture goes on; any other error stops the run.
- :class:`Ticker`: runs a small job on an interval (the lease's renewal, the query syncs).
- :class:`Parts`: a run's parts besides capture, started and stopped together.

Each part reports to ``metrics`` (``/healthz``): a long load is busy, not stalled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from s3rb_stream import metrics
from s3rb_stream.errors import S3rbError
from s3rb_stream.log import get_logger, in_this_context
from s3rb_stream.metrics import PartState
from s3rb_stream.pipeline.cleanup import Cleanup
from s3rb_stream.pipeline.load import Loader, LoadStats, add_stats
from s3rb_stream.pipeline.shared import CaptureProgress
from s3rb_stream.pipeline.sync import QueryScheduler
from s3rb_stream.pipeline.types import StopFlag
from s3rb_stream.pipeline.verify import scheduled_verify
from s3rb_stream.retry import Policy, Retry
from s3rb_stream.settings import Settings
from s3rb_stream.sources.heartbeat import HeartbeatWriter
from s3rb_stream.state.lease import Lease

log = get_logger(__name__)

MAX_LOAD_BACKOFF_SECONDS = 30.0  # a warehouse back from an outage is loaded into within this


@dataclass
class Backlog:
    """Batch objects written and not yet applied, as capture and the loader last knew them.

    ``pending`` is what the loader found left after its last pass, plus what was written since
    that pass began: exact once a pass has run, an undercount before.
    """

    max_batches: int
    labels: tuple[str, str] | None = None  # the pipeline whose s3rb_batches_backlog this keeps
    _written: int = 0
    _base: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrote(self) -> None:
        with self._lock:
            self._written += 1
        self._publish()

    def _publish(self) -> None:
        """The gauge follows the count both ways: up as capture writes, down as loads apply."""
        if self.labels is not None:
            metrics.BATCHES_BACKLOG.labels(*self.labels).set(self.pending)

    def mark(self) -> int:
        """Taken when a load pass begins."""
        with self._lock:
            return self._written

    def settle(self, mark: int, remaining: int) -> None:
        """A load pass that began at ``mark`` left ``remaining`` batches pending."""
        with self._lock:
            self._base = remaining - mark
        self._publish()

    @property
    def pending(self) -> int:
        with self._lock:
            return max(0, self._base + self._written)

    def full(self) -> bool:
        return self.pending >= self.max_batches


class LoadWorker:
    """Loads on its own thread. ``poke`` after writing batches; ``stop`` waits for a load in progress."""

    def __init__(
        self,
        loader: Loader,
        interval: float,
        backlog: Backlog,
        labels: tuple[str, str],
        progress: CaptureProgress | None = None,
        cleanup: Cleanup | None = None,
        cleanup_every: float = 600.0,
    ) -> None:
        """``cleanup``: run after a pass, every ``cleanup_every`` seconds.

        After a pass the warehouse is let go (a DuckDB file's lock, for a shell or ``status``)
        unless a batch was written meanwhile or ``progress`` says capture is still behind: the
        next pass then follows soon, and closing a DuckDB file checkpoints it, each time."""
        self.loader = loader
        self.progress = progress or CaptureProgress()
        self.interval = interval
        self.backlog = backlog
        self.labels = labels
        self.stats = LoadStats()
        self.error: S3rbError | None = None  # fatal: the run must end with it
        self.last_success: float | None = None  # wall clock
        self.cleanup = cleanup
        self.cleanup_every = cleanup_every
        self._next_cleanup = 0.0  # monotonic: the first pass is followed by a round
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=in_this_context(self._loop), name=f"s3rb-load-{labels[0]}", daemon=True)

    def start(self) -> LoadWorker:
        metrics.part(*self.labels, "load", PartState.WAITING)
        self._thread.start()
        return self

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self.loader.idle()  # the last pass may have kept the warehouse for a next one

    def _loop(self) -> None:
        # A daemon part: an outage is retried for as long as it lasts (retry.py), a good pass starts over.
        retry = Retry(Policy(cap=MAX_LOAD_BACKOFF_SECONDS), self._stopping.is_set)
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping.is_set():
                break
            mark = self.backlog.mark()
            metrics.part(*self.labels, "load", PartState.BUSY)  # however long it takes, a load is not a stall
            try:
                stats = self.loader.load_all(idle=False)
                self._clean_up_if_due()
                if not self._wake.is_set() and self.progress.caught_up:  # nothing to load right away
                    self.loader.idle()
            except S3rbError as exc:
                self.loader.idle()
                if not retry.failed(exc):
                    self.error = exc
                    metrics.part(*self.labels, "load", PartState.FAILED)
                    log.error("load failed for good; the run ends", error=str(exc))
                    return
                metrics.part(*self.labels, "load", PartState.WAITING)
                log.error("load failed; capture goes on, the load is retried", error=str(exc))
                retry.wait()
                self._wake.set()  # batches are still pending: try again at once after the backoff
                continue
            retry.succeeded()
            add_stats(self.stats, stats)
            self.backlog.settle(mark, stats.pending)
            self.last_success = time.time()
            metrics.part(*self.labels, "load", PartState.WAITING)

    def _clean_up_if_due(self) -> None:
        if self.cleanup is not None and time.monotonic() >= self._next_cleanup:
            self.cleanup.run(t.name for _, t in self.loader.tables.entries())
            self._next_cleanup = time.monotonic() + self.cleanup_every


class Ticker:
    """Runs ``job`` every ``interval`` seconds on its own thread until stopped; an error it raises is
    kept for the run to end with."""

    def __init__(self, name: str, interval: float, job: Callable[[], None], labels: tuple[str, str]) -> None:
        self.name = name
        self.interval = interval
        self.job = job
        self.labels = labels
        self.error: S3rbError | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=in_this_context(self._loop), name=f"s3rb-{name}-{labels[0]}", daemon=True
        )

    def start(self) -> Ticker:
        metrics.part(*self.labels, self.name, PartState.RUNNING)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            metrics.part(*self.labels, self.name, PartState.BUSY)  # a long sync is not a stall
            try:
                self.job()
            except S3rbError as exc:
                self.error = exc
                metrics.ERRORS.labels(*self.labels, "", self.name).inc()
                metrics.part(*self.labels, self.name, PartState.FAILED)
                return
            metrics.part(*self.labels, self.name, PartState.RUNNING)


def lease_renewal(lease: Lease, labels: tuple[str, str]) -> Ticker:
    """The ticker that keeps ``lease``: it asks often (the lease renews itself every third of its
    TTL), so a lost lease is seen within a second."""
    return Ticker("lease", min(1.0, lease.ttl / 6), lease.renew, labels)


class Parts:
    """The parts of a run besides capture, each on its own clock (pipeline/workers.py): the lease's
    renewal and the loads always (a batch run loads while it captures, too); in a daemon, the query
    syncs as well. Stopped in reverse order."""

    def __init__(
        self,
        settings: Settings,
        labels: tuple[str, str],
        loader: Loader,
        scheduler: QueryScheduler,
        lease: Lease | None,
        daemon: bool,
        progress: CaptureProgress | None = None,
    ) -> None:
        """``progress``: while capture is still behind the source, loads follow each other, and
        the warehouse is kept between them (see :class:`LoadWorker`)."""
        self.labels = labels
        self.backlog = Backlog(settings.max_pending_batches, labels)
        self.tickers: list[Ticker] = []
        if lease is not None:
            self.tickers.append(lease_renewal(lease, labels))
        self.cleanup = Cleanup(
            loader.store, loader.warehouse, *labels, retention=settings.retention(), fence=loader.fence
        )
        self.load = LoadWorker(
            loader,
            settings.load_interval_seconds,
            self.backlog,
            labels,
            progress,
            self.cleanup if daemon else None,
            settings.cleanup_interval_seconds,
        )
        if daemon and scheduler.tables:
            self.tickers.append(Ticker("sync", 1.0, lambda: self._sync(scheduler), labels))
        if daemon and settings.verify_interval_hours:
            every = settings.verify_interval_hours * 3600
            self.tickers.append(Ticker("verify", every, lambda: scheduled_verify(settings, *labels), labels))
        if daemon and settings.heartbeat_table:
            beats = HeartbeatWriter(settings.mysql(), settings.heartbeat_table, labels)
            self.tickers.append(Ticker("heartbeat", settings.heartbeat_table_seconds, beats.beat, labels))

    def _sync(self, scheduler: QueryScheduler) -> None:
        if scheduler.run_due():
            self.load.poke()

    def __enter__(self) -> Parts:
        for ticker in self.tickers:
            ticker.start()
        self.load.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_loads()
        for ticker in reversed(self.tickers):
            ticker.stop()
        metrics.forget_parts(*self.labels)

    def stop_loads(self) -> None:
        """Stop syncing and loading in the background (a load in progress finishes first)."""
        for ticker in self.tickers:
            if ticker.name == "sync":
                ticker.stop()
        self.load.stop()

    def wrote(self) -> None:
        """Capture wrote a batch object."""
        self.backlog.wrote()
        self.load.poke()

    def raise_failure(self) -> None:
        """A part that failed for good ends the run, with its error."""
        errors = [t.error for t in self.tickers] + [self.load.error]
        for error in errors:
            if error is not None:
                raise error

    def hold_back(self, stop: StopFlag) -> None:
        """Back-pressure: while the batches pending in the store are at their bound, capture waits,
        still alive, and reads on once the loads have caught up. Nothing is dropped."""
        if not self.backlog.full():
            return
        log.warning(
            "capture paused: loads are behind; the batches wait in the store, and reading resumes when they are loaded",
            pending=self.backlog.pending,
            max_pending_batches=self.backlog.max_batches,
        )
        metrics.CAPTURE_PAUSED.labels(*self.labels).set(1)
        metrics.part(*self.labels, "capture", PartState.WAITING)
        while self.backlog.full() and not stop.stopping:
            self.raise_failure()
            time.sleep(0.5)
        metrics.CAPTURE_PAUSED.labels(*self.labels).set(0)
        metrics.part(*self.labels, "capture", PartState.RUNNING)
        log.info("capture resumed", pending=self.backlog.pending)
