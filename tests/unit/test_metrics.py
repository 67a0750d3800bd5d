"""Metrics as data, and the HTTP endpoint, with no source at all."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from s3rb_stream import metrics
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.pipeline.pipeline import bytes_behind
from s3rb_stream.testing.ports import free_port

LOGS = [("b.000001", 1000), ("b.000002", 500), ("b.000003", 200)]


def test_bytes_behind_counts_the_rest_of_this_file_and_every_later_one() -> None:
    assert bytes_behind(LOGS, BinlogPosition("b.000002", 100)) == 400 + 200
    assert bytes_behind(LOGS, BinlogPosition("b.000003", 200)) == 0
    assert bytes_behind(LOGS, BinlogPosition("b.000000", 4)) is None  # purged


def sample(name: str, labels: dict[str, str]) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def test_lag_and_freshness_are_computed_when_scraped() -> None:
    metrics.event_read("m_db", "m_schema", datetime.now(UTC) - timedelta(seconds=30))
    lag = sample("s3rb_source_lag_seconds", {"source_db": "m_db", "target_schema": "m_schema"})
    assert lag is not None and 29 <= lag < 40
    metrics.event_read("m_db", "m_schema", None)  # a heartbeat: caught up
    lag = sample("s3rb_source_lag_seconds", {"source_db": "m_db", "target_schema": "m_schema"})
    assert lag is not None and lag < 5
    metrics.applied("m_db", "m_schema", "t", datetime.now(UTC) - timedelta(seconds=100))
    fresh = sample("s3rb_freshness_seconds", {"source_db": "m_db", "target_schema": "m_schema", "table": "t"})
    assert fresh is not None and 99 <= fresh < 110


def test_metrics_and_health_over_http() -> None:
    port = free_port()
    server = metrics.serve(port, stale_after=60, host="127.0.0.1")
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "# TYPE s3rb_changes_total counter" in body and "s3rb_source_lag_seconds" in body
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=5)
        assert missing.value.code == 404
        with metrics.CLOCKS.lock:
            metrics.CLOCKS.alive -= 3600  # nothing moved for an hour
        with pytest.raises(urllib.error.HTTPError) as stalled:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert stalled.value.code == 503
    finally:
        server.shutdown()


def test_the_sample_alert_rules_parse_and_name_real_metrics() -> None:
    from pathlib import Path

    import yaml

    rules = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    body = metrics.render().decode()
    for expr in exprs:
        for name in re.findall(r"\bs3rb_[a-z_]+", expr):
            assert f"# TYPE {name.removesuffix('_total')}" in body or f"# TYPE {name}" in body, name
