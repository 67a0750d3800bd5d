"""Whole-table extracts (``snapshot`` and ``full_sync``): keyset pages in key order, one part each.

The state object is written after each part is durable, so an interrupted extract resumes after
the last key it wrote. Key values are bound as text for text columns (so the server compares them
with the column's collation, as ``ORDER BY`` does) and as bytes for binary columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from s3rb_stream import faultpoints
from s3rb_stream.core.query_state import ExtractState, Key
from s3rb_stream.core.schema import SourceTable, arrow_type
from s3rb_stream.core.text_values import as_bytes
from s3rb_stream.errors import ConfigError, SchemaError, Stopped, listed
from s3rb_stream.pipeline.pages import Progress, TableStore, page_table
from s3rb_stream.settings import Strategy, TableConfig
from s3rb_stream.sources.query_reader import QueryReader, TextRow
from s3rb_stream.sql import mysql as q
from s3rb_stream.threads import leave_signals_to_main


def bound_values(table: SourceTable, columns: Sequence[str], values: Sequence[bytes | None]) -> list[Any]:
    """Text-protocol values ready to bind: str for text-like columns, bytes for binary ones."""
    out: list[Any] = []
    for name, value in zip(columns, values, strict=True):
        col = table.columns[table.position(name)]
        binary = str(arrow_type(col)) == "binary"
        out.append(value if value is None or binary else value.decode())
    return out


def select_tables(
    resolved: list[tuple[TableConfig, SourceTable]], names: Sequence[str], strategies: set[Strategy], command: str
) -> list[tuple[TableConfig, SourceTable]]:
    """The tables a ``snapshot`` or ``sync`` run covers: those named, or every table it applies to."""
    by_name = {t.name: (cfg, t) for cfg, t in resolved}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(
            f"{command}: table(s) {listed(unknown)} are not in the tables file for this source database",
            f"configured tables: {', '.join(sorted(by_name)) or 'none'}",
        )
    chosen = [by_name[n] for n in names] if names else [(c, t) for c, t in resolved if c.cdc_strategy in strategies]
    wrong = [f"{t.name} ({c.cdc_strategy})" for c, t in chosen if c.cdc_strategy not in strategies]
    if wrong:
        other = "s3rb-stream sync" if command == "snapshot" else "s3rb-stream snapshot"
        raise ConfigError(
            f"{command} applies to cdc_strategy {' or '.join(sorted(strategies))}; not to {', '.join(wrong)}",
            f"use {other} for those tables",
        )
    if not chosen:
        raise ConfigError(
            f"{command}: no table of this source database has cdc_strategy {' or '.join(sorted(strategies))}",
            "check cdc_strategy in the tables file",
        )
    return chosen


def require_extractable(config: TableConfig, table: SourceTable, command: str) -> None:
    """A whole-table extract pages by key and replaces the target's rows: it needs a NOT NULL key and
    a mode that keeps one row per key."""
    where = f"{table.database}.{table.name}"
    if config.mode == "append":
        raise ConfigError(
            f"{command} of {where}: mode append keeps every change, and an extract is not a change",
            "use mode merge for tables you snapshot, or capture the append table from the binlog only",
        )
    nullable = [c.name for c in table.columns if c.name in table.key_columns and c.nullable]
    if nullable:
        raise SchemaError(
            f"{command} of {where}: key column(s) {listed(nullable)} are nullable;"
            " rows with a NULL key cannot be paged",
            "make the key columns NOT NULL, or choose other key_columns",
        )


def read_extract(
    reader: QueryReader,
    target: TableStore,
    state: ExtractState,
    chunk_rows: int,
    read_at: datetime,
    progress: Progress,
    stopping: Callable[[], bool] = lambda: False,
) -> ExtractState:
    """Read the table in key order after ``state.last_key``, one part per page; return the final state.
    :class:`Stopped` when ``stopping`` is true after a page: its progress is saved, and the extract
    resumes there.

    Snapshot rows all carry the snapshot's sequence; full_sync rows get one each from ``first_seq``.
    An empty table still gets one empty part, so that loading it sweeps the target.
    """
    table = target.table
    key = list(table.key_columns)
    key_positions = [table.position(k) for k in key]
    same_seq = state.kind == "snapshot"
    floats = [c.name for c in table.columns if c.data_type.lower() == "float"]

    def fetch(after: Key | None) -> list[TextRow]:
        params = q.after_params(bound_values(table, key, after)) if after is not None else None
        return reader.execute(
            q.keyset_chunk(table.database, table.name, table.column_names, key, after is not None, chunk_rows, floats),
            params,
        )

    # While one page is converted and written, the next is already being read: the server and the
    # network work in parallel with Arrow and Parquet. Only one query is in flight at a time.
    with ThreadPoolExecutor(1, "s3rb-page", leave_signals_to_main) as pool:
        next_page: Future[list[TextRow]] | None = pool.submit(fetch, state.last_key)
        while next_page is not None:
            rows = next_page.result()
            next_page = None
            last_key = tuple(as_bytes(rows[-1][i]) for i in key_positions) if rows else state.last_key
            if len(rows) >= chunk_rows:
                next_page = pool.submit(fetch, last_key)
            if not rows and state.parts > 0:
                break
            first = state.first_seq if same_seq else state.first_seq + state.rows
            last = first if same_seq else first + max(len(rows) - 1, 0)
            data = page_table(table, rows, first, same_seq, read_at)
            part_key = target.put_page(data, first, last, read_at, part=state.parts, run=state.run)
            state = state.wrote(part_key, len(rows), last_key, last)
            target.save_extract_state(state)
            progress.add(len(rows))
            faultpoints.reached("extract.page")
            if next_page is not None and stopping():
                raise stopped(state.kind, table.name, state.rows)
    progress.finish()
    state = state.completed()
    target.save_extract_state(state)
    return state


def stopped(what: str, table: str, rows: int) -> Stopped:
    return Stopped(
        f"stopped by a signal: the {what} of {table} ends after {rows:,} rows, its progress saved",
        "run the same command again to go on from there",
    )
