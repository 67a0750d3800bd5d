"""``check`` needs a source and target schema, or --warehouse-roundtrip: said in one line, exit 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from s3rb_stream.cli import main


def test_check_without_a_pipeline_or_the_roundtrip_says_what_to_give(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3RB_LOG_FORMAT", "json")
    result = CliRunner().invoke(main, ["check", "--source-db", "sales"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: give --source-db and --target-schema (or --warehouse-roundtrip)"
