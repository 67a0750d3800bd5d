"""Keys that differ only by trailing blanks, which a MySQL NO PAD collation tells apart (MariaDB's
``utf8mb4_nopad_bin`` here, MySQL 8's ``utf8mb4_0900_*``), stay two rows on both targets: Redshift
ignores trailing blanks when it compares VARCHAR values, and the emulator does too."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from s3rb_stream.pipeline.runner import run
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import source_rows
from tests.integration.test_redshift_end_to_end import query_target, settings_for_target

_n = itertools.count(1)


@pytest.mark.parametrize("target", ["duckdb", "redshift"])
def test_keys_a_and_a_blank_are_two_rows_through_merge_and_scd2(
    target: str, request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path
) -> None:
    request.param = target  # settings_for_target reads the target from the request
    n = next(_n)
    db, schema = f"blanks_{target}_{n}", f"blanks_{target}_{n}"
    text = "VARCHAR(8) COLLATE utf8mb4_nopad_bin"
    mariadb.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.codes (code {text} PRIMARY KEY, n INT)",
        f"CREATE TABLE {db}.tiers (code {text} PRIMARY KEY, tier {text})",
        f"CREATE TABLE {db}.marks (code {text} PRIMARY KEY, n INT)",
    )
    tables = (
        f'tables:\n  - name: "{db}.codes"\n  - name: "{db}.tiers"\n    mode: scd2\n'
        f'  - name: "{db}.marks"\n    soft_delete: true\n'
    )
    (tmp_path / "tables.yml").write_text(tables)
    settings, port = settings_for_target(request, mariadb, tmp_path, tmp_path / "tables.yml", f"blanks-{target}-{n}")
    run(settings, db, schema, until_caught_up=True)  # the checkpoint starts here
    mariadb.execute(
        f"INSERT INTO {db}.codes VALUES ('a', 1), ('a ', 2), ('b', 3)",
        f"INSERT INTO {db}.tiers VALUES ('a', 'gold'), ('a ', 'gold')",
        f"INSERT INTO {db}.marks VALUES ('a', 1), ('a ', 2)",
    )
    run(settings, db, schema, until_caught_up=True)
    mariadb.execute(
        f"UPDATE {db}.codes SET n = 20 WHERE code = 'a '",
        f"DELETE FROM {db}.codes WHERE code = 'b'",
        f"INSERT INTO {db}.codes VALUES ('b  ', 4)",
        f"UPDATE {db}.tiers SET tier = 'silver' WHERE code = 'a '",
        f"UPDATE {db}.tiers SET tier = 'gold ' WHERE code = 'a'",  # a tracked value changed by a blank
        f"DELETE FROM {db}.marks WHERE code = 'a '",  # soft: marked, and only that one of the two
    )
    run(settings, db, schema, until_caught_up=True)

    codes = query_target(settings, port, schema, "codes", "code, n", "n")
    assert codes == [("a", 1), ("b  ", 4), ("a ", 20)]
    assert sorted(codes) == sorted(source_rows(mariadb, db, "codes"))
    versions = query_target(settings, port, schema, "tiers", "code, tier, is_current", '"_s3rb_seq"')
    assert sorted(versions) == [
        ("a", "gold", False),
        ("a", "gold ", True),
        ("a ", "gold", False),
        ("a ", "silver", True),
    ]
    marks = query_target(settings, port, schema, "marks", '"code", "n", "_s3rb_deleted_at" IS NULL', "n")
    assert marks == [("a", 1, True), ("a ", 2, False)]
