"""The statements both targets write the same way, bound once to a dialect.

``sql.duckdb`` and ``sql.redshift`` each make one :class:`TargetStatements` and export its methods
as their own functions, so callers keep writing ``sql.watermark(schema)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from s3rb_stream.core.scd2 import Scd2Spec
from s3rb_stream.core.schema import DELETED_AT, SourceColumn, SourceTable
from s3rb_stream.sql import common, scd2
from s3rb_stream.sql.common import ControlDialect, SchemaName
from s3rb_stream.sql.identifiers import quote_ansi as q
from s3rb_stream.sql.scd2 import Scd2Dialect


@dataclass(frozen=True)
class TargetStatements:
    control: ControlDialect
    history: Scd2Dialect
    column_type: Callable[[SourceColumn], str]
    default_in_ddl: bool = True  # False: an added column's default is backfilled (common.missing_columns)

    def create_table(
        self, schema: SchemaName, table: SourceTable, spec: Scd2Spec | None = None, soft_delete: bool = False
    ) -> list[str]:
        """The target table (and, for SCD2, what its surrogate key needs first); with
        ``soft_delete``, with ``_s3rb_deleted_at`` last."""
        if spec is None:
            extra = [f"{q(DELETED_AT)} {common.DELETED_AT_TYPE}"] if soft_delete else []
            return [common.create_table(schema, table, self.column_type, self.control, extra)]
        extra = scd2.version_columns(schema, table, spec, self.history)
        return [
            *scd2.create_statements(schema, table, self.history),
            common.create_table(schema, table, self.column_type, self.control, extra),
        ]

    def create_control_table(self, schema: SchemaName) -> str:
        return common.create_control_table(schema, self.control)

    def control_table_exists(self) -> str:
        return common.control_table_exists(self.control)

    def applied_keys(self, schema: SchemaName) -> str:
        return common.applied_keys(schema, self.control)

    def watermark(self, schema: SchemaName) -> str:
        return common.watermark(schema, self.control)

    def applied_among(self, schema: SchemaName, count: int) -> str:
        return common.applied_among(schema, self.control, count)

    def applied_before(self, schema: SchemaName, limit: int) -> str:
        return common.applied_before(schema, self.control, limit)

    def folded_row(self, schema: SchemaName) -> str:
        return common.folded_row(schema, self.control)

    def fold(
        self, schema: SchemaName, table: str, keys: Sequence[str], row: tuple[int, int, int, datetime]
    ) -> list[common.Step]:
        return common.fold(schema, self.control, table, keys, row)

    def create_fence_table(self, schema: SchemaName) -> str:
        return common.create_fence_table(schema, self.control)

    def fence_table_upgrade(self, schema: SchemaName) -> str:
        return common.fence_table_upgrade(schema)

    def claim_fence(
        self, schema: SchemaName, source_db: str, generation: int, tables: Sequence[str]
    ) -> list[common.Step]:
        return common.claim_fence(schema, self.control, source_db, generation, tables)

    def hold_fence(self, schema: SchemaName, source_db: str, generation: int, table: str) -> list[common.Step]:
        return common.hold_fence(schema, self.control, source_db, generation, table)

    def fence_generation(self, schema: SchemaName) -> str:
        return common.fence_generation(schema, self.control)

    def record_batch(self, schema: SchemaName) -> str:
        return common.record_batch(schema, self.control)

    def sweep(self, schema: SchemaName, table: SourceTable) -> str:
        return common.sweep(schema, table, self.control)

    def soft_sweep(self, schema: SchemaName, table: SourceTable, below_seq: int, at: datetime) -> common.Step:
        return common.soft_sweep(schema, table, self.control, below_seq, at)

    def target_columns(self) -> str:
        return common.target_columns(self.control)

    def missing_columns(self, schema: SchemaName, table: SourceTable, existing: set[str]) -> list[str]:
        return common.missing_columns(schema, table, existing, self.column_type, self.default_in_ddl)

    def widened_columns(self, table: SourceTable, existing: Mapping[str, str]) -> list[tuple[str, str, str]]:
        return common.widened_columns(table, existing, self.column_type)
