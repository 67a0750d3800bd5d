"""The process's worker threads block the stop signals, so that the kernel hands SIGTERM and SIGINT
to the main thread, where Python runs their handlers, at once."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor

from s3rb_stream.log import in_this_context
from s3rb_stream.threads import STOP_SIGNALS, leave_signals_to_main, worker


def blocked_in() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_worker_threads_leave_the_stop_signals_to_the_main_thread() -> None:
    seen: dict[str, set[int]] = {}

    def note(name: str) -> None:
        seen[name] = blocked_in()
        child = threading.Thread(target=lambda: seen.__setitem__(f"{name} child", blocked_in()))
        child.start()
        child.join()

    targets = [worker(lambda: note("worker")), in_this_context(lambda: note("context")), lambda: note("plain")]
    for target in targets:
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    with ThreadPoolExecutor(1, "t", leave_signals_to_main) as pool:
        seen["pool"] = pool.submit(blocked_in).result()
    for name in ("worker", "context", "pool", "worker child"):  # a thread a worker starts inherits the mask
        assert seen[name] >= STOP_SIGNALS, name
    assert not STOP_SIGNALS & seen["plain"]  # only where asked: the main thread and others keep them
    assert not STOP_SIGNALS & blocked_in()
