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


# One home for every record and for the object-key layout (docs/ARCHITECTURE.md, "Records"): what
# may appear only there. Each entry: (what, a pattern, the modules allowed to hold it).
KEYS_HOME = "s3rb_stream/core/object_keys.py"
STATE_HOME = "s3rb_stream/state/"
HOMES = [
    # Only the state home touches the pipeline's records (it may name their folder in its prose).
    ("the records' folder", r"_s3rb_state", (STATE_HOME,)),
    # The layout's own words: every key is built and parsed by object_keys alone.
    ("a key's layout spelt out", r"year=|_manifests|_fitted/|_corrupt/|lease\.json|checkpoint\.json", ()),
    # The state keys: only the state home asks for them, so only it reads or writes a record.
    (
        "a state key",
        r"\b(STATE_DIR|state_key|checkpoint_key|lease_key|extract_state_key|hybrid_state_key|quarantine_key"
        r"|table_state_prefix|table_of_state_key|pipeline_of_state_key|EXTRACTS|HYBRID|QUARANTINE)\b",
        (STATE_HOME,),
    ),
    # A key taken apart by hand: split or partition on "/" of a key or a listing.
    ("a key taken apart by hand", r"""(split|partition)\(["']/""", ()),
]


def misplaced(root: Path) -> list[str]:
    """Every line of the package that holds what belongs to one of the homes above, elsewhere."""
    import re

    found = []
    for path in sorted((root / "s3rb_stream").rglob("*.py")):
        where = path.relative_to(root).as_posix()
        if where == KEYS_HOME:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for what, pattern, allowed in HOMES:
                if re.search(pattern, line) and not any(where.startswith(home) for home in allowed):
                    found.append(f"{where}:{number}: {what}: {line.strip()}")
    return found


def test_every_record_and_key_has_one_home() -> None:
    """No module outside s3rb_stream/state/ touches _s3rb_state, and no key is built or parsed
    outside core/object_keys.py."""
    assert misplaced(ROOT) == []


def test_a_record_or_key_outside_its_home_is_found(tmp_path: Path) -> None:
    """The rule above can fail: each kind of trespass is found, and the homes are left alone."""
    package = tmp_path / "s3rb_stream"
    (package / "core").mkdir(parents=True)
    (package / "state").mkdir()
    (package / "core" / "object_keys.py").write_text('STATE_DIR = "_s3rb_state"\n')
    (package / "state" / "quarantines.py").write_text(
        '"""Under _s3rb_state/."""\nfrom s3rb_stream.core.object_keys import quarantine_key\n'
    )
    (package / "load.py").write_text(
        "aside = f\"{key.split('/year=')[0]}/_corrupt/{name}\"\n"
        "from s3rb_stream.core.object_keys import checkpoint_key\n"
        'db, schema = base.split("/")[-2:]\n'
        'lease = "lease.json"\n'
        'at = "_s3rb_state/quarantine/"\n'
    )
    (package / "status.py").write_text('table = key.rpartition("/")[2]\n')
    found = misplaced(tmp_path)
    assert [line.split(": ")[0:2] for line in found] == [
        ["s3rb_stream/load.py:1", "a key's layout spelt out"],
        ["s3rb_stream/load.py:1", "a key taken apart by hand"],
        ["s3rb_stream/load.py:2", "a state key"],
        ["s3rb_stream/load.py:3", "a key taken apart by hand"],
        ["s3rb_stream/load.py:4", "a key's layout spelt out"],
        ["s3rb_stream/load.py:5", "the records' folder"],
        ["s3rb_stream/status.py:1", "a key taken apart by hand"],
    ]
