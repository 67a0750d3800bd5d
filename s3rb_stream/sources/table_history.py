"""The definition a row image was written under, from its own table map.

Capture may read binlog written under an older definition than the server has now (a first run
from the oldest binlog, an old checkpoint, a promoted replica). With ``binlog_row_metadata=FULL``
every table map names its columns and gives their types, character sets, signedness, ENUM/SET
members and primary key as they were when the row was written. :func:`reconcile` turns a table map
into a :class:`SourceTable`: a column the server still has (by name, with a layout that fits) keeps
what ``information_schema`` says of it (its exact type, its default); any other column is
described from the table map alone. See docs/ARCHITECTURE.md, "Schema history".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from s3rb_stream.core.ddl import added_columns, column_renames
from s3rb_stream.core.positions import BinlogPosition
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError
from s3rb_stream.sources import collations
from s3rb_stream.sources import table_map as tm
from s3rb_stream.sources.row_decoder import layout_fits

BINARY_COLLATION = 63
_INTS = {tm.TINY: "tinyint", tm.SHORT: "smallint", tm.INT24: "mediumint", tm.LONG: "int", tm.LONGLONG: "bigint"}
_BLOB_SIZES = {1: "tiny", 2: "", 3: "medium", 4: "long"}


@dataclass
class AlterHints:
    """What the ALTERs since the table's last row said that its next table map cannot: the columns
    renamed (old → new), and the DEFAULT each added column was given (None: none)."""

    position: BinlogPosition  # of the first of them
    statements: list[str] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    added: dict[str, str | None] = field(default_factory=dict)

    def note(self, statement: str) -> None:
        self.statements.append(statement)
        self.renames.update(column_renames(statement))
        self.added.update(added_columns(statement))

    def apply(self, column: SourceColumn) -> SourceColumn:
        """``column`` with what the ALTERs say of it: the target renames or adds a column only
        where it lacks it, so these say how, whatever the target holds."""
        renamed_to = {new: old for old, new in self.renames.items()}
        if column.name in renamed_to:
            return replace(column, renamed_from=renamed_to[column.name])
        if column.name in self.added:
            return replace(column, default=self.added[column.name])  # as of the ALTER that added it
        return column

    def applied_to(self, table: SourceTable) -> SourceTable:
        """The server's definition read after the ALTERs, with what they say of its columns."""
        columns = tuple(self.apply(c) for c in table.columns)
        return SourceTable(table.database, table.name, columns, table.key_columns)

    @property
    def statement(self) -> str:
        return ";\n".join(self.statements)


def bytes_per_char(collation: int | None) -> int:
    """Bytes of the longest character under ``collation`` (1 for binary and unknown ones)."""
    return collations.bytes_per_char(collation)


def _quoted(members: tuple[str, ...]) -> str:
    return ",".join("'" + m.replace("'", "''") + "'" for m in members)


