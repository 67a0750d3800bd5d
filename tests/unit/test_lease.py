"""The single-writer lease on the local store (no server): refuse, stand by, expire, take over."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from s3rb_stream.state.lease import Lease, LeaseHeld, LeaseLost
from s3rb_stream.store.local import LocalStore


def lease(tmp_path: Path, ttl: float = 30.0) -> Lease:
    return Lease(LocalStore(str(tmp_path)), "sales", "analytics", ttl)


def test_a_second_writer_is_refused_with_the_holders_name(tmp_path: Path) -> None:
    first, second = lease(tmp_path), lease(tmp_path)
    assert first.acquire(standby=False)
    with pytest.raises(LeaseHeld, match=rf"another instance writes sales → analytics: {first.owner}.*--standby"):
        second.acquire(standby=False)
    first.release()
    assert second.acquire(standby=False)  # released: taken at once


def test_a_standby_takes_over_when_the_holder_stops(tmp_path: Path) -> None:
    first, second = lease(tmp_path, ttl=6), lease(tmp_path, ttl=6)
    assert first.acquire(standby=False)
    taken = threading.Event()

    def stand_by() -> None:
        if second.acquire(standby=True):
            taken.set()

    waiter = threading.Thread(target=stand_by)
    waiter.start()
    time.sleep(0.5)
    assert not taken.is_set()
    first.release()
    waiter.join(timeout=10)
    assert taken.is_set()


def test_a_crashed_holders_lease_expires(tmp_path: Path) -> None:
    crashed, second = lease(tmp_path, ttl=5), lease(tmp_path, ttl=5)
    assert crashed.acquire(standby=False)  # and never renews
    with pytest.raises(LeaseHeld):
        second.acquire(standby=False)
    time.sleep(5.2)
    assert second.acquire(standby=False)


def test_a_holder_whose_lease_was_taken_stops(tmp_path: Path) -> None:
    first, second = lease(tmp_path, ttl=5), lease(tmp_path, ttl=5)
    assert first.acquire(standby=False)
    time.sleep(5.2)  # first stalled past its TTL
    assert second.acquire(standby=False)
    first.renewed = 0.0
    with pytest.raises(LeaseLost, match="taken by another instance"):
        first.renew()
    second.renewed = 0.0
    second.renew()  # the new holder renews fine


def test_conditional_writes_on_the_local_store(tmp_path: Path) -> None:
    store = LocalStore(str(tmp_path))
    token = store.put_if("k", b"1", None)
    assert token is not None and store.put_if("k", b"2", None) is None  # exists already
    assert store.put_if("k", b"3", "stale") is None
    assert store.put_if("k", b"4", token) is not None and store.get("k") == b"4"
    assert store.list("") == ["k"]  # the lock file is not an object


def test_a_killed_holder_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    """kill -9 leaves a lease that would block a restart for its TTL; a dead pid on this host does not."""
    import subprocess
    import sys

    code = (
        "import sys; from s3rb_stream.state.lease import Lease; from s3rb_stream.store.local import LocalStore;"
        f" assert Lease(LocalStore({str(tmp_path)!r}), 'sales', 'analytics', 300).acquire(standby=False)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # exits holding a 300 s lease
    restarted = lease(tmp_path, ttl=300)
    assert restarted.acquire(standby=False)


def test_a_live_holder_in_another_process_is_not_taken_over(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, time; from s3rb_stream.state.lease import Lease; from s3rb_stream.store.local import"
        f" LocalStore; assert Lease(LocalStore({str(tmp_path)!r}), 'sales', 'analytics', 300).acquire(standby=False);"
        " print('held', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert "held" in iter(lambda: holder.stdout.readline().strip(), "")  # type: ignore[union-attr]
        with pytest.raises(LeaseHeld):
            lease(tmp_path, ttl=300).acquire(standby=False)
    finally:
        holder.kill()
        holder.wait()
    assert lease(tmp_path, ttl=300).acquire(standby=False)  # killed: its pid is gone


def test_a_lease_left_by_a_failed_run_in_this_process_is_taken_over(tmp_path: Path) -> None:
    """The daemon retries a run that failed while the store was down; its old record must not block it."""
    failed = lease(tmp_path, ttl=300)
    assert failed.acquire(standby=False)
    failed.token = None  # its release could not reach the store: the record stays
    failed.release()
    assert lease(tmp_path, ttl=300).acquire(standby=False)
