"""A Redshift emulator for tests: a PostgreSQL wire-protocol proxy in front of a real PostgreSQL.

See README.md beside this file for what it emulates and what it does not.
"""

from s3rb_stream.testing.redshift_emulator.proxy import EmulatorProxy, filter_startup_parameters

__all__ = ["EmulatorProxy", "filter_startup_parameters"]
