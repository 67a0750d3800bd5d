"""The package's structure in figures: modules and their lines, the largest functions, and the
cycles among imports (within ``s3rb_stream``; imports at any level, in functions and under
TYPE_CHECKING too).

    .venv/bin/python scripts/structure.py [--top 15] [--root OTHER_CHECKOUT]

``tests/unit/test_structure.py`` holds the rules this measures (no import cycle, one home for the
state records and the object-key layout).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "s3rb_stream"


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import, at any level: one inside a function or under TYPE_CHECKING still ties the
    two modules (the first needs the second to be read)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from _imports(node)


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import module`` ties to the module; ``from module import name`` to the module.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith(PACKAGE + "."):
                found.add(target)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(out)


def functions(root: Path = ROOT) -> list[tuple[int, str]]:
    """Every function and method with its length in lines."""
    out = []
    for name, path in modules(root).items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                out.append((node.end_lineno - node.lineno + 1, f"{name}:{node.name}"))
    return sorted(out, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--root", type=Path, default=ROOT, help="another checkout of the project")
    args = parser.parse_args()
    root = args.root.resolve()
    mods = modules(root)
    lines = {name: len(path.read_text().splitlines()) for name, path in mods.items()}
    print(f"{len(mods)} modules, {sum(lines.values()):,} lines; largest:")
    for name, count in sorted(lines.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {count:6,}  {name}")
    found_functions = functions(root)
    print(f"largest functions (of {len(found_functions)}):")
    for count, name in found_functions[: args.top]:
        print(f"  {count:6,}  {name}")
    found = cycles(graph(root))
    print(f"import cycles: {len(found)}")
    for group in found:
        print("  " + " <-> ".join(group))


if __name__ == "__main__":
    main()
