"""``s3rb-stream check --warehouse-roundtrip``: prove the configured store and warehouse on the
user's own cluster, in a scratch schema, before the first real load.

It writes the sample of core.roundtrip as Parquet batch objects to the configured store, loads
them with the same code a pipeline uses (COPY through the IAM role, MERGE, the batch ledger), reads
the rows back and compares them value by value, then drops the scratch schema and its objects.
Each check prints one line, the cluster's version and isolation level first. A check that fails
stops the checks that build on it (the first load's chain); the others still run, and the cleanup
always does. The sample's checks are in ``roundtrip_checks``, the edge cases that only a real
cluster settles in ``roundtrip_edges``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import suppress

from s3rb_stream.commands.roundtrip_checks import CheckFailed, Report, Roundtrip
from s3rb_stream.commands.roundtrip_edges import Edges
from s3rb_stream.errors import S3rbError
from s3rb_stream.settings import Settings
from s3rb_stream.store import open_store
from s3rb_stream.targets import open_warehouse

__all__ = ["Report", "warehouse_roundtrip"]


def run_checks(trip: Roundtrip) -> None:
    """Every check; a store that takes no object stops them all (nothing could load)."""
    edges = Edges(trip)
    with suppress(CheckFailed):
        edges.cluster()
    trip.store_takes_objects()
    for group in (trip.loads, edges.encoded_names, edges.manifest, trip.history, edges.fence, edges.evolve,
                  edges.limits, edges.blanks, edges.soft_deletes):  # fmt: skip
        with suppress(CheckFailed):
            group()


def warehouse_roundtrip(settings: Settings, echo: Callable[[str], None]) -> Report:
    """Run every check against the configured store and warehouse; the report says what passed."""
    report = Report()
    schema = f"s3rb_check_{secrets.token_hex(4)}"
    store = open_store(settings)
    try:
        warehouse = open_warehouse(settings)
    except S3rbError as exc:
        report.fail("connect", str(exc))
        echo(report.lines[-1])
        return report
    report.ok("connect", warehouse.describe())
    echo(report.lines[-1])
    trip = Roundtrip(store, warehouse, schema, report, echo)
    try:
        run_checks(trip)
    except CheckFailed:
        pass
    finally:
        trip.clean_up()
        warehouse.close()
    return report
