"""``run`` as a daemon: keeps up, survives a dropped binlog connection, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.sources.mysql_meta import current_position
from s3rb_stream.state.lease import LeaseHeld
from s3rb_stream.testing.ports import free_port, http_get
from tests.integration.conftest import Pipeline


def start_daemon(pipeline: Pipeline, tmp_path: Path, *extra: str, **settings: str) -> subprocess.Popen[str]:
    env = pipeline.cli_env(
        S3RB_HEARTBEAT_SECONDS="0.5",
        S3RB_BATCH_MAX_AGE_SECONDS="0.5",
        S3RB_LOAD_INTERVAL_SECONDS="1",
        S3RB_LOG_FORMAT="json",
        **settings,
    )
    command = [sys.executable, "-m", "s3rb_stream", "run", "--source-db", pipeline.source_db]
    return subprocess.Popen(
        [*command, "--target-schema", "analytics", *extra],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint(pipeline: Pipeline, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until the saved checkpoint reaches the source's current binlog position."""
    conn = pipeline.server.connect()
    target = current_position(conn)
    conn.close()
    root = Path(pipeline.settings.store().root)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        found = list(root.rglob("checkpoint.json"))
        if found:
            raw = json.loads(found[0].read_bytes())
            if BinlogPosition(raw["binlog_file"], raw["binlog_pos"]).at_or_after(target):
                return
        time.sleep(0.2)
    raise AssertionError(f"checkpoint did not reach {target}")


def kill_binlog_connections(pipeline: Pipeline) -> int:
    conn = pipeline.server.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
        ids = [row[0] for row in cur.fetchall()]
        for thread_id in ids:
            cur.execute(f"KILL {int(thread_id)}")
    conn.close()
    return len(ids)


