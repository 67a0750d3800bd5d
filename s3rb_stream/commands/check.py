"""``s3rb-stream check``: preflight a pipeline (settings, tables file, the source and its binlog
settings, keys, store, warehouse) without writing anything, and say what was found."""

from __future__ import annotations

from s3rb_stream import process, speedups
from s3rb_stream.pipeline.runner import prepare
from s3rb_stream.settings import Settings
from s3rb_stream.targets import open_warehouse


def check_pipeline(settings: Settings, source_db: str, target_schema: str) -> list[str]:
    """The lines ``check`` prints; a problem raises its error (nothing is written either way)."""
    process.configure(settings)
    prepared = prepare(settings, source_db, target_schema, "earliest")
    open_warehouse(settings).close()
    lines = [f"ok: {len(prepared.tables)} table(s) of {source_db} ready to stream into {target_schema}"]
    lines += [f"warning: {warning}" for warning in prepared.warnings]
    if speedups.compiled is None:
        lines.append(
            f"warning: the compiled speed-ups do not run ({speedups.missing}): capture runs their"
            " pure-Python references, about half as fast; reinstall the package where a C compiler is"
        )
    for config, table in prepared.tables:
        key = ", ".join(table.key_columns) or "-"
        deletes = " deletes=soft" if config.soft_delete else ""
        lines.append(f"  {table.name:30} {config.cdc_strategy:9} mode={config.mode:7} key=({key}){deletes}")
    return lines
