"""Binlog table maps, parsed from their bytes.

A TABLE_MAP event precedes every rows event and says how its row images are laid out: one type
byte and some metadata per column, and (with ``binlog_row_metadata=FULL``) the column names and
character sets. The source writes one per table per transaction, so a busy OLTP source sends the
same bytes thousands of times a second; :class:`TableMapCache` parses each distinct byte string
once. An ALTER changes the bytes, so a cached map never outlives the definition it describes.
"""

from __future__ import annotations

from dataclasses import dataclass

# MySQL field types as the binlog writes them (include/field_types.h).
DECIMAL, TINY, SHORT, LONG, FLOAT, DOUBLE, NULL, TIMESTAMP, LONGLONG, INT24 = range(10)
DATE, TIME, DATETIME, YEAR, NEWDATE, VARCHAR, BIT, TIMESTAMP2, DATETIME2, TIME2 = range(10, 20)
JSON, NEWDECIMAL, ENUM, SET, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, VAR_STRING, STRING, GEOMETRY = range(245, 256)
VECTOR = 242  # MySQL 9: float32 values, little-endian, behind a length prefix
TYPED_ARRAY = 20  # the hidden column of a multi-valued index: its element type and that type's metadata

TYPE_NAMES = {
    DECIMAL: "DECIMAL", TINY: "TINY", SHORT: "SHORT", LONG: "LONG", FLOAT: "FLOAT", DOUBLE: "DOUBLE",
    NULL: "NULL", TIMESTAMP: "TIMESTAMP", LONGLONG: "LONGLONG", INT24: "INT24", DATE: "DATE", TIME: "TIME",
    DATETIME: "DATETIME", YEAR: "YEAR", NEWDATE: "NEWDATE", VARCHAR: "VARCHAR", BIT: "BIT",
    TIMESTAMP2: "TIMESTAMP2", DATETIME2: "DATETIME2", TIME2: "TIME2", JSON: "JSON", NEWDECIMAL: "NEWDECIMAL",
    ENUM: "ENUM", SET: "SET", TINY_BLOB: "TINY_BLOB", MEDIUM_BLOB: "MEDIUM_BLOB", LONG_BLOB: "LONG_BLOB",
    BLOB: "BLOB", VAR_STRING: "VAR_STRING", STRING: "STRING", GEOMETRY: "GEOMETRY", VECTOR: "VECTOR",
    TYPED_ARRAY: "TYPED_ARRAY",
}  # fmt: skip

_ONE_BYTE_META = {FLOAT, DOUBLE, TIMESTAMP2, DATETIME2, TIME2, BLOB, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, GEOMETRY, JSON,
                  VECTOR}  # fmt: skip
# Columns that take a character set in the optional metadata; MySQL 9 counts VECTOR among them (binary).
_CHARACTER = {STRING, VAR_STRING, VARCHAR, BLOB, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, VECTOR}
_NUMERIC = {TINY, SHORT, INT24, LONG, LONGLONG, NEWDECIMAL, FLOAT, DOUBLE, YEAR}

# Optional metadata fields (binlog_row_metadata), MySQL's Table_map_log_event::Optional_metadata_field_type.
_SIGNEDNESS, _DEFAULT_CHARSET, _COLUMN_CHARSET, _COLUMN_NAME = 1, 2, 3, 4
_SET_STR_VALUE, _ENUM_STR_VALUE, _SIMPLE_PRIMARY_KEY, _PRIMARY_KEY_WITH_PREFIX = 5, 6, 8, 9


class TableMapError(ValueError):
    """The bytes are not a table map this parser understands."""


@dataclass(frozen=True, slots=True)
class ColumnLayout:
    """How one column's values are laid out in a row image.

    ``meta`` depends on the type: the maximum byte length (VARCHAR, STRING), the bytes of the
    length prefix (BLOB, JSON, GEOMETRY, VECTOR), the fractional digits (TIME2, DATETIME2, TIMESTAMP2),
    ``precision << 8 | scale`` (NEWDECIMAL), the bit count (BIT), the byte width (ENUM, SET, FLOAT,
    DOUBLE). ``collation`` is the character set's collation id, for character columns, when the
    source logs it; ``unsigned`` the signedness of a number, and ``members`` the members of an
    ENUM or SET, when it logs them (``binlog_row_metadata=FULL``).
    """

    type: int
    meta: int
    collation: int | None = None
    unsigned: bool | None = None
    members: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class TableMap:
    table_id: int
    schema: str
    table: str
    columns: tuple[ColumnLayout, ...]
    names: tuple[str, ...] | None  # None when the source logs no column names
    nullable: tuple[bool, ...] | None = None  # per column; None: unknown, every column may be NULL
    primary_key: tuple[int, ...] | None = None  # column indexes, when the source logs them


