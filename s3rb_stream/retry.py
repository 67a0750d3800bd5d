"""How every loop of the pipeline tries again (docs/ARCHITECTURE.md, "Concurrency").

One helper, :class:`Retry`, driven by a :class:`Policy`: which errors are worth another try (by
default the transient ones: ``retryable`` in errors.py), how many failures in a row end the loop
(or none), and the delays between tries (``first``, doubling, at most ``cap``). A loop tells it each
failure (``failed``: try again, or give up?) and each success (``succeeded``: the count starts over),
and ``wait``s between tries, cut short by the loop's stop predicate. What a loop does on a failure
(log, count a metric, roll back, reconnect) stays in the loop. ``call`` is the whole loop for a step
that is tried until it returns.

The loops, and how each maps onto it:

- **capture's binlog reader** (``pipeline/pipeline.py``): reconnects after ``SourceUnavailable``
  from 0.5 s up to 30 s; a reconnect that made progress counts as a success. A batch run
  (``--until-caught-up``) gives up after 5 reconnects in a row without progress; a daemon never.
  Any other error ends the run (and the daemon's own loop, below, decides).
- **the load worker** (``pipeline/workers.py``): a daemon part that never ends on an outage. A pass
  that fails with a transient error is followed by a wait (up to ``MAX_LOAD_BACKOFF_SECONDS``) and
  another pass, while capture goes on and the part reports ``waiting``; a good pass starts the count
  over; a terminal error ends the worker, kept for the run.
- **a Redshift transaction** (``targets/redshift.py``, ``call``): a load, a table's preparation or
  the fence's claim is tried 5 times, 1, 2, 4 and 8 s apart, after an isolation conflict or a
  dropped connection (``targets/redshift_errors.py`` classifies by SQLSTATE and Redshift's error
  code); rolled back before each new try. A timeout is not tried again here: it is an outage that
  the loops above retry later.
- **one pipeline as a daemon** (``pipeline/supervisor.run_daemon``): a run that fails with a
  transient error is started again from its checkpoint, ``first_backoff`` up to 30 s apart, until
  stopped; a run that lasted ``HEALTHY_RUN_SECONDS`` counts as a success; a terminal error ends it.
- **several pipelines in one process** (``pipeline/supervisor.supervise``): every error is retried
  (``any_error``), ``first_backoff`` up to 300 s apart, so that one broken pipeline never stops the
  others; with ``until_caught_up`` a pipeline is given up after 3 failures in a row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from s3rb_stream.errors import S3rbError

T = TypeVar("T")
SLICE_SECONDS = 0.2  # a wait looks at its stop predicate this often


def transient(exc: BaseException) -> bool:
    """Whether trying again can help (errors.py says so per error class)."""
    return isinstance(exc, S3rbError) and exc.retryable


def any_error(exc: BaseException) -> bool:
    """Every error is tried again: for a loop that must outlive any one failure."""
    return True


def never() -> bool:
    return False


@dataclass(frozen=True, kw_only=True)
class Policy:
    """How one loop retries: which errors (``retry_if``), how many failures in a row before it gives
    up (``tries``; None: no limit) and how long it waits between tries."""

    first: float = 0.5
    cap: float = 30.0
    tries: int | None = None
    retry_if: Callable[[BaseException], bool] = transient

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: ``first``, doubling, at most ``cap``."""
        return min(self.cap, self.first * 2.0 ** (max(1, failures) - 1))


class Retry:
    """One loop's failures in a row under its ``policy``. ``stopping`` cuts a wait short (a signal);
    ``sleep`` and ``clock`` are the real ones except in tests."""

    def __init__(
        self,
        policy: Policy,
        stopping: Callable[[], bool] = never,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.stopping = stopping
        self.failures = 0
        self._sleep = sleep
        self._clock = clock

    def failed(self, exc: BaseException) -> bool:
        """Count a failure in a row. True: ``wait``, then try again. False: give up, because the
        policy does not retry this error or this was the last try."""
        self.failures += 1
        limit = self.policy.tries
        return self.policy.retry_if(exc) and (limit is None or self.failures < limit)

    def succeeded(self) -> None:
        """A success (or progress that counts as one): the next failure waits the shortest delay."""
        self.failures = 0

    def wait(self) -> float:
        """Sleep the delay for the failures so far, in short slices so that a stop is seen at once;
        the delay due (whether slept in full or cut short)."""
        delay = self.policy.delay(self.failures)
        deadline = self._clock() + delay
        while not self.stopping():
            left = deadline - self._clock()
            if left <= 0:
                break
            self._sleep(min(SLICE_SECONDS, left))
        return delay

    def call(self, step: Callable[[], T], on_retry: Callable[[Exception, int], None] = lambda exc, n: None) -> T:
        """``step`` until it returns. A failure the policy retries is handed to ``on_retry`` (the
        error, the failures in a row so far: log, roll back, reconnect) before the wait; any other,
        the last one, or one followed by a stop, is raised as it is."""
        while True:
            try:
                result = step()
            except Exception as exc:
                if not self.failed(exc):
                    raise
                on_retry(exc, self.failures)
                self.wait()
                if self.stopping():
                    raise
                continue
            self.succeeded()
            return result