def column_from_layout(
    name: str, layout: tm.ColumnLayout, nullable: bool, unsigned: bool, members: tuple[str, ...] | None
) -> SourceColumn:
    """A column described by the table map alone (one the server no longer has, or not in this
    shape). Text lengths are the binlog's byte lengths: an upper bound of the characters."""
    t, meta = layout.type, layout.meta
    binary = layout.collation == BINARY_COLLATION
    sign = " unsigned" if unsigned else ""

    def col(data_type: str, column_type: str, **extra: int) -> SourceColumn:
        return SourceColumn(name, data_type, column_type, nullable, **extra)  # type: ignore[arg-type]

    if t in _INTS:
        return col(_INTS[t], _INTS[t] + sign)
    if t == tm.NEWDECIMAL:
        precision, scale = meta >> 8, meta & 0xFF
        return col("decimal", f"decimal({precision},{scale}){sign}", precision=precision, scale=scale)
    if t in (tm.FLOAT, tm.DOUBLE):
        kind = "float" if t == tm.FLOAT else "double"
        return col(kind, kind + sign)
    if t == tm.YEAR:
        return col("year", "year(4)")
    if t in (tm.DATE, tm.NEWDATE):
        return col("date", "date")
    for types, kind in (((tm.DATETIME2, tm.DATETIME), "datetime"), ((tm.TIMESTAMP2, tm.TIMESTAMP), "timestamp"),
                        ((tm.TIME2, tm.TIME), "time")):  # fmt: skip
        if t in types:
            fsp = meta if t in (tm.DATETIME2, tm.TIMESTAMP2, tm.TIME2) else 0
            return col(kind, f"{kind}({fsp})" if fsp else kind, datetime_precision=fsp)
    if t == tm.BIT:
        return col("bit", f"bit({meta})", precision=meta)
    if t in (tm.VARCHAR, tm.VAR_STRING, tm.STRING):
        kind = ("varbinary" if binary else "varchar") if t != tm.STRING else ("binary" if binary else "char")
        length = meta // bytes_per_char(layout.collation)
        return col(kind, f"{kind}({length})", char_length=length)
    if t == tm.BLOB:
        kind = _BLOB_SIZES.get(meta, "long") + ("blob" if binary else "text")
        return col(kind, kind)
    if t == tm.JSON:
        return col("json", "json")
    if t == tm.GEOMETRY:
        return col("geometry", "geometry")
    if t == tm.VECTOR:
        return col("vector", "vector")
    if t in (tm.ENUM, tm.SET):
        kind = "enum" if t == tm.ENUM else "set"
        if members is None:
            raise SchemaError(
                f"column {name} ({kind.upper()}) of an older table definition has no members in the binlog",
                "set binlog_row_metadata=FULL on the source",
            )
        return col(kind, f"{kind}({_quoted(members)})")
    raise SchemaError(f"column {name} arrives as binlog type {tm.TYPE_NAMES.get(t, t)}, which cannot be described")


def reconcile(
    tmap: tm.TableMap,
    current: SourceTable,
    catalog: SourceTable | None,
    hints: AlterHints | None = None,
    fixed_key: bool = False,
) -> SourceTable:
    """The definition ``tmap``'s rows were written under.

    ``current``: the definition capture holds (the last rows' one); ``catalog``: the server's
    definition as last read; ``hints``: the ALTERs read since ``current``'s last rows;
    ``fixed_key``: the key is configured (the tables file), not the table's primary key.
    """
    if tmap.names is None:
        raise SchemaError(
            f"rows of {current.database}.{current.name} do not match its definition, and the binlog does not"
            " say which columns they have",
            "set binlog_row_metadata=FULL on the source",
        )
    renamed_to = {new: old for old, new in (hints.renames if hints else {}).items()}
    by_name = {c.name: c for c in current.columns}
    known = {c.name: c for c in catalog.columns} if catalog is not None else {}
    columns = []
    for i, (name, layout) in enumerate(zip(tmap.names, tmap.columns, strict=True)):
        nullable = tmap.nullable[i] if tmap.nullable is not None else True
        before = by_name.get(renamed_to.get(name, name))
        candidates = [known.get(name), by_name.get(name), replace(before, name=name) if before else None]
        column = next((c for c in candidates if c is not None and layout_fits(c, layout)), None)
        if column is None:
            column = column_from_layout(name, layout, nullable, bool(layout.unsigned), layout.members)
        columns.append(hints.apply(column) if hints is not None else column)
    names = tuple(tmap.names)
    renamed = hints.renames if hints else {}
    key = tuple(renamed.get(k, k) for k in current.key_columns)
    if tmap.primary_key and not fixed_key:
        key = tuple(names[i] for i in tmap.primary_key)  # the primary key as it was
    elif not key or not set(key) <= set(names):
        if catalog is not None and catalog.key_columns and set(catalog.key_columns) <= set(names):
            key = catalog.key_columns
        elif tmap.primary_key:
            key = tuple(names[i] for i in tmap.primary_key)
        else:
            key = ()
    return SourceTable(current.database, current.name, tuple(columns), key)
