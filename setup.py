"""Builds the compiled row decoder (s3rb_stream/sources/_fast_rows.pyx); everything else is in
pyproject.toml. The extension is optional: without a C compiler the install still succeeds and
the pure-Python reference decoder is used (``s3rb-stream check`` says which one runs)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

extension = Extension("s3rb_stream.sources._fast_rows", ["s3rb_stream/sources/_fast_rows.pyx"], optional=True)
setup(ext_modules=cythonize([extension], compiler_directives={"language_level": "3"}, quiet=True))