def lenenc(buf: bytes, pos: int) -> tuple[int, int]:
    """A MySQL length-encoded integer at ``pos``: (value, position after it)."""
    first = buf[pos]
    if first < 0xFB:
        return first, pos + 1
    if first == 0xFC:
        return int.from_bytes(buf[pos + 1 : pos + 3], "little"), pos + 3
    if first == 0xFD:
        return int.from_bytes(buf[pos + 1 : pos + 4], "little"), pos + 4
    if first == 0xFE:
        return int.from_bytes(buf[pos + 1 : pos + 9], "little"), pos + 9
    raise TableMapError(f"bad length-encoded integer {first:#x} at {pos}")


def _column_meta(col_type: int, buf: bytes, pos: int) -> tuple[int, int, int]:
    """(real type, meta, position after the metadata) of one column."""
    if col_type in _ONE_BYTE_META:
        return col_type, buf[pos], pos + 1
    if col_type == VARCHAR:
        return col_type, buf[pos] | buf[pos + 1] << 8, pos + 2
    if col_type in (STRING, VAR_STRING):
        real, low = buf[pos], buf[pos + 1]
        if real in (ENUM, SET):
            return real, low, pos + 2
        return col_type, (((real << 4) & 0x300) ^ 0x300) + low, pos + 2
    if col_type == NEWDECIMAL:
        return col_type, buf[pos] << 8 | buf[pos + 1], pos + 2
    if col_type == BIT:
        return col_type, buf[pos + 1] * 8 + buf[pos], pos + 2
    if col_type == TYPED_ARRAY:  # never decoded (hidden, absent from row images): only consumed
        element = buf[pos]
        _, _, after = _column_meta(element, buf, pos + 1)
        return col_type, element, after + (1 if element == VARCHAR else 0)  # VARCHAR's length takes 3 bytes here
    return col_type, 0, pos


def parse_table_map(body: bytes, mariadb: bool = False) -> TableMap:
    """Parse a TABLE_MAP event body (after the common header, without the checksum)."""
    try:
        return _parse(body, mariadb)
    except (IndexError, UnicodeDecodeError) as exc:
        raise TableMapError(f"truncated or malformed table map: {exc}") from None


