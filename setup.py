"""Builds the compiled speed-ups (s3rb_stream/_speedups.pyx: the row decoder, batch columns); everything else is in
pyproject.toml. The extension is optional: without a C compiler the install still succeeds and
the pure-Python references are used (``s3rb-stream check`` says which one runs)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

extension = Extension("s3rb_stream._speedups", ["s3rb_stream/_speedups.pyx"], optional=True)
setup(ext_modules=cythonize([extension], compiler_directives={"language_level": "3"}, quiet=True))
