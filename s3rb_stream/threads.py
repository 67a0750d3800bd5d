"""The process's own threads leave the stop signals to the main thread."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def leave_signals_to_main() -> None:
    """Block SIGTERM and SIGINT in the calling thread, a worker's, at its start.

    Python runs signal handlers in the main thread only, but the kernel hands a process's signal to
    any thread that does not block it: to a worker waiting on a socket, say, which on a busy machine
    may not run for a while, so the main thread reads its stop flag too late (a snapshot wrote one
    page more than it should). Blocked in every worker, a signal goes to the main thread at once.
    Threads a worker starts inherit the mask."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def worker(target: Callable[..., Any]) -> Callable[..., Any]:
    """``target`` as a thread's target that first leaves the stop signals to the main thread."""

    def run(*args: Any, **kwargs: Any) -> Any:
        leave_signals_to_main()
        return target(*args, **kwargs)

    return run
