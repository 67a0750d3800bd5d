"""Check the documentation's links as GitHub renders them: every relative link in the Markdown
files (README.md, docs/, deploy/, the emulator's README) must name a file or directory of the
repository, every ``#anchor`` a heading of its page (GitHub's anchor spelling), and every path in
a code span that starts with one of the repository's top-level directories must exist.

    .venv/bin/python scripts/check_links.py [--root OTHER_CHECKOUT]

Prints one line per broken link and exits 1 if there is any. ``scripts/test.sh`` runs it;
``tests/unit/test_doc_links.py`` holds it to finding a broken link, anchor and path.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The Markdown that users read; other .md files (test fixtures, the virtualenv) are not checked.
PAGES = ("README.md", "docs/**/*.md", "deploy/**/*.md", "s3rb_stream/**/*.md")
# A code span naming a path under one of these directories names a file that must exist.
TREE = ("s3rb_stream", "tests", "bench", "deploy", "docs", "scripts", "conf")

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ID = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
_PATH_SPAN = re.compile(r"^[A-Za-z0-9_.@/-]+$")


def pages(root: Path = ROOT) -> list[Path]:
    """The Markdown files checked, each once."""
    found: set[Path] = set()
    for pattern in PAGES:
        found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def _prose(text: str) -> Iterator[tuple[int, str]]:
    """Each line outside fenced code blocks, with its number."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def _plain(heading: str) -> str:
    """A heading's text as rendered: links by their text, no emphasis marks, code spans' content."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    return text


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters, digits, marks, ``-``
    and ``_`` kept), each space a ``-``."""
    kept = []
    for ch in _plain(heading).lower():
        if ch in "-_ " or ch.isalnum() or unicodedata.category(ch).startswith("M"):
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a page: its headings' (a repeated one gets ``-1``, ``-2``, ...) and
    explicit ``<a id>``/``<a name>`` targets."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for _, line in _prose(text):
        out.update(_HTML_ID.findall(line))
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def _targets(line: str) -> Iterator[str]:
    """The link targets of one line of prose (inline links and reference definitions)."""
    bare = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
    yield from _LINK.findall(bare)
    ref = _REF_DEF.match(bare)
    if ref:
        yield ref.group(1)


def problems(root: Path = ROOT) -> list[str]:
    """One line per broken link, anchor or code-span path, as ``file:line: what``."""
    root = root.resolve()
    found: list[str] = []
    cache: dict[Path, set[str]] = {}

    def anchors_of(path: Path) -> set[str]:
        if path not in cache:
            cache[path] = anchors(path.read_text(encoding="utf-8"))
        return cache[path]

    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(root)
        for number, line in _prose(text):
            for target in _targets(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto:, ...
                    continue
                path_part, _, anchor = target.partition("#")
                linked = (page.parent / path_part).resolve() if path_part else page
                if path_part.startswith("/") or not linked.is_relative_to(root):
                    found.append(f"{where}:{number}: {target}: links outside the repository")
                    continue
                if not linked.exists():
                    found.append(f"{where}:{number}: {target}: no such file")
                    continue
                if anchor and linked.suffix == ".md" and anchor not in anchors_of(linked):
                    found.append(f"{where}:{number}: {target}: no heading #{anchor} in {linked.relative_to(root)}")
            for match in _CODE_SPAN.finditer(line):
                span = match.group(2).strip()
                top = span.split("/", 1)[0]
                if "/" in span and top in TREE and _PATH_SPAN.match(span) and not (root / span).exists():
                    found.append(f"{where}:{number}: `{span}`: no such path in the repository")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to check (default: this one)")
    args = parser.parse_args(argv)
    found = problems(args.root)
    for line in found:
        print(line)
    checked = len(pages(args.root))
    print(f"{'broken' if found else 'ok'}: {len(found)} problem(s) in {checked} Markdown files")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