def _parse(body: bytes, mariadb: bool) -> TableMap:
    table_id = int.from_bytes(body[0:6], "little")
    pos = 8  # table id, flags
    length = body[pos]
    schema = body[pos + 1 : pos + 1 + length].decode()
    pos += length + 2  # the name and its NUL
    length = body[pos]
    table = body[pos + 1 : pos + 1 + length].decode()
    pos += length + 2
    count, pos = lenenc(body, pos)
    raw_types = body[pos : pos + count]
    pos += count
    meta_length, pos = lenenc(body, pos)
    meta_end = pos + meta_length
    layouts: list[tuple[int, int]] = []
    for col_type in raw_types:
        real, meta, pos = _column_meta(col_type, body, pos)
        layouts.append((real, meta))
    if pos != meta_end:
        parsed = pos - (meta_end - meta_length)
        raise TableMapError(f"column metadata of {schema}.{table} is {meta_length} bytes, parsed {parsed}")
    nullability = int.from_bytes(body[meta_end : meta_end + (count + 7) // 8], "little")
    nullable = tuple(bool(nullability >> i & 1) for i in range(count))
    pos = meta_end + (count + 7) // 8
    names: tuple[str, ...] | None = None
    collations: list[int] | None = None
    signedness: list[bool] | None = None
    members: dict[int, list[tuple[str, ...]]] = {}  # ENUM / SET → members of each such column in order
    primary_key: tuple[int, ...] | None = None
    character = [t in _CHARACTER or (mariadb and t == GEOMETRY) for t, _ in layouts]
    while pos < len(body):
        field_type = body[pos]
        length, pos = lenenc(body, pos + 1)
        end = pos + length
        if field_type == _COLUMN_NAME:
            found = []
            while pos < end:
                size, pos = lenenc(body, pos)
                found.append(body[pos : pos + size].decode())
                pos += size
            names = tuple(found)
        elif field_type == _DEFAULT_CHARSET:
            default, pos = lenenc(body, pos)
            overrides: dict[int, int] = {}
            while pos < end:
                index, pos = lenenc(body, pos)
                overrides[index], pos = lenenc(body, pos)
            collations = [overrides.get(i, default) for i in range(sum(character))]
        elif field_type == _COLUMN_CHARSET:
            found_ids = []
            while pos < end:
                value, pos = lenenc(body, pos)
                found_ids.append(value)
            collations = found_ids
        elif field_type == _SIGNEDNESS:  # one bit per numeric column, the most significant first
            signedness = [bool(body[pos + i // 8] >> (7 - i % 8) & 1) for i in range((end - pos) * 8)]
        elif field_type in (_ENUM_STR_VALUE, _SET_STR_VALUE):
            kind = ENUM if field_type == _ENUM_STR_VALUE else SET
            members[kind] = []
            while pos < end:
                how_many, pos = lenenc(body, pos)
                values = []
                for _ in range(how_many):
                    size, pos = lenenc(body, pos)
                    values.append(body[pos : pos + size].decode("utf-8", "replace"))
                    pos += size
                members[kind].append(tuple(values))
        elif field_type in (_SIMPLE_PRIMARY_KEY, _PRIMARY_KEY_WITH_PREFIX):
            key = []
            while pos < end:
                index, pos = lenenc(body, pos)
                key.append(index)
                if field_type == _PRIMARY_KEY_WITH_PREFIX:
                    _, pos = lenenc(body, pos)  # the prefix length
            primary_key = tuple(key)
        pos = end
    per_column: list[int | None] = [None] * count
    if collations is not None:
        it = iter(collations)
        per_column = [next(it, None) if is_char else None for is_char in character]
    numeric = iter(signedness) if signedness is not None else None
    of_kind = {kind: iter(found) for kind, found in members.items()}
    columns = tuple(
        ColumnLayout(
            t,
            m,
            c,
            next(numeric, None) if numeric is not None and t in _NUMERIC else None,
            next(of_kind[t], None) if t in of_kind else None,
        )
        for (t, m), c in zip(layouts, per_column, strict=True)
    )
    return TableMap(table_id, schema, table, columns, names, nullable, primary_key)


def present_columns(tmap: TableMap, mask: int) -> TableMap:
    """``tmap`` with only the columns a row image holds (bit i of ``mask`` set: column i is there).

    A row image leaves out the columns its present-columns bitmap does not name, and its NULL
    bits count only the columns it holds; so the image is laid out exactly as a table map of
    those columns alone would say."""
    keep = [i for i in range(len(tmap.columns)) if mask >> i & 1]
    index = {old: new for new, old in enumerate(keep)}
    return TableMap(
        tmap.table_id,
        tmap.schema,
        tmap.table,
        tuple(tmap.columns[i] for i in keep),
        tuple(tmap.names[i] for i in keep) if tmap.names is not None else None,
        tuple(tmap.nullable[i] for i in keep) if tmap.nullable is not None else None,
        tuple(index[i] for i in tmap.primary_key if i in index) if tmap.primary_key is not None else None,
    )


class TableMapCache:
    """Parsed table maps by their bytes: the same bytes always mean the same layout."""

    def __init__(self, mariadb: bool = False, limit: int = 4096) -> None:
        self.mariadb = mariadb
        self.limit = limit
        self._parsed: dict[bytes, TableMap] = {}

    def get(self, body: bytes) -> TableMap:
        found = self._parsed.get(body)
        if found is None:
            if len(self._parsed) >= self.limit:
                self._parsed.clear()  # thousands of distinct maps: tables churn; start over
            found = self._parsed[body] = parse_table_map(body, self.mariadb)
        return found
