"""One retry policy for the whole pipeline: a transient error (``retryable`` in errors.py) is tried
again after a capped, doubling delay; a terminal one is not. The binlog reader, the loads, a
Redshift transaction and the daemon's restarts all wait this way."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from s3rb_stream.errors import S3rbError


def transient(exc: BaseException) -> bool:
    """Whether trying again can help (errors.py says so per error class)."""
    return isinstance(exc, S3rbError) and exc.retryable


@dataclass
class Backoff:
    """Delays of ``first``, doubling, at most ``cap`` seconds; ``reset`` after a success."""

    first: float = 0.5
    cap: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        return min(self.cap, self.first * 2.0 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0

    def wait(self, stopping: Callable[[], bool] = lambda: False) -> float:
        """Sleep the next delay, in short slices so that a stop is seen at once; the delay slept."""
        delay = self.next_delay()
        deadline = time.monotonic() + delay
        while not stopping() and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return delay
