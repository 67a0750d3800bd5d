"""``s3rb-stream inspect-binlog``: what this tool makes of binlog files, one JSON object a line.

Like ``mysqlbinlog -v``, but with the values capture loads: the files go through capture's own
event loop (:class:`~s3rb_stream.sources.binlog_file.BinlogFileReader`) and row decoder, every
table of every schema described from its table map alone (no server to ask). docs/mysql.md
("Inspecting a binlog file") says what each line holds.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from s3rb_stream.core.ddl import parse_ddl
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import S3rbError
from s3rb_stream.sources.binlog import Boundary, Ddl, RowImages, XaOutcome, XaPrepared
from s3rb_stream.sources.binlog_file import BinlogFileError, BinlogFileReader
from s3rb_stream.sources.table_history import column_from_layout
from s3rb_stream.sources.table_map import TableMap

EXIT_OK, EXIT_UNDECODED, EXIT_DAMAGED = 0, 1, 2
_FLOAT32 = struct.Struct("<f")


def json_value(value: Any, column: SourceColumn) -> Any:
    """A decoded value (the row decoder's output: what capture loads) as inspect-binlog prints it.

    Integers, BIT, YEAR, FLOAT and DOUBLE: JSON numbers (a FLOAT with the fewest digits that give
    back its 32-bit value); DECIMAL: a string of its exact digits; DATE, DATETIME, TIMESTAMP: ISO
    8601 with the column's declared fraction, a TIMESTAMP in UTC (``Z``); TIME: ``[-]HH:MM:SS[.f]``
    as loaded; JSON: the JSON value itself; text, ENUM and SET: strings; binary: base64."""
    if value is None:
        return None
    data_type = column.data_type.lower()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return _iso(value, column.datetime_precision or 0)
    if isinstance(value, date):
        return value.isoformat()
    if data_type == "json":
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return value  # a JSON string document, which the loaded column holds unquoted
    if isinstance(value, float) and data_type == "float":
        return _shortest_float32(value)
    return value


def _iso(value: datetime, fsp: int) -> str:
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if fsp:
        text += "." + f"{value.microsecond:06d}"[:fsp]
    return text + ("Z" if value.tzinfo is not None else "")


def _shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the same 32-bit float (what a FLOAT column holds)."""
    stored = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    for digits in range(1, 10):
        candidate = float(f"{stored:.{digits}g}")
        if _FLOAT32.unpack(_FLOAT32.pack(candidate))[0] == stored:
            return candidate
    return float(stored)


def definition_from_map(tmap: TableMap, name: str) -> SourceTable:
    """A table as its table map describes it; columns ``col_1``... when the map names none
    (``binlog_row_metadata=MINIMAL``). Raises :class:`SchemaError` for a column it cannot describe."""
    names = tmap.names or tuple(f"col_{i}" for i in range(1, len(tmap.columns) + 1))
    columns = tuple(
        column_from_layout(
            column, layout, tmap.nullable[i] if tmap.nullable else True, bool(layout.unsigned), layout.members
        )
        for i, (column, layout) in enumerate(zip(names, tmap.columns, strict=True))
    )
    key = tuple(names[i] for i in tmap.primary_key or ())
    return SourceTable(tmap.schema, name, columns, key)


class MapTables:
    """Every table the files name (or only ``only``, a (schema, table) pair), each under
    ``schema.table`` and decoded by its own table map. :meth:`admit` and :meth:`resolve` are the
    reader's hooks; capture never sets them, so its own loop is unchanged."""

    def __init__(self, only: tuple[str, str] | None = None) -> None:
        self.only = only
        self.tables: dict[str, SourceTable] = {}  # placeholders: the real definition comes from each map
        self._renamed: dict[TableMap, TableMap] = {}
        self._original: dict[int, TableMap] = {}  # id of a renamed map → the map as read
        self._defined: dict[int, SourceTable] = {}

    def admit(self, tmap: TableMap) -> TableMap | None:
        if self.only is not None and (tmap.schema, tmap.table) != self.only:
            return None
        renamed = self._renamed.get(tmap)
        if renamed is None:
            name = f"{tmap.schema}.{tmap.table}"
            renamed = TableMap(tmap.table_id, tmap.schema, name, tmap.columns, tmap.names, tmap.nullable,
                               tmap.primary_key)  # fmt: skip
            self._renamed[tmap] = renamed
            self._original[id(renamed)] = tmap
            self.tables.setdefault(name, SourceTable(tmap.schema, tmap.table, (), ()))
        return renamed

    def resolve(self, tmap: TableMap, _held: SourceTable) -> SourceTable:
        found = self._defined.get(id(tmap))
        if found is None:
            original = self._original.get(id(tmap), tmap)
            found = self._defined[id(tmap)] = definition_from_map(original, original.table)
        return found


def inspect(paths: Sequence[str | Path], table: str | None, out: TextIO, err: TextIO) -> int:
    """Print every row change and DDL statement of ``paths`` (only ``table``, ``db.table``, if
    given) as JSON lines on ``out``. Exit code: 0; 1 if some rows could not be decoded (each named
    on its line); 2 if a file is damaged or cannot be read (after everything before the damage)."""
    only: tuple[str, str] | None = None
    if table is not None:
        schema, _, name = table.partition(".")
        if not schema or not name:
            err.write(f"error: --table {table!r} is not DB.TABLE\n")
            return EXIT_DAMAGED
        only = (schema, name)
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        err.write(f"error: no such file: {', '.join(missing)}\n")
        return EXIT_DAMAGED
    known = MapTables(only)
    reader = BinlogFileReader(paths, "", known.tables)
    reader.admit, reader.resolve, reader.keep_gtid = known.admit, known.resolve, True
    undecoded = 0
    try:
        for item in reader.items():
            where = f"{reader.path.name if reader.path else ''}:{reader.offset}"
            if isinstance(item, RowImages):
                undecoded += _print_rows(item, where, reader.last_gtid, out)
            elif isinstance(item, Boundary):
                reader.last_gtid = None  # the next transaction says its own (or none: anonymous)
            elif isinstance(item, Ddl):
                if only is None or _names(item, only):
                    _line(out, {"position": where, "gtid": reader.last_gtid, "schema": item.schema,
                                "ddl": item.statement})  # fmt: skip
            elif isinstance(item, XaPrepared | XaOutcome) and only is None:
                what = "prepare" if isinstance(item, XaPrepared) else "commit" if item.committed else "rollback"
                _line(out, {"position": where, "gtid": reader.last_gtid, "xa": what, "xid": item.xid})
    except BinlogFileError as exc:
        out.flush()
        err.write(f"error: {exc}\n")
        return EXIT_DAMAGED
    except S3rbError as exc:
        out.flush()
        err.write(f"error: {reader.path or paths[0]} at offset {reader.offset}: {exc}\n")
        return EXIT_DAMAGED
    except Exception as exc:  # a bug; a support tool still names where it struck, in one line
        out.flush()
        where = f"{reader.path or paths[0]} at offset {reader.offset}"
        err.write(f"error: {where}: {type(exc).__name__}: {exc} (please report it, with the file)\n")
        return EXIT_DAMAGED
    if undecoded:
        out.flush()
        err.write(f"error: {undecoded} rows event(s) could not be decoded (see their lines)\n")
        return EXIT_UNDECODED
    return EXIT_OK


def _print_rows(item: RowImages, where: str, gtid: str | None, out: TextIO) -> int:
    if item.problem is not None or item.definition is None:
        _line(out, {"position": where, "gtid": gtid, "table": item.table, "error": item.problem})
        return 1
    columns = item.definition.columns
    names = [c.name for c in columns]

    def image(row: tuple[Any, ...]) -> dict[str, Any]:
        return {name: json_value(v, c) for name, c, v in zip(names, columns, row, strict=True)}

    rows = item.rows
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]]
    if item.kind == "update":
        pairs = [(image(rows[i]), image(rows[i + 1])) for i in range(0, len(rows), 2)]
    elif item.kind == "insert":
        pairs = [(None, image(row)) for row in rows]
    else:
        pairs = [(image(row), None) for row in rows]
    for before, after in pairs:
        _line(out, {"position": where, "gtid": gtid, "table": item.table, "op": item.kind, "before": before,
                    "after": after})  # fmt: skip
    return 0


def _names(item: Ddl, only: tuple[str, str]) -> bool:
    change = parse_ddl(item.statement, item.schema)
    return change is not None and only in change.tables


def _line(out: TextIO, record: dict[str, Any]) -> None:
    out.write(json.dumps(record, ensure_ascii=False) + "\n")
