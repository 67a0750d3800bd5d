"""SQL text both target dialects write the same way."""

from __future__ import annotations

from s3rb_stream.core.schema import META_COLUMNS, SourceTable
from s3rb_stream.sql.identifiers import quote_ansi as q

CONTROL_TABLE = "_s3rb_batches"


def table_name(schema: str, table: str) -> str:
    return f"{q(schema)}.{q(table)}"


def all_columns(table: SourceTable) -> list[str]:
    """Source columns, then ``_s3rb_seq``, ``_s3rb_op``, ``_s3rb_source_ts``: the Parquet order."""
    return [*table.column_names, *META_COLUMNS]


def create_schema(schema: str) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {q(schema)}"


def load_summary(schema: str) -> str:
    """Per table: batches applied, the newest apply and the highest sequence in effect."""
    return (
        f"SELECT table_name, COUNT(*), MAX(applied_at), MAX(last_seq) FROM {table_name(schema, CONTROL_TABLE)}"
        " GROUP BY table_name ORDER BY table_name"
    )
