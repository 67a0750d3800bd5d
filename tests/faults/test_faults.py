"""The fault-injection suite, short variant (the full one: ``python -m bench.faults``).

Real MariaDB, moto S3 and the Redshift emulator; the daemon as a subprocess under a sustained load
of inserts, updates and deletes on four tables; ``kill -9`` at every named fault point and at
random, and outages of each service. Every trial ends with a row-by-row comparison of source and
target: nothing lost, nothing duplicated. The table of figures is printed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from s3rb_stream.faultpoints import POINTS
from s3rb_stream.targets.duckdb import DuckDBWarehouse
from s3rb_stream.testing.faults import (
    OUTAGES,
    SHORT,
    FaultResult,
    OutageRig,
    crash_trials,
    disk_full_trial,
    format_table,
    outage_rig,
    outage_trial,
)
from s3rb_stream.testing.mariadb import MariaDBServer
from s3rb_stream.testing.workload import compare

RESULTS: list[FaultResult] = []


@pytest.fixture(scope="module", autouse=True)
def print_table(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and RESULTS:
        reporter.write_line("\n" + format_table(RESULTS))


@pytest.fixture(scope="module")
def server() -> Iterator[MariaDBServer]:
    with MariaDBServer() as running:
        yield running


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutageRig]:
    with outage_rig(tmp_path_factory.mktemp("outages")) as running:
        yield running


@pytest.mark.parametrize("point", [*POINTS, None], ids=[*POINTS, "random"])
def test_kill_9_under_load_loses_and_duplicates_nothing(
    point: str | None, server: MariaDBServer, tmp_path: Path
) -> None:
    trials, kills = (SHORT.point_trials, SHORT.point_kills) if point else (SHORT.random_trials, SHORT.random_kills)
    result = crash_trials(tmp_path, server, point, trials, kills)
    RESULTS.append(result)
    assert result.load > 500  # the load really ran across the kills
    assert result.note == ""  # every kill happened at its point, none by timeout
    assert (result.lost, result.duplicated) == (0, 0), result.details


def test_a_full_disk_under_the_local_store_is_ridden_out(server: MariaDBServer, tmp_path: Path) -> None:
    result = disk_full_trial(tmp_path, server, SHORT.disk_full_seconds)
    RESULTS.append(result)
    assert result.load > 500
    assert "'disk is full' errors logged" in result.note and not result.note.startswith("0 ")
    assert (result.lost, result.duplicated) == (0, 0), result.details


@pytest.mark.parametrize("point", ["load.copy", "load.merge"])
def test_kill_9_inside_a_redshift_load_loses_and_duplicates_nothing(point: str, rig: OutageRig) -> None:
    result = crash_trials(rig.workdir, rig.server, point, 1, SHORT.point_kills, prefix="rs_crash", rig=rig)
    RESULTS.append(result)
    assert result.load > 500
    assert result.note == ""
    assert (result.lost, result.duplicated) == (0, 0), result.details


@pytest.mark.parametrize("fault", OUTAGES)
def test_outage_under_load_is_ridden_out_and_loses_nothing(fault: str, rig: OutageRig) -> None:
    result = outage_trial(rig, fault, SHORT.outage_seconds[fault])
    RESULTS.append(result)
    assert result.load > 500
    assert result.recovery_s and result.recovery_s[0] > 0
    assert (result.lost, result.duplicated) == (0, 0), result.details


def test_the_comparison_sees_a_lost_and_a_duplicated_row(server: MariaDBServer, tmp_path: Path) -> None:
    """The harness itself: a target with one row missing and one row twice is reported as such."""
    result = crash_trials(tmp_path, server, "load.merge", 1, 1, prefix="selfcheck")
    assert (result.lost, result.duplicated) == (0, 0), result.details
    db = "selfcheck_load_merge_0"
    warehouse = DuckDBWarehouse(str(tmp_path / db / "w.duckdb"))
    try:
        warehouse.query(f"DELETE FROM {db}.orders WHERE id = (SELECT min(id) FROM {db}.orders)")
        warehouse.query(f"INSERT INTO {db}.events SELECT * FROM {db}.events LIMIT 1")
    finally:
        warehouse.close()
    reader = DuckDBWarehouse(str(tmp_path / db / "w.duckdb"), read_only=True)
    try:
        outcome = compare(server, db, lambda table, cols: reader.query(f"SELECT {cols} FROM {db}.{table}"))
    finally:
        reader.close()
    assert outcome.lost == {"customers": 0, "orders": 1, "events": 0, "markers": 0}
    assert outcome.duplicated["events"] == 1
