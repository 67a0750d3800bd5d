"""``verify``: prove the target equals the source while writes go on, and with ``--repair``
rewrite exactly what differs (the work: pipeline/verify.py; docs/ARCHITECTURE.md, "Verify")."""

from __future__ import annotations

from collections.abc import Sequence

from s3rb_stream import process
from s3rb_stream.log import per_pipeline
from s3rb_stream.pipeline.verify import VerifyResult, verify_tables
from s3rb_stream.settings import Settings


@per_pipeline
def verify(
    settings: Settings,
    source_db: str,
    target_schema: str,
    table_names: Sequence[str] = (),
    repair: bool = False,
    wait_seconds: float = 120.0,
) -> VerifyResult:
    """Verify the selected tables (default: every table); with ``repair``, repair them."""
    process.configure(settings)
    return verify_tables(settings, source_db, target_schema, table_names, repair, wait_seconds)
