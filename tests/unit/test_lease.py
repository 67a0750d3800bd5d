"""The single-writer lease on the local store (no server): refuse, stand by, expire, take over."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from s3rb_stream.pipeline.lease import Lease, LeaseHeld, LeaseLost
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
