"""The parts of a run on their own clocks, as pure logic: the backlog's count, what health and
readiness say about parts, and how the load worker treats retryable and fatal errors."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from s3rb_stream import metrics
from s3rb_stream.errors import FencedOut, WarehouseUnavailable
from s3rb_stream.metrics import PartState
from s3rb_stream.pipeline.load import Loader, LoadStats
from s3rb_stream.pipeline.shared import CaptureProgress, TableRegistry
from s3rb_stream.pipeline.workers import Backlog, LoadWorker

LABELS = ("unit_src", "unit_target")


def test_the_backlog_is_what_the_last_pass_left_plus_what_was_written_since() -> None:
    backlog = Backlog(max_batches=3)
    for _ in range(2):
        backlog.wrote()
    assert backlog.pending == 2 and not backlog.full()
    mark = backlog.mark()  # a load pass begins ...
    backlog.wrote()  # ... capture writes on meanwhile ...
    backlog.settle(mark, remaining=1)  # ... and the pass leaves one batch (held back)
    assert backlog.pending == 2
    backlog.wrote()
    assert backlog.full()


def test_the_backlog_gauge_goes_down_when_the_loads_apply_what_was_written() -> None:
    """s3rb_batches_backlog follows the count both ways, not only up as capture writes."""
    labels = ("gauge_src", "gauge_target")
    backlog = Backlog(max_batches=10, labels=labels)

    def gauge() -> float | None:
        return metrics.REGISTRY.get_sample_value("s3rb_batches_backlog", dict(zip(metrics.SOURCE, labels, strict=True)))

    backlog.wrote()
    backlog.wrote()
    assert gauge() == 2
    backlog.settle(backlog.mark(), remaining=0)  # a pass applied both
    assert gauge() == 0


def test_health_counts_busy_and_waiting_parts_as_alive_and_readiness_needs_the_lease() -> None:
    metrics.forget_parts(*LABELS)
    try:
        metrics.part(*LABELS, "lease", PartState.WAITING)  # a standby
        metrics.part(*LABELS, "load", PartState.BUSY)
        ok, lines = metrics.health(stale_after=60)
        assert ok and f"{LABELS[0]} → {LABELS[1]} load: busy (0s)" in lines
        assert metrics.readiness()[0] is False
        metrics.part(*LABELS, "lease", PartState.RUNNING)
        assert metrics.readiness() == (True, [f"{LABELS[0]} → {LABELS[1]}: writing"])
        metrics.part(*LABELS, "capture", PartState.RUNNING)
        assert metrics.health(stale_after=-1)[0] is False  # a running part that stopped beating
        metrics.part(*LABELS, "capture", PartState.FAILED)
        assert metrics.health(stale_after=60)[0] is False
    finally:
        metrics.forget_parts(*LABELS)
    assert metrics.health(stale_after=60) == (True, [])


def test_health_is_one_table_every_part_and_state_is_in() -> None:
    """A part reports only the states the table gives it; a lease being renewed still writes, and
    a waiting part says why in place of its state when it has a reason."""
    metrics.forget_parts(*LABELS)
    try:
        with pytest.raises(ValueError, match="'capture' does not take the state 'busy'"):
            metrics.part(*LABELS, "capture", PartState.BUSY)  # capture never blocks on a long step
        with pytest.raises(KeyError):
            metrics.part(*LABELS, "nothing", PartState.RUNNING)
        metrics.part(*LABELS, "lease", PartState.BUSY)  # renewing
        assert metrics.readiness()[0] is True
        metrics.part(*LABELS, "preflight", PartState.WAITING, "retrying after: source down")
        ok, lines = metrics.health(stale_after=-1)
        assert ok and f"{LABELS[0]} → {LABELS[1]} preflight: retrying after: source down (0s)" in lines
        assert set(metrics.STATES) == set(PartState) and all(metrics.PARTS.values())
    finally:
        metrics.forget_parts(*LABELS)


def test_the_table_registry_hands_out_copies_so_a_table_added_meanwhile_never_breaks_an_iteration() -> None:
    registry = TableRegistry([("a", "A"), ("b", "B")])  # type: ignore[list-item]
    seen: list[object] = []
    for entry in registry:
        registry.add("c", "C")  # type: ignore[arg-type]  # capture adopts a table during a load pass
        seen.append(entry)
    assert seen == [("a", "A"), ("b", "B")] and len(registry) == 4


class Warehouse:
    """Answers each load pass with the next outcome: stats, or an error to raise."""

    def __init__(self, outcomes: list[LoadStats | Exception]) -> None:
        self.outcomes = outcomes
        self.passes = 0
        self.idles = 0
        self.kept_open: list[bool] = []  # per pass: whether the worker asked to keep the warehouse
        self.done = threading.Event()

    def idle(self) -> None:
        self.idles += 1

    def load_all(self, idle: bool = True) -> LoadStats:
        self.kept_open.append(not idle)
        self.passes += 1
        outcome = self.outcomes.pop(0) if self.outcomes else LoadStats()
        if not self.outcomes:
            self.done.set()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def worker(outcomes: list[LoadStats | Exception], catching_up: bool = False) -> tuple[LoadWorker, Warehouse]:
    passes = Warehouse(outcomes)
    loader = cast(Loader, cast(Any, passes))
    return LoadWorker(loader, 60.0, Backlog(100), LABELS, CaptureProgress(caught_up=not catching_up)), passes


def test_an_outage_is_retried_until_the_load_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("s3rb_stream.pipeline.workers.MAX_LOAD_BACKOFF_SECONDS", 0.05)
    load, passes = worker([WarehouseUnavailable("down"), WarehouseUnavailable("down"), LoadStats(batches=2, rows=5)])
    load.start()
    load.poke()
    assert passes.done.wait(10)
    time.sleep(0.1)
    load.stop()
    assert passes.passes == 3 and load.error is None and load.stats.batches == 2 and load.last_success is not None
    # Each pass keeps the warehouse for a next one; the worker lets it go when nothing waits.
    assert passes.kept_open == [True, True, True] and passes.idles >= 3


def test_a_fatal_error_stops_the_worker_and_is_kept_for_the_run() -> None:
    fenced = FencedOut("another instance took over")
    load, passes = worker([fenced, LoadStats()])
    load.start()
    load.poke()
    deadline = time.monotonic() + 10
    while load.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    load.poke()
    time.sleep(0.1)
    load.stop()
    assert load.error is fenced and passes.passes == 1
    metrics.forget_parts(*LABELS)


def test_while_capture_catches_up_the_warehouse_is_kept_between_passes() -> None:
    for catching_up, idles_after_passes in ((True, 0), (False, 2)):
        load, passes = worker([LoadStats(), LoadStats()], catching_up=catching_up)
        load.start()
        load.poke()
        deadline = time.monotonic() + 10
        while passes.passes < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        load.poke()
        assert passes.done.wait(10)
        time.sleep(0.1)
        assert passes.idles == idles_after_passes, catching_up
        load.stop()
        assert passes.idles == idles_after_passes + 1  # let go when the worker stops, whatever
