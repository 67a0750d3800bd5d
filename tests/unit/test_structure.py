"""The package's structure holds its rules (docs/ARCHITECTURE.md, "Layout"): measured by
scripts/structure.py, which anyone can run for the figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent.parent


def structure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("structure", ROOT / "scripts" / "structure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_module_imports_one_that_imports_it_back() -> None:
    found = structure().cycles(structure().graph(ROOT))
    assert found == [], f"import cycles: {found}"


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path) -> None:
    """The rule above can fail: two modules that import each other are found."""
    package = tmp_path / "s3rb_stream"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f() -> None:\n    from s3rb_stream.b import g\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from s3rb_stream import a\n"
    )
    (package / "c.py").write_text("from s3rb_stream import a\n")
    s = structure()
    assert s.cycles(s.graph(tmp_path)) == [["s3rb_stream.a", "s3rb_stream.b"]]


def test_commands_are_not_imported_by_the_running_parts() -> None:
    """commands/ holds what a user runs once; the daemon's parts never need one of them."""
    edges = structure().graph(ROOT)
    wrong = {
        (name, target)
        for name, targets in edges.items()
        if not name.startswith(("s3rb_stream.commands", "s3rb_stream.cli"))
        for target in targets
        if target.startswith("s3rb_stream.commands")
    }
    assert wrong == set()
