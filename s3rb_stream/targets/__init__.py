"""Warehouses the pipeline loads into: DuckDB (a file) and Redshift. What they offer is in
``targets/base.py``; this picks one from the settings."""

from __future__ import annotations

from s3rb_stream.core.target_names import NameRules, duckdb_rules, redshift_rules
from s3rb_stream.settings import Settings
from s3rb_stream.targets.base import AppliedSummary, Fence, Sweep, Warehouse

__all__ = ["AppliedSummary", "Fence", "Sweep", "Warehouse", "name_rules", "open_warehouse"]


def name_rules(settings: Settings) -> NameRules:
    """How the configured warehouse holds source names (core.target_names)."""
    location = settings.warehouse()
    if location.kind == "redshift":
        return redshift_rules()
    return duckdb_rules()


def open_warehouse(settings: Settings, read_only: bool = False) -> Warehouse:
    location = settings.warehouse()
    if location.kind == "redshift":
        from s3rb_stream.store import open_store
        from s3rb_stream.targets.redshift import RedshiftWarehouse

        return RedshiftWarehouse(
            location, settings.redshift_iam_role, open_store(settings), settings.redshift_statement_timeout_seconds
        )
    from s3rb_stream.targets.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(location.path, read_only=read_only, memory_limit=settings.duckdb_memory_limit)
