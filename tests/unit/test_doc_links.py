"""The documentation holds together as GitHub shows it: no broken link, anchor or path (checked by
scripts/check_links.py, which scripts/test.sh runs), every setting described in
docs/configuration.md, and the README keeps the front door's promises."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner

from s3rb_stream.cli import main
from s3rb_stream.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent


def check_links() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_links", ROOT / "scripts" / "check_links.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documentation_has_no_broken_link() -> None:
    assert check_links().problems(ROOT) == []


def test_scripts_test_sh_runs_the_link_check() -> None:
    assert ".venv/bin/python scripts/check_links.py" in (ROOT / "scripts" / "test.sh").read_text()


def test_a_broken_link_an_unknown_anchor_and_a_missing_path_are_found(tmp_path: Path) -> None:
    """The check can fail: each kind of breakage in a page is named with its line, and links that
    resolve (a file, a heading of another page or of the same one, a directory) pass."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "s3rb_stream").mkdir()
    (tmp_path / "s3rb_stream" / "cli.py").write_text("")
    (tmp_path / "docs" / "guide.md").write_text(
        "# Guide\n\n## Tables not on the binlog: `hybrid` and `full_sync`\n\n## Notes\n\n## Notes\n\n"
        "Back to the [README](../README.md#the-front-door).\n"
    )
    (tmp_path / "README.md").write_text(
        "# Project\n\n## The front door\n\n"
        "[ok](docs/guide.md#tables-not-on-the-binlog-hybrid-and-full_sync) [ok](docs/guide.md#notes-1)\n"
        "[ok](#the-front-door) [ok](docs/) [ok](https://example.com/x#y) `s3rb_stream/cli.py`\n"
        "[gone](docs/missing.md)\n"
        "[anchor](docs/guide.md#no-such-heading)\n"
        "[here](#nowhere) and `s3rb_stream/gone.py`\n"
        "```\n[in a code block](not/checked.md) `s3rb_stream/not_checked.py`\n```\n"
        "`[in a code span](not/checked.md)`\n"
        "[outside](../../etc/passwd)\n"
    )
    c = check_links()
    assert c.problems(tmp_path) == [
        "README.md:7: docs/missing.md: no such file",
        "README.md:8: docs/guide.md#no-such-heading: no heading #no-such-heading in docs/guide.md",
        "README.md:9: #nowhere: no heading #nowhere in README.md",
        "README.md:9: `s3rb_stream/gone.py`: no such path in the repository",
        "README.md:14: ../../etc/passwd: links outside the repository",
    ]
    assert c.main(["--root", str(tmp_path)]) == 1
    (tmp_path / "README.md").write_text("# Project\n\n## The front door\n\n[ok](docs/guide.md#notes)\n")
    assert c.main(["--root", str(tmp_path)]) == 0


def test_anchors_are_spelt_as_github_spells_them() -> None:
    c = check_links()
    heading = "Tables not on the binlog: `hybrid` and `full_sync`"
    assert c.slug(heading) == "tables-not-on-the-binlog-hybrid-and-full_sync"
    assert c.slug("MySQL 8.0, 8.4, RDS and Aurora") == "mysql-80-84-rds-and-aurora"
    assert c.slug("History of dimension tables: `mode: scd2`") == "history-of-dimension-tables-mode-scd2"
    assert c.slug("Straße *50%* [link](x.md)") == "straße-50-link"
    assert c.anchors("# A\n## A\n```\n# not a heading\n```\n## A\n") == {"a", "a-1", "a-2"}


def documented_settings() -> set[str]:
    """The variables named in the first column of docs/configuration.md's settings table."""
    names: set[str] = set()
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        cells = line.split("|")
        if line.startswith("| `S3RB_") and len(cells) > 2:
            names.update(re.findall(r"`(S3RB_[A-Z0-9_]+)`", cells[1]))
    return names


def test_every_setting_has_a_row_in_the_configuration_page() -> None:
    """A setting added without its row, or a row left for a setting that is gone, fails here."""
    assert documented_settings() == {f"S3RB_{name.upper()}" for name in Settings.model_fields}


def test_help_points_to_the_page_that_describes_the_settings() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=10_000)
    assert result.exit_code == 0
    assert "docs/configuration.md describes each" in " ".join(result.output.split())
    assert (ROOT / "docs" / "configuration.md").is_file()


def test_the_readme_keeps_the_front_doors_promises() -> None:
    """The two commands on a fresh machine, the tour against one's own MySQL, S3 and Redshift, and
    a plain word on what was not run here, each with its page."""
    readme = (ROOT / "README.md").read_text()
    for command in ("bash scripts/demo.sh", "bash scripts/test.sh"):
        assert command in readme
        assert (ROOT / command.split()[1]).is_file()
    for command in ("check", "snapshot", "run", "status", "check --warehouse-roundtrip"):
        assert f"s3rb-stream {command} " in readme, command
    not_run = readme.split("## What was not run here", 1)[1].split("\n## ", 1)[0]
    for words, page in (
        ("No MySQL server", "docs/mysql.md#what-is-verified-and-how"),
        ("No real Redshift cluster", "docs/redshift.md#the-round-trip-check"),
        ("No container engine", "docs/operations.md#deploying"),
    ):
        assert words in not_run and page in not_run, words
