"""What the running parts and the commands share: a run's result, the stop flag signals set, and
what preflight found (``Prepared``). Apart from the modules that make them, so that none of those
modules imports another to name them."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from types import FrameType

from s3rb_stream.core.gtid import Flavor
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.quarantine import Quarantine
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.log import get_logger
from s3rb_stream.pipeline.load import LoadStats
from s3rb_stream.settings import TableConfig
from s3rb_stream.store.base import ObjectStore

log = get_logger(__name__)


@dataclass
class RunResult:
    changes: int
    batches_written: int
    loaded: LoadStats
    position: BinlogPosition | None
    warnings: list[str] = field(default_factory=list)  # what preflight found worth saying
    captured: dict[str, int] = field(default_factory=dict)  # changes read from the binlog, by table
    tables: list[str] = field(default_factory=list)  # every table of the run, for its summary


class StopFlag:
    """Set by SIGTERM/SIGINT; a second signal stops at once."""

    def __init__(self) -> None:
        self.stopping = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            raise KeyboardInterrupt
        self.stopping = True
        log.info("stopping: flushing batches and saving the checkpoint", signal=signal.Signals(signum).name)


@dataclass(kw_only=True)
class Prepared:
    """What preflight found, having written nothing; a run starts from it."""

    tables: list[tuple[TableConfig, SourceTable]]  # every configured table
    start: BinlogPosition | None  # None when no table is captured from the binlog
    target_position: BinlogPosition | None
    store: ObjectStore
    resumed: bool
    skip_below: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    quarantined: dict[str, Quarantine] = field(default_factory=dict)  # in force, ``gone`` included
    # Captured tables gone from the source: quarantined by ``run`` once it holds the lease.
    gone: list[Quarantine] = field(default_factory=list)
    gtid: Flavor | None = None  # the server's flavor when positioning by GTID

    @property
    def binlog_tables(self) -> list[tuple[TableConfig, SourceTable]]:
        """The tables captured from the binlog: quarantined ones are not (their loads go on)."""
        return [(c, t) for c, t in self.tables if c.cdc_strategy == "binlog" and t.name not in self.quarantined]

    @property
    def query_tables(self) -> list[tuple[TableConfig, SourceTable]]:
        return [(c, t) for c, t in self.tables if c.cdc_strategy != "binlog"]
