"""Builds the compiled speed-ups (s3rb_stream/_speedups.pyx: the row decoder, batch columns); everything else is in
pyproject.toml.

Whether a failed compile fails the install: with ``S3RB_REQUIRE_SPEEDUPS=1`` (the Docker image and
scripts/setup.sh set it) it does, so that nothing ships without the compiled module unnoticed.
Without it a plain ``pip install`` from source still succeeds, with a warning (``pip -v`` shows it;
``s3rb-stream check`` and every run's start warn too), and the pure-Python references run, about
half as fast (docs/ARCHITECTURE.md, "Throughput")."""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NAME = "s3rb_stream._speedups"
REQUIRE = "S3RB_REQUIRE_SPEEDUPS"


def required(environ: Any = os.environ) -> bool:
    """Whether the compiled module must build: ``S3RB_REQUIRE_SPEEDUPS`` set to 1 (or true, yes)."""
    return str(environ.get(REQUIRE, "")).strip().lower() in ("1", "true", "yes")


def speedups(extension: Extension, must_build: bool) -> Extension:
    """``extension`` made optional unless it must build: setuptools skips an optional one that fails.
    Set on cythonize's output, which are new objects that do not keep the flag."""
    extension.optional = not must_build
    return extension


class BuildSpeedups(build_ext):
    """setuptools' build, with a failed compile said plainly: what runs instead, and how to make it an error."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            if ext.optional:
                sys.stderr.write(
                    f"WARNING: {ext.name} was not compiled ({exc}); s3rb-stream will run the pure-Python"
                    " references, about half as fast. Install a C compiler and the Python headers and"
                    f" reinstall, or set {REQUIRE}=1 to make this an error.\n"
                )
            else:
                sys.stderr.write(
                    f"error: {ext.name} was not compiled ({exc}) and {REQUIRE} is set: install a C"
                    " compiler and the Python headers (scripts/setup.sh does), then install again.\n"
                )
            raise


if __name__ == "__main__":  # as pip's build runs it; tests import the pieces above
    from Cython.Build import cythonize

    pyx = Extension(NAME, ["s3rb_stream/_speedups.pyx"])
    compiled = cythonize([pyx], compiler_directives={"language_level": "3"}, quiet=True)
    setup(ext_modules=[speedups(ext, required()) for ext in compiled], cmdclass={"build_ext": BuildSpeedups})
