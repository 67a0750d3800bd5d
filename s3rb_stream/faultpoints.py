"""Named points where the fault-injection suite kills or pauses the process, to prove recovery from each.

``S3RB_FAULT_KILL_AT=<point>:<n>`` makes the process SIGKILL itself the n-th time it reaches
``<point>``, exactly as ``kill -9`` would, mid-step: no ``finally``, no flush, no checkpoint.
``S3RB_FAULT_PAUSE_AT=<point>:<n>`` makes it SIGSTOP itself there instead, as a long GC pause or a
frozen VM would, until the test sends SIGCONT. Unset (always, in production) a point costs one
comparison. The points:

* ``capture.commit``     a transaction read from the binlog and buffered, not yet written
* ``store.write``        a batch object half written (local store: temporary file, not renamed)
* ``checkpoint.write``   every batch before the checkpoint is durable, the checkpoint not yet saved
* ``load.begin``         a load's batches read from the store, its warehouse transaction not begun
* ``load.copy``          a load's rows staged in the warehouse transaction, nothing applied yet
* ``load.merge``         rows applied and batches recorded, the transaction not yet committed
* ``cleanup.removed``    applied batch objects removed by cleanup, their ledger rows not yet folded
* ``extract.page``       a page of a snapshot or query sync written and its progress saved
"""

from __future__ import annotations

import os
import signal

# The points a running daemon passes (the fault suite kills it at each), then the others.
POINTS = (
    "capture.commit",
    "store.write",
    "checkpoint.write",
    "load.begin",
    "load.copy",
    "load.merge",
    "cleanup.removed",
)
ALL_POINTS = (*POINTS, "extract.page")


def _parse(variable: str) -> tuple[str, int] | None:
    value = os.environ.get(variable)
    if not value:
        return None
    point, _, count = value.partition(":")
    if point not in ALL_POINTS:
        raise ValueError(f"{variable} names an unknown point {point!r}; known: {', '.join(ALL_POINTS)}")
    return point, int(count or 1)


_faults = {
    signal.SIGKILL: _parse("S3RB_FAULT_KILL_AT"),
    signal.SIGSTOP: _parse("S3RB_FAULT_PAUSE_AT"),
}
_armed = {fault: at for fault, at in _faults.items() if at is not None}
_reached: dict[str, int] = {}


def reached(point: str) -> None:
    """Called at each point; kills or pauses the process when the fault test asked for this visit."""
    if not _armed:
        return
    _reached[point] = _reached.get(point, 0) + 1
    for fault, (where, visit) in _armed.items():
        if where == point and _reached[point] == visit:
            os.kill(os.getpid(), fault)
