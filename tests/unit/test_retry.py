"""The one retry helper (s3rb_stream/retry.py): which errors it tries again, how many times, how
long it waits between tries (on a fake clock), and that a stop cuts a wait short."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from s3rb_stream.errors import ConfigError, FencedOut, SourceUnavailable, WarehouseUnavailable
from s3rb_stream.retry import Policy, Retry, any_error, transient


class Clock:
    """A monotonic clock that moves only when slept on; keeps every sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def retry(policy: Policy, stopping: Callable[[], bool] = lambda: False) -> tuple[Retry, Clock]:
    clock = Clock()
    return Retry(policy, stopping, sleep=clock.sleep, clock=clock), clock


def failing(errors: list[Exception], result: str = "done") -> tuple[Callable[[], str], list[int]]:
    """A step that raises each of ``errors`` in turn, then returns ``result``; counts its calls."""
    calls = [0]

    def step() -> str:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return result

    return step, calls


def test_delays_double_from_first_up_to_the_cap() -> None:
    policy = Policy(first=0.5, cap=3.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_each_wait_sleeps_its_delay_in_short_slices_and_a_success_starts_over() -> None:
    helper, clock = retry(Policy(first=0.5, cap=30.0))
    for _ in range(3):
        assert helper.failed(SourceUnavailable("down"))
    assert helper.wait() == 2.0
    assert clock.now == pytest.approx(102.0) and max(clock.sleeps) <= 0.2  # a stop is seen within 0.2 s
    helper.succeeded()
    assert helper.failed(SourceUnavailable("down")) and helper.wait() == 0.5


def test_a_stop_cuts_the_wait_short() -> None:
    stop = [False]
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        stop[0] = clock.now >= 101.0  # a signal arrives a second into the wait

    helper = Retry(Policy(first=30.0, cap=30.0), lambda: stop[0], sleep=sleep, clock=clock)
    helper.failed(WarehouseUnavailable("down"))
    helper.wait()
    assert 101.0 <= clock.now < 101.3


def test_only_transient_errors_are_retried_by_default() -> None:
    helper, _ = retry(Policy())
    assert helper.failed(WarehouseUnavailable("down"))
    assert not helper.failed(FencedOut("a newer holder"))
    assert not helper.failed(ValueError("a bug"))
    assert transient(SourceUnavailable("down")) and not transient(ConfigError("bad"))
    assert Retry(Policy(retry_if=any_error)).failed(ConfigError("bad"))


def test_tries_counts_failures_in_a_row_and_no_limit_never_gives_up() -> None:
    helper, _ = retry(Policy(tries=3))
    assert [helper.failed(SourceUnavailable("down")) for _ in range(3)] == [True, True, False]
    unlimited, _ = retry(Policy())
    assert all(unlimited.failed(SourceUnavailable("down")) for _ in range(1000))


def test_call_tries_again_until_the_step_returns() -> None:
    helper, clock = retry(Policy(first=1.0, tries=5))
    step, calls = failing([WarehouseUnavailable("down"), WarehouseUnavailable("down")])
    told: list[tuple[str, int]] = []
    assert helper.call(step, lambda exc, n: told.append((str(exc), n))) == "done"
    assert calls == [3] and told == [("down", 1), ("down", 2)]
    assert sum(clock.sleeps) == pytest.approx(1.0 + 2.0)
    assert helper.failures == 0  # the success started the count over


def test_call_raises_the_last_error_once_the_tries_are_spent() -> None:
    helper, clock = retry(Policy(first=1.0, tries=5))
    last = WarehouseUnavailable("still down")
    errors: list[Exception] = [WarehouseUnavailable("down") for _ in range(4)]
    step, calls = failing([*errors, last])
    with pytest.raises(WarehouseUnavailable) as raised:
        helper.call(step)
    assert raised.value is last and calls == [5]
    assert sum(clock.sleeps) == pytest.approx(1.0 + 2.0 + 4.0 + 8.0)  # no wait after the last try


def test_call_raises_an_error_the_policy_does_not_retry_at_once() -> None:
    helper, clock = retry(Policy(tries=5))
    fenced = FencedOut("a newer holder")
    step, calls = failing([fenced])
    with pytest.raises(FencedOut) as raised:
        helper.call(step, lambda exc, n: pytest.fail("not retried"))
    assert raised.value is fenced and calls == [1] and clock.sleeps == []


def test_call_ends_with_the_error_when_stopped_while_waiting() -> None:
    stopping = [False]
    helper, _ = retry(Policy(), lambda: stopping[0])
    step, calls = failing([WarehouseUnavailable("down")] * 10)

    def on_retry(exc: Exception, failures: int) -> None:
        stopping[0] = True  # a signal during the outage

    with pytest.raises(WarehouseUnavailable):
        helper.call(step, on_retry)
    assert calls == [1]
