"""Load: find batch objects not yet applied and apply them table by table, oldest first."""

from __future__ import annotations

from dataclasses import dataclass, field

from s3rb_stream.core.object_keys import BatchRef, parse_batch_key, table_prefix
from s3rb_stream.core.schema import SourceTable
from s3rb_stream.log import get_logger
from s3rb_stream.settings import TableConfig
from s3rb_stream.store import parquet
from s3rb_stream.store.base import ObjectStore
from s3rb_stream.targets import Warehouse

log = get_logger(__name__)

MAX_ROWS_PER_LOAD = 2_000_000


@dataclass
class LoadStats:
    batches: int = 0
    rows: int = 0
    per_table: dict[str, int] = field(default_factory=dict)


class Loader:
    def __init__(
        self,
        store: ObjectStore,
        warehouse: Warehouse,
        source_db: str,
        target_schema: str,
        tables: list[tuple[TableConfig, SourceTable]],
    ) -> None:
        self.store = store
        self.warehouse = warehouse
        self.source_db = source_db
        self.target_schema = target_schema
        self.tables = tables

    def pending(self, table: SourceTable) -> list[BatchRef]:
        prefix = table_prefix(self.store.prefix, self.source_db, self.target_schema, table.name)
        refs = [r for r in (parse_batch_key(k) for k in self.store.list(prefix)) if r and r.table == table.name]
        applied = self.warehouse.applied(self.target_schema, table.name)
        return sorted(r for r in refs if r.key not in applied)

    def load_all(self) -> LoadStats:
        stats = LoadStats()
        for config, table in self.tables:
            self.warehouse.prepare(self.target_schema, table)
            refs = self.pending(table)
            chunk: list[tuple[BatchRef, object]] = []
            rows = 0
            for ref in refs:
                data = self.store.get(ref.key)
                if data is None:
                    continue  # listed but gone: nothing to apply, it is not recorded as applied
                decoded = parquet.decode(data, ref.key)
                chunk.append((ref, decoded))
                rows += decoded.num_rows
                if rows >= MAX_ROWS_PER_LOAD:
                    stats.rows += self._apply(config, table, chunk)
                    stats.batches += len(chunk)
                    chunk, rows = [], 0
            if chunk:
                stats.rows += self._apply(config, table, chunk)
                stats.batches += len(chunk)
            if refs:
                stats.per_table[table.name] = len(refs)
        if stats.batches:
            log.info(
                "loaded", batches=stats.batches, rows=stats.rows, tables=stats.per_table, target=self.target_schema
            )
        return stats

    def _apply(self, config: TableConfig, table: SourceTable, chunk: list[tuple[BatchRef, object]]) -> int:
        return self.warehouse.apply(self.target_schema, table, config.mode, chunk)
