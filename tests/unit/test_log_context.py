"""Several pipelines share a process and its log: every event names its pipeline, including
events from the pipeline's own threads."""

from __future__ import annotations

import threading

import structlog

from s3rb_stream.log import in_this_context, per_pipeline


def test_events_of_a_pipeline_and_of_its_threads_carry_source_and_target() -> None:
    seen: dict[str, dict[str, object]] = {}

    @per_pipeline
    def pipeline(settings: object, source_db: str, target_schema: str) -> None:
        seen["main"] = structlog.contextvars.get_contextvars()
        worker = threading.Thread(
            target=in_this_context(lambda: seen.update(worker=structlog.contextvars.get_contextvars()))
        )
        worker.start()
        worker.join()
        bare = threading.Thread(target=lambda: seen.update(bare=structlog.contextvars.get_contextvars()))
        bare.start()
        bare.join()

    runs = [threading.Thread(target=pipeline, args=(None, db, "analytics")) for db in ("sales", "crm")]
    for run in runs:
        run.start()
        run.join()
        assert seen["main"] == seen["worker"] == {"source_db": seen["main"]["source_db"], "target_schema": "analytics"}
        assert seen["bare"] == {}  # what a thread started without in_this_context would log
    assert structlog.contextvars.get_contextvars() == {}  # nothing leaks out of the pipeline
