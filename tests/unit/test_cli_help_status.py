"""The CLI tells where its settings are, and `status` does not pass off a partial picture as whole."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from s3rb_stream.cli import EXIT_CHECK_FAILED, main
from s3rb_stream.settings import Settings
from s3rb_stream.testing.ports import free_port


def test_help_names_every_setting() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=10_000)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for name in Settings.model_fields:
        assert f"S3RB_{name.upper()}" in text, name
    assert "S3RB_MYSQL_URL is required" in text


def test_status_exits_1_when_the_source_cannot_be_reached(tmp_path: Path) -> None:
    (tmp_path / "tables.yml").write_text('tables:\n  - name: "shop.orders"\n')
    env = {
        "S3RB_MYSQL_URL": f"mysql://root@127.0.0.1:{free_port()}",
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
    }
    result = CliRunner().invoke(main, ["status"], env=env)
    assert result.exit_code == EXIT_CHECK_FAILED, result.output
    assert "cannot connect to MySQL" in result.output


def test_every_command_sets_the_process_wide_switches_at_its_start(tmp_path: Path) -> None:
    """S3RB_SPEEDUPS and Arrow's allocator are the process's, set by any command (here ``status``,
    which reaches no preflight), not only by ``run``."""
    import pyarrow as pa

    from s3rb_stream import speedups

    (tmp_path / "tables.yml").write_text('tables:\n  - name: "shop.orders"\n')
    env = {
        "S3RB_MYSQL_URL": f"mysql://root@127.0.0.1:{free_port()}",
        "S3RB_STORE_URL": f"file://{tmp_path / 'objects'}",
        "S3RB_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "S3RB_TABLES_FILE": str(tmp_path / "tables.yml"),
        "S3RB_SPEEDUPS": "false",
    }
    speedups.use(True)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    try:
        CliRunner().invoke(main, ["status"], env=env)
        assert speedups.compiled is None and speedups.missing == "turned off by S3RB_SPEEDUPS=false"
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        speedups.use(True)
