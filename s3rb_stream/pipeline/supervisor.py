"""Several pipelines in one process: one thread per source schema, each with its own binlog reader,
checkpoint, lease and loads. A pipeline that fails is reported and retried with backoff; it never
stops the others. SIGTERM stops them all (each flushes and saves its checkpoint)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from s3rb_stream.errors import ConfigError, S3rbError
from s3rb_stream.log import get_logger, per_pipeline
from s3rb_stream.pipeline.runner import StartPosition, run
from s3rb_stream.pipeline.types import RunResult, StopFlag
from s3rb_stream.retry import Policy, Retry, any_error, transient
from s3rb_stream.settings import PipelineConfig, Settings, load_tables_file
from s3rb_stream.threads import worker

log = get_logger(__name__)

MAX_BACKOFF_SECONDS = 300.0
MAX_OUTAGE_BACKOFF_SECONDS = 30.0  # an unreachable service is retried at least this often
HEALTHY_RUN_SECONDS = 60.0  # a run that lasted this long resets the backoff
MAX_FAILURES_CAUGHT_UP = 3  # supervise(until_caught_up=True) reports a pipeline failed after this many in a row


@dataclass
class PipelineState:
    config: PipelineConfig
    runs: int = 0
    failures: int = 0
    last_error: str | None = None
    results: list[RunResult] = field(default_factory=list)


def pipelines_of(settings: Settings) -> list[PipelineConfig]:
    listed = load_tables_file(settings.tables_file).pipelines
    if not listed:
        raise ConfigError(
            f"the tables file {settings.tables_file} lists no pipelines",
            "add 'pipelines: [{source_db: sales, target_schema: analytics}, ...]', or pass --source-db and"
            " --target-schema",
        )
    return listed


def supervise(
    settings: Settings,
    stop: StopFlag,
    until_caught_up: bool = False,
    start_position: StartPosition = "earliest",
    first_backoff: float = 1.0,
) -> list[PipelineState]:
    """Run every listed pipeline until stopped (or, with ``until_caught_up``, until each has caught
    up once or failed for good)."""
    states = [PipelineState(p) for p in pipelines_of(settings)]
    threads = [
        threading.Thread(
            target=worker(_keep_running),
            args=(settings, state, stop, until_caught_up, start_position, first_backoff),
            name=f"s3rb-{state.config.source_db}",
            daemon=True,
        )
        for state in states
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)
    return states


@per_pipeline
def run_daemon(
    settings: Settings,
    source_db: str,
    target_schema: str,
    stop: StopFlag,
    start_position: StartPosition = "earliest",
    standby: bool = False,
    first_backoff: float = 1.0,
) -> None:
    """One source schema as a daemon: an outage of MySQL, the store or the warehouse (a retryable
    error) is ridden out, resuming from the checkpoint with backoff; any other error ends it."""
    restarts = Retry(Policy(first=first_backoff, cap=MAX_OUTAGE_BACKOFF_SECONDS), lambda: stop.stopping)
    while not stop.stopping:
        started = time.monotonic()
        try:
            run(settings, source_db, target_schema, False, start_position, stop, standby)
            return
        except S3rbError as exc:
            if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                restarts.succeeded()  # a run that lasted is a success: the next wait is short again
            if not restarts.failed(exc):
                raise
            log.error("pipeline interrupted; resuming from its checkpoint", error=str(exc),
                      attempt=restarts.failures)  # fmt: skip
            restarts.wait()


def _keep_running(
    settings: Settings,
    state: PipelineState,
    stop: StopFlag,
    until_caught_up: bool,
    start_position: StartPosition,
    first_backoff: float,
) -> None:
    source, target = state.config.source_db, state.config.target_schema
    # Any error is retried, terminal ones too: one broken pipeline never stops the others (retry.py).
    tries = MAX_FAILURES_CAUGHT_UP if until_caught_up else None
    policy = Policy(first=first_backoff, cap=MAX_BACKOFF_SECONDS, tries=tries, retry_if=any_error)
    retry = Retry(policy, lambda: stop.stopping)
    while not stop.stopping:
        state.runs += 1
        try:
            state.results.append(run(settings, source, target, until_caught_up, start_position, stop))
            state.failures, state.last_error = 0, None
            retry.succeeded()
            if until_caught_up:
                return
        except S3rbError as exc:
            again = retry.failed(exc)
            state.failures = retry.failures
            state.last_error = str(exc)
            log.error("pipeline failed; the others go on", source_db=source, target_schema=target,
                      error=str(exc), attempt=state.failures, transient=transient(exc))  # fmt: skip
            if not again:
                return
            retry.wait()