def test_daemon_survives_a_dropped_connection_and_stops_cleanly(file_pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline = file_pipeline
    Path(pipeline.settings.tables_file).write_text(f'tables:\n  - name: "{pipeline.source_db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
    proc = start_daemon(pipeline, tmp_path)
    try:
        pipeline.sql(*(f"INSERT INTO t VALUES ({i}, 'v{i}')" for i in range(50)))
        wait_for_checkpoint(pipeline, proc)
        assert kill_binlog_connections(pipeline) >= 1
        pipeline.sql("UPDATE t SET v = 'after kill' WHERE id < 10", "DELETE FROM t WHERE id >= 40")
        wait_for_checkpoint(pipeline, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "binlog reader reconnecting" in stderr
    assert pipeline.target_rows("t") == pipeline.source_rows("t")
    assert len(pipeline.target_rows("t")) == 40


def test_no_log_line_carries_the_password(file_pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline = file_pipeline
    secret = "Pw-that-must-not-leak-42"
    db = pipeline.source_db
    pipeline.server.execute(
        f"CREATE USER 'cdc_{db}'@'%' IDENTIFIED BY '{secret}'",
        f"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc_{db}'@'%'",
        f"GRANT SELECT ON {db}.* TO 'cdc_{db}'@'%'",
    )
    Path(pipeline.settings.tables_file).write_text(f'tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1, 'x')")
    s = pipeline.settings
    env = {
        **os.environ,
        "S3RB_MYSQL_URL": f"mysql://cdc_{db}:{secret}@127.0.0.1:{pipeline.server.port}",
        "S3RB_STORE_URL": s.store_url,
        "S3RB_WAREHOUSE_URL": s.warehouse_url.get_secret_value(),
        "S3RB_TABLES_FILE": str(s.tables_file),
        "S3RB_LOG_LEVEL": "debug",
        "S3RB_LOG_FORMAT": "json",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "s3rb_stream",
            "run",
            "--source-db",
            db,
            "--target-schema",
            "analytics",
            "--until-caught-up",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any('"event": "caught up"' in line for line in lines)
    assert all(secret not in line for line in lines + result.stdout.splitlines())
    assert pipeline.target_rows("t") == [(1, "x")]


def test_daemon_syncs_query_tables_on_their_interval(file_pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline = file_pipeline
    db = pipeline.source_db
    Path(pipeline.settings.tables_file).write_text(
        f'tables:\n  - name: "{db}.t"\n  - name: "{db}.leads"\n    cdc_strategy: hybrid\n'
        "    cdc_timestamp_column: ts\n    cdc_id_column: id\n    sync_interval: 0.5\n"
    )
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE leads (id INT PRIMARY KEY, ts DATETIME NOT NULL)")
    proc = start_daemon(pipeline, tmp_path)
    try:
        pipeline.sql("INSERT INTO t VALUES (1)")
        wait_for_checkpoint(pipeline, proc)
        pipeline.sql("INSERT INTO leads VALUES (1, '2026-01-01 00:00:00'), (2, '2026-01-01 00:00:01')")
        deadline = time.monotonic() + 30
        state = Path(pipeline.settings.store().root) / db / "analytics" / "_s3rb_state" / "hybrid" / "leads.json"
        while time.monotonic() < deadline and not (state.exists() and json.loads(state.read_bytes())["rows"] >= 2):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        # A hand-run sync beside the daemon would race it on the same tables: refused, naming the holder.
        with pytest.raises(LeaseHeld, match=r"^sync: another instance writes .*: \S+ \(lease valid until") as held:
            pipeline.sync()
        assert "syncs hybrid and full_sync tables itself" in str(held.value)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert pipeline.target_rows("leads") == pipeline.source_rows("leads")
    assert pipeline.target_rows("t") == [(1,)]
    pipeline.sql("INSERT INTO leads VALUES (3, '2026-01-01 00:00:02')")
    assert "leads" in pipeline.sync().rows  # the daemon stopped: sync takes the lease and runs
    assert pipeline.target_rows("leads") == pipeline.source_rows("leads")


def test_daemon_follows_a_new_table_an_added_column_and_a_widening_and_quarantines_a_type_change(
    file_pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline = file_pipeline
    db = pipeline.source_db
    tables = f'tables:\n  - name: "{db}.a"\n  - name: "{db}.b"\n  - name: "{db}.c_*"\n'
    Path(pipeline.settings.tables_file).write_text(tables)
    pipeline.sql("CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)")
    proc = start_daemon(pipeline, tmp_path)
    try:
        pipeline.sql("INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (1)")
        wait_for_checkpoint(pipeline, proc)
        pipeline.sql("CREATE TABLE c_new (id INT PRIMARY KEY)", "INSERT INTO c_new VALUES (10)")  # while running
        wait_for_checkpoint(pipeline, proc)
        pipeline.sql("ALTER TABLE a ADD COLUMN v INT", "INSERT INTO a VALUES (2, 2)", "INSERT INTO b VALUES (2)")
        wait_for_checkpoint(pipeline, proc)
        pipeline.sql(  # a lossless widening, followed live
            "ALTER TABLE a MODIFY v BIGINT", "INSERT INTO a VALUES (3, 5000000000)", "INSERT INTO b VALUES (3)"
        )
        wait_for_checkpoint(pipeline, proc)
        pipeline.sql("ALTER TABLE a MODIFY v VARCHAR(12)", "INSERT INTO a VALUES (4, 'x')", "INSERT INTO b VALUES (4)")
        wait_for_checkpoint(pipeline, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "ALTER followed" in stderr
    assert "table quarantined" in stderr and "column v changed type from bigint(20) to varchar(12)" in stderr
    assert pipeline.target_rows("b") == [(1,), (2,), (3,), (4,)]
    assert pipeline.target_query('SELECT id, v FROM "analytics".a ORDER BY id') == [(1, None), (2, 2), (3, 5000000000)]
    assert "new table captured from its CREATE on" in stderr
    assert pipeline.target_rows("c_new") == [(10,)]


def test_daemon_serves_metrics_that_move_and_its_health(
    file_pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from s3rb_stream.testing.ports import free_port, port_open, wait_until

    pipeline = file_pipeline
    db = pipeline.source_db
    Path(pipeline.settings.tables_file).write_text(f'tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)")
    port = free_port()
    monkeypatch.setenv("S3RB_METRICS_PORT", str(port))
    proc = start_daemon(pipeline, tmp_path)

    def inserts() -> float:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        match = re.search(
            rf'^s3rb_changes_total{{op="insert",source_db="{db}",target_schema="analytics"}} (\S+)$', body, re.M
        )
        return float(match.group(1)) if match else 0.0

    try:
        wait_until(lambda: port_open(port), 30, "metrics endpoint")
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
        before = inserts()
        pipeline.sql("INSERT INTO t VALUES (1), (2), (3)")
        wait_for_checkpoint(pipeline, proc)
        wait_until(lambda: inserts() >= before + 3, 30, "s3rb_changes_total to count the inserts")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert f's3rb_source_lag_seconds{{source_db="{db}",target_schema="analytics"}}' in body
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr


def test_sigterm_under_load_then_a_restart_loses_and_duplicates_nothing(
    file_pipeline: Pipeline, tmp_path: Path
) -> None:
    import threading

    pipeline = file_pipeline
    db = pipeline.source_db
    Path(pipeline.settings.tables_file).write_text(
        f'tables:\n  - name: "{db}.t"\n  - name: "{db}.events"\n    mode: append\n'
    )
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE events (msg VARCHAR(20))")
    proc = start_daemon(pipeline, tmp_path)
    written = 0
    stop_writing = threading.Event()

    def writer() -> None:
        nonlocal written
        conn = pipeline.server.connect(db)
        with conn.cursor() as cur:
            while not stop_writing.is_set() and written < 3000:
                written += 1
                cur.execute("INSERT INTO t VALUES (%s, 0) ON DUPLICATE KEY UPDATE v = v + 1", (written % 500,))
                cur.execute("INSERT INTO events VALUES (%s)", (f"e{written}",))
                if written % 7 == 0:
                    cur.execute("DELETE FROM t WHERE id = %s", ((written * 3) % 500,))
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for_checkpoint(pipeline, proc)
        while written < 800:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # mid-load: changes buffered, batches being written
        _, stderr = proc.communicate(timeout=60)
    finally:
        stop_writing.set()
        thread.join()
    assert proc.returncode == 0, stderr
    pipeline.run()  # the restart
    assert pipeline.target_rows("t") == pipeline.source_rows("t")
    events = pipeline.target_query("SELECT msg FROM \"analytics\".events WHERE _s3rb_op = 'c' ORDER BY _s3rb_seq")
    assert [e[0] for e in events] == [f"e{i}" for i in range(1, written + 1)]  # each once, in order


def test_a_second_instance_is_refused_or_stands_by_and_takes_over(
    file_pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.error
    import urllib.request

    from s3rb_stream.testing.ports import free_port, port_open, wait_until

    def status(port: int, path: str) -> int:
        try:
            return int(urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status)
        except urllib.error.HTTPError as exc:
            return exc.code

    pipeline = file_pipeline
    db = pipeline.source_db
    Path(pipeline.settings.tables_file).write_text(f'tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)")
    writer_port, standby_port = free_port(), free_port()
    monkeypatch.setenv("S3RB_METRICS_PORT", str(writer_port))
    first = start_daemon(pipeline, tmp_path)
    try:
        pipeline.sql("INSERT INTO t VALUES (1)")
        wait_for_checkpoint(pipeline, first)
        assert (status(writer_port, "/healthz"), status(writer_port, "/readyz")) == (200, 200)
        monkeypatch.delenv("S3RB_METRICS_PORT")
        refused = start_daemon(pipeline, tmp_path, "--until-caught-up")
        _, stderr = refused.communicate(timeout=60)
        assert refused.returncode == 2
        assert f"error: another instance writes {db} → analytics:" in stderr and "--standby" in stderr
        monkeypatch.setenv("S3RB_METRICS_PORT", str(standby_port))
        standby = start_daemon(pipeline, tmp_path, "--until-caught-up", "--standby")
        wait_until(lambda: port_open(standby_port), 30, "the standby's metrics endpoint")
        time.sleep(2)
        assert standby.poll() is None  # waiting
        assert (status(standby_port, "/healthz"), status(standby_port, "/readyz")) == (200, 503)  # alive, not ready
        pipeline.sql("INSERT INTO t VALUES (2)")
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    _, stderr = standby.communicate(timeout=60)  # took over at once, caught up, exited
    assert standby.returncode == 0, stderr
    assert "standing by" in stderr and "lease taken" in stderr
    assert pipeline.target_rows("t") == [(1,), (2,)]


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\b((?:s3rb|process)_[a-z_]+)", text))


def exported(name: str, body: str) -> bool:
    """Whether ``/metrics`` declares ``name`` (a sample name: a counter's ``_total``, a histogram's
    ``_bucket`` belong to their family)."""
    family = re.sub(r"_(bucket|count|sum|total)$", "", name)
    return any(line.startswith((f"# TYPE {name} ", f"# TYPE {family} ")) for line in body.splitlines())


def test_every_metric_the_dashboard_and_the_alerts_use_is_served_by_a_running_daemon(
    file_pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)")
    port = free_port()
    proc = start_daemon(pipeline, tmp_path, S3RB_METRICS_PORT=str(port), S3RB_METRICS_ADDRESS="127.0.0.1")
    try:
        pipeline.sql("INSERT INTO t VALUES (1)")
        wait_for_checkpoint(pipeline, proc)
        body = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    dashboard = json.loads((Path(__file__).parents[2] / "deploy" / "grafana" / "s3rb-stream.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    alerts = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "alerts.yml").read_text())
    exprs += [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    used = metric_names("\n".join(exprs))
    assert {"s3rb_source_lag_seconds", "s3rb_freshness_seconds", "s3rb_changes_total", "s3rb_batches_pending",
            "s3rb_load_duration_seconds_bucket", "s3rb_errors_total", "s3rb_quarantined_tables"} <= used  # fmt: skip
    assert [name for name in sorted(used) if not exported(name, body)] == []
    assert re.search(r'^s3rb_binlog_connected\{source_db="[^"]+",target_schema="analytics"\} 1\.0$', body, re.M)
    assert "process_resident_memory_bytes" in body


def test_lag_stays_near_zero_while_the_server_is_busy_with_other_schemas(
    file_pipeline: Pipeline, tmp_path: Path
) -> None:
    """Writes to a schema that is not captured keep heartbeats from coming; the lag must still come
    from every transaction read, or a caught-up daemon would look further and further behind."""
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.quiet"\n')
    other = f"{pipeline.source_db}_busy"
    pipeline.sql("CREATE TABLE quiet (id INT PRIMARY KEY)")
    pipeline.server.execute(f"CREATE DATABASE {other}", f"CREATE TABLE {other}.noise (id INT PRIMARY KEY)")
    port = free_port()
    proc = start_daemon(pipeline, tmp_path, S3RB_METRICS_PORT=str(port))
    try:
        pipeline.sql("INSERT INTO quiet VALUES (1)")
        wait_for_checkpoint(pipeline, proc)
        conn = pipeline.server.connect(other)
        with conn.cursor() as cur:
            for i in range(120):  # six seconds of writes, none of them captured
                cur.execute("INSERT INTO noise VALUES (%s)", (i,))
                time.sleep(0.05)
        conn.close()
        body = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    lag = re.search(
        rf'^s3rb_source_lag_seconds\{{source_db="{pipeline.source_db}",target_schema="analytics"\}} (\S+)$', body, re.M
    )
    assert lag is not None, body
    assert float(lag.group(1)) < 2.0  # not the six seconds since the captured table's last change


def test_an_idle_table_is_fresh_when_the_target_is_complete_up_to_now(file_pipeline: Pipeline, tmp_path: Path) -> None:
    """Freshness is the source time up to which the target is complete: a table nobody writes is
    as fresh as the loads are, not as old as its last change."""
    pipeline = file_pipeline
    pipeline.tables('tables:\n  - name: "{db}.busy"\n  - name: "{db}.idle"\n')
    pipeline.sql("CREATE TABLE busy (id INT PRIMARY KEY)", "CREATE TABLE idle (id INT PRIMARY KEY)")
    port = free_port()
    proc = start_daemon(pipeline, tmp_path, S3RB_METRICS_PORT=str(port))
    try:
        pipeline.sql("INSERT INTO idle VALUES (1)")
        wait_for_checkpoint(pipeline, proc)
        conn = pipeline.server.connect(pipeline.source_db)
        with conn.cursor() as cur:
            for i in range(120):  # six seconds of writes to the other table
                cur.execute("INSERT INTO busy VALUES (%s)", (i,))
                time.sleep(0.05)
        conn.close()
        time.sleep(2)  # a load interval or two
        body = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)

    def gauge(name: str, table: str) -> float:
        labels = f'source_db="{pipeline.source_db}",table="{table}",target_schema="analytics"'
        found = re.search(rf"^{name}\{{{labels}\}} (\S+)$", body, re.M)
        assert found is not None, body
        return float(found.group(1))

    assert gauge("s3rb_freshness_seconds", "idle") < 4.0  # not the eight seconds since its only change
    assert gauge("s3rb_freshness_seconds", "busy") < 4.0
    assert abs(gauge("s3rb_target_complete_timestamp_seconds", "idle") - time.time()) < 6.0


def test_the_heartbeat_table_is_written_while_the_source_is_otherwise_idle(
    file_pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline = file_pipeline
    beats = f"{pipeline.source_db}_beats"
    pipeline.tables('tables:\n  - name: "{db}.t"\n')
    pipeline.sql("CREATE TABLE t (id INT PRIMARY KEY)")
    pipeline.server.execute(f"CREATE DATABASE {beats}")
    proc = start_daemon(
        pipeline, tmp_path, S3RB_HEARTBEAT_TABLE=f"{beats}.heartbeat", S3RB_HEARTBEAT_TABLE_SECONDS="0.5"
    )
    try:
        pipeline.sql("INSERT INTO t VALUES (1)")
        wait_for_checkpoint(pipeline, proc)
        time.sleep(2)
        conn = pipeline.server.connect()
        with conn.cursor() as cur:
            cur.execute(f"SELECT TIMESTAMPDIFF(MICROSECOND, beat_at, NOW(6)) / 1e6 FROM {beats}.heartbeat WHERE id = 1")
            row = cur.fetchone()
        conn.close()
        wait_for_checkpoint(pipeline, proc)  # the beats' binlog is read, and the checkpoint follows it
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert row is not None and float(row[0]) < 2.0  # written within the last beats
    assert pipeline.target_rows("t") == [(1,)]
    assert "heartbeat table not written" not in stderr
