"""What the emulated cluster says about itself: isolation levels per database, its version, the
statements a test makes fail, and names Redshift reads differently."""

from __future__ import annotations

import pytest

from s3rb_stream.testing.redshift_emulator import cluster
from s3rb_stream.testing.redshift_emulator.names import LongNames, rewrite_identifiers
from s3rb_stream.testing.redshift_emulator.proxy import FAILED_ON_PURPOSE, EmulatorProxy
from s3rb_stream.testing.redshift_emulator.translate import Refused, Session, translate


def test_alter_database_sets_the_isolation_of_later_sessions() -> None:
    """ "ALTER DATABASE": ISOLATION LEVEL, not in a transaction block, not for dev."""
    levels: dict[str, str] = {}
    assert cluster.alter_isolation('ALTER DATABASE "Sales" ISOLATION LEVEL SERIALIZABLE;', Session(), levels)
    assert cluster.alter_isolation("alter database postgres isolation level snapshot", Session(), levels)
    assert levels == {"sales": "serializable", "postgres": "snapshot"}
    assert not cluster.alter_isolation("ALTER DATABASE sales RENAME TO other", Session(), levels)
    with pytest.raises(Refused, match="inside a transaction block"):
        cluster.alter_isolation("ALTER DATABASE sales ISOLATION LEVEL SNAPSHOT", Session(in_transaction=True), levels)
    with pytest.raises(Refused, match="dev database"):
        cluster.alter_isolation("ALTER DATABASE dev ISOLATION LEVEL SNAPSHOT", Session(), levels)
    with pytest.raises(Refused, match="invalid isolation level"):
        cluster.alter_isolation("ALTER DATABASE sales ISOLATION LEVEL READ", Session(), levels)


def test_stv_db_isolation_level_and_version_are_answered_by_the_emulator() -> None:
    sql = "SELECT TRIM(isolation_level) FROM stv_db_isolation_level AS l WHERE TRIM(l.db_name) = current_database()"
    rewritten = cluster.system_views(sql, {"sales": "serializable"}, "snapshot", "1.0.70000")
    assert "CAST('sales' AS CHAR(128)) AS db_name, CAST('Serializable' AS CHAR(20))" in rewritten
    assert "CAST('Snapshot Isolation' AS CHAR(20)) AS isolation_level WHERE NOT CURRENT_DATABASE() IN ('sales')" in (
        rewritten
    )
    assert rewritten.endswith(") AS l WHERE TRIM(l.db_name) = CURRENT_DATABASE()")
    assert cluster.system_views("SELECT version()", {}, "snapshot", "1.0.70000") == (
        "SELECT 'PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017"
        " (Red Hat 3.4.2-6.fc3), Redshift 1.0.70000' AS version"
    )
    plain = "SELECT version, isolation_level FROM t"
    assert cluster.system_views(plain, {}, "snapshot", "1.0.1") == plain


def test_emulator_settings_make_statements_fail_and_set_the_version() -> None:
    proxy = EmulatorProxy("postgresql://127.0.0.1:1/postgres")
    assert proxy.transform_sql("SET s3rb_emulator.fail_statements TO '_s3rb_fence'").startswith("SET")
    assert FAILED_ON_PURPOSE in proxy.transform_sql('UPDATE "s"."_s3rb_fence" SET generation = 2')
    assert proxy.transform_sql("SELECT 1") == "SELECT 1"
    proxy.transform_sql("SET s3rb_emulator.fail_statements TO ''")
    assert proxy.transform_sql('UPDATE "s"."_s3rb_fence" SET generation = 2').startswith("UPDATE")
    proxy.transform_sql("SET s3rb_emulator.cluster_version TO '1.0.72000'")
    assert "Redshift 1.0.72000" in proxy.transform_sql("SELECT version()")
    assert "invalid cluster version" in proxy.transform_sql("SET s3rb_emulator.cluster_version TO 'x'")
    session = Session()
    assert proxy.transform_sql("ALTER DATABASE postgres ISOLATION LEVEL SERIALIZABLE", session).startswith("DO")
    assert proxy.databases == {"postgres": "serializable"}


def test_a_hash_name_is_a_temporary_table_and_names_must_be_printable() -> None:
    """ "CREATE TABLE": a name starting with # makes a temporary table; "Names and identifiers"."""
    assert rewrite_identifiers("CREATE TABLE #Orders (id INT)", False, LongNames()) == (
        'CREATE TABLE "#orders" (id INT)'
    )
    assert rewrite_identifiers("SELECT a # b, x#y FROM t", False, LongNames()) == "SELECT a # b, x#y FROM t"
    assert translate('CREATE TABLE IF NOT EXISTS "s"."#orders" (id INT)') == (
        'CREATE TEMPORARY TABLE IF NOT EXISTS "#orders" (id INT)'
    )
    assert translate('CREATE TABLE "#copy" AS SELECT 1 AS a').startswith('CREATE TEMPORARY TABLE "#copy" AS')
    with pytest.raises(Refused, match="printable"):
        rewrite_identifiers('CREATE TABLE "or\tders" (id INT)', False, LongNames())
