"""Named points where the fault-injection suite kills the process, to prove recovery from each.

``S3RB_FAULT_KILL_AT=<point>:<n>`` makes the process SIGKILL itself the n-th time it reaches
``<point>``, exactly as ``kill -9`` would, mid-step: no ``finally``, no flush, no checkpoint. Unset
(always, in production) a point costs one comparison. The points:

* ``capture.commit``     a transaction read from the binlog and buffered, not yet written
* ``store.write``        a batch object half written (local store: temporary file, not renamed)
* ``checkpoint.write``   every batch before the checkpoint is durable, the checkpoint not yet saved
* ``load.copy``          a load's rows staged in the warehouse transaction, nothing applied yet
* ``load.merge``         rows applied and batches recorded, the transaction not yet committed
"""

from __future__ import annotations

import os
import signal

POINTS = ("capture.commit", "store.write", "checkpoint.write", "load.copy", "load.merge")


def _parse(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    point, _, count = value.partition(":")
    if point not in POINTS:
        raise ValueError(f"S3RB_FAULT_KILL_AT names an unknown point {point!r}; known: {', '.join(POINTS)}")
    return point, int(count or 1)


_kill_at = _parse(os.environ.get("S3RB_FAULT_KILL_AT"))
_reached: dict[str, int] = {}


def reached(point: str) -> None:
    """Called at each point; kills the process when the fault test asked for this visit."""
    if _kill_at is None or _kill_at[0] != point:
        return
    _reached[point] = _reached.get(point, 0) + 1
    if _reached[point] >= _kill_at[1]:
        os.kill(os.getpid(), signal.SIGKILL)
