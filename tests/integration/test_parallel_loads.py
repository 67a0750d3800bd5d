"""Independent tables load in parallel (``S3RB_LOAD_CONCURRENCY``), each over its own warehouse
connection, on DuckDB and on the Redshift emulator, and the target still mirrors the source."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3rb_stream import faultpoints
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import WarehouseUnavailable
from s3rb_stream.pipeline.runner import run
from s3rb_stream.settings import Settings
from s3rb_stream.targets import open_warehouse
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import ISOLATION_LEVELS, emulator_isolation, source_rows
from tests.integration.test_redshift_end_to_end import query_target, settings_for_target

TABLES = ("alpha", "beta", "gamma", "delta")
CONCURRENCY = 3
_n = itertools.count()


@pytest.fixture(params=["duckdb", *(f"redshift-{level}" for level in ISOLATION_LEVELS)])
def target(
    request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path
) -> Iterator[tuple[Settings, int | None]]:
    """DuckDB, or the Redshift emulator at each isolation level: the loads share the ledger and the
    fence table, and must get through under SNAPSHOT (the default of new clusters) and SERIALIZABLE."""
    settings, port = settings_for_target(request, mariadb, tmp_path, tmp_path / "tables.yml", f"par-{next(_n)}")
    settings = settings.model_copy(update={"load_concurrency": CONCURRENCY})
    if port is None:
        yield settings, port
        return
    with emulator_isolation(port, request.param.removeprefix("redshift-")):
        yield settings, port


def test_tables_load_at_once_and_the_target_mirrors_the_source(
    target: tuple[Settings, int | None], mariadb: MariaDBServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, port = target
    n = next(_n)
    db, schema = f"par_src_{n}", f"par_target_{n}"
    mariadb.execute(
        f"CREATE DATABASE {db}", *(f"CREATE TABLE {db}.{t} (id INT PRIMARY KEY, name VARCHAR(20))" for t in TABLES)
    )
    (tmp_path / "tables.yml").write_text("tables:\n" + "".join(f'  - name: "{db}.{t}"\n' for t in TABLES))
    run(settings, db, schema, until_caught_up=True)  # the checkpoint starts here

    for i, t in enumerate(TABLES):
        mariadb.execute(
            f"INSERT INTO {db}.{t} VALUES (1, '{t} one'), (2, '{t} two'), (3, '{t} three')",
            f"UPDATE {db}.{t} SET name = 'updated {i}' WHERE id = 2",
            f"DELETE FROM {db}.{t} WHERE id = 3",
        )

    def unreachable(point: str) -> None:
        if point == "load.begin":
            raise WarehouseUnavailable("the warehouse is down (the test holds every load back)")

    monkeypatch.setattr(faultpoints, "reached", unreachable)
    with pytest.raises(WarehouseUnavailable):  # captured, every table pending
        run(settings, db, schema, until_caught_up=True)

    # The first COPY of each of CONCURRENCY loads waits here until all of them have arrived: with
    # fewer loads at once than that, the barrier breaks and the run fails.
    together = threading.Barrier(CONCURRENCY, timeout=30)
    met = threading.Event()

    def meet(point: str) -> None:
        if point == "load.copy" and not met.is_set():
            together.wait()
            met.set()

    monkeypatch.setattr(faultpoints, "reached", meet)
    result = run(settings, db, schema, until_caught_up=True)

    assert met.is_set() and not together.broken
    assert result.changes == 0 and sorted(result.loaded.per_table) == sorted(TABLES)
    for t in TABLES:
        expected = source_rows(mariadb, db, t)
        assert query_target(settings, port, schema, t, "id, name", "id") == expected, t
        assert [r[0] for r in expected] == [1, 2]
    mariadb.execute(*(f"INSERT INTO {db}.{t} VALUES (4, 'four')" for t in TABLES[:2]))
    again = run(settings, db, schema, until_caught_up=True)
    assert sorted(again.loaded.per_table) == sorted(TABLES[:2])
    for t in TABLES:
        assert query_target(settings, port, schema, t, "id, name", "id") == source_rows(mariadb, db, t), t


def test_a_table_created_without_evolving_is_visible_to_the_other_loads_connections(
    target: tuple[Settings, int | None],
) -> None:
    """A load pass creates its tables on one connection, then loads them on others: the CREATE must
    be committed by then, or another connection creating the same table waits on it and fails."""
    settings, _ = target
    first, second = open_warehouse(settings), open_warehouse(settings)
    table = SourceTable("db", "omega", (SourceColumn("id", "int", "int", nullable=False),), ("id",))
    try:
        first.prepare("par_visible", table, evolve=False)
        first.idle()
        found = second.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'par_visible' AND table_name = 'omega'"
        )
        assert found == [(1,)]
    finally:
        second.drop_schema("par_visible")
        first.close()
        second.close()
