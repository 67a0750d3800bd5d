"""SQL for ``verify``: per-row digests and per-range sums, computed inside each database.

A value is rendered as the same text on both sides (docs/ARCHITECTURE.md, "Verify"); a row's text
is a NULL flag per nullable column, then its values joined by the unit separator; its digest is the
first 15 hex digits of that text's MD5, read as an integer; a range's checksum is the exact sum of
its rows' digests, with their count. A column whose values no expression renders
alike on both sides (FLOAT and DOUBLE everywhere, JSON in Redshift's SUPER) is *fetched*: its
values cross the network and are digested here (:mod:`s3rb_stream.core.verify`).

Ranges are of a *range key*: the key itself for a single integer key column (an index range on
the source), else a 48-bit hash of the rendered key (a scan; the same partition in every
database, whatever its collation orders text by). Pure text builders; values we control only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from s3rb_stream.core.schema import MAX_ARROW_DECIMAL, SourceColumn, SourceTable
from s3rb_stream.sql.identifiers import quote_ansi, quote_mysql
from s3rb_stream.sql.mysql import select_list

Dialect = Literal["mysql", "duckdb", "redshift"]
TargetDialect = Literal["duckdb", "redshift"]

DIGEST_HEX = 15  # 60 bits: a million rows' sum stays far inside DECIMAL(38)
RANGE_KEY_HEX = 12  # 48 bits of the key's hash, for keys that are not one integer column
HASHED_KEY_SPAN = 1 << (4 * RANGE_KEY_HEX)

_INTEGERS = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "time"}
_BINARY = {
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring",
    "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "vector",
}  # fmt: skip
_FLOATS = {"float", "double", "real"}


def fetched(col: SourceColumn, target: TargetDialect) -> bool:
    """Whether the column's values are compared here rather than digested in each database."""
    dt = col.data_type.lower()
    if dt in _FLOATS:
        return True  # each database prints a float its own way ('1e20', '1e+20', '3' or '3.0')
    if dt == "json":
        return target == "redshift"  # SUPER serializes without MySQL's spaces
    if dt == "decimal" and (col.precision or 10) > MAX_ARROW_DECIMAL:
        return col.decimal_overflow not in (None, "widen")  # fitted by a policy: compared as numbers
    return False


def integer_range_key(table: SourceTable) -> bool:
    """Whether the table's ranges are of its key itself: one integer column that fits BIGINT."""
    if len(table.key_columns) != 1:
        return False
    col = table.columns[table.position(table.key_columns[0])]
    dt = col.data_type.lower()
    return dt in _INTEGERS and not (dt == "bigint" and col.unsigned)


def _name(dialect: Dialect, column: str) -> str:
    return quote_mysql(column) if dialect == "mysql" else quote_ansi(column)


def _fsp(col: SourceColumn) -> int:
    """A temporal column's fractional digits (a DATE's: none)."""
    return 0 if col.data_type.lower() == "date" else col.datetime_precision or 0


def rendered(col: SourceColumn, dialect: Dialect, column: str | None = None) -> str:
    """An expression of the column's value as text, alike in every dialect (NULL stays NULL)."""
    c = _name(dialect, column or col.name)
    dt = col.data_type.lower()
    if dialect == "mysql":
        if dt in ("bit", "year"):
            return f"CAST({c} + 0 AS CHAR)"
        if dt in _INTEGERS or dt == "decimal":
            return f"CAST({c} AS CHAR)"
        if dt in _BINARY:
            return f"LOWER(HEX({c}))"
        if dt in ("date", "datetime", "timestamp"):  # a zero date (or a zero part) is NULL in the target
            # CAST prints the column's own fractional digits: alike where the targets print them too.
            value = f"CAST({c} AS CHAR)" if _fsp(col) in (0, 6) else f"DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s.%f')"
            return f"IF(MONTH({c}) = 0 OR DAYOFMONTH({c}) = 0, NULL, {value})"
        return f"CONVERT({c} USING utf8mb4)"  # text, ENUM, SET, TIME, JSON
    if dt in _BINARY:
        return f"lower(hex({c}))" if dialect == "duckdb" else f"FROM_VARBYTE({c}, 'hex')"
    if dt in ("date", "datetime", "timestamp"):
        whole = dt != "date" and _fsp(col) == 0  # no fraction, as MySQL prints it
        if dialect == "duckdb":
            fmt = "%Y-%m-%d" if dt == "date" else "%Y-%m-%d %H:%M:%S" if whole else "%Y-%m-%d %H:%M:%S.%f"
            value = f"timezone('UTC', {c})" if dt == "timestamp" else c
            return f"strftime({value}, '{fmt}')"
        fmt = "YYYY-MM-DD" if dt == "date" else "YYYY-MM-DD HH24:MI:SS" if whole else "YYYY-MM-DD HH24:MI:SS.US"
        return f"TO_CHAR({c}, '{fmt}')"  # TIMESTAMPTZ in the session's zone: UTC unless set otherwise
    if dt in _TEXT or dt == "json":
        return c
    return f"CAST({c} AS VARCHAR)"  # integers, BIT, YEAR, DECIMAL (its declared scale kept)


def as_fetched(col: SourceColumn, dialect: Dialect, column: str | None = None) -> str:
    """A fetched column as it is read: MySQL prints a FLOAT to 6 digits, so it is widened to the
    DOUBLE that holds its exact value."""
    c = _name(dialect, column or col.name)
    return f"CAST({c} AS DOUBLE)" if dialect == "mysql" and col.data_type.lower() == "float" else c


SEPARATOR = "\x1f"  # between values: the unit separator


def _joined(dialect: Dialect, exprs: Sequence[str], flags: Sequence[str]) -> str:
    """The values' texts joined by :data:`SEPARATOR`, after a flag per ``flags`` expression (``1``
    where it is NULL), so that a NULL and an empty text differ. No length before each value: MySQL
    evaluates an expression each time it is written, and that would double the work."""
    if dialect == "mysql":
        head = f"CONCAT({', '.join(f'ISNULL({f})' for f in flags)})" if flags else "''"
        values = ", ".join(f"IFNULL({e}, '')" for e in exprs)
        return f"CONCAT_WS(CHAR(31 USING utf8mb4), {head}, {values})"
    head = " || ".join(f"(CASE WHEN {f} IS NULL THEN '1' ELSE '0' END)" for f in flags) if flags else "''"
    return f"({head})" + "".join(f" || CHR(31) || COALESCE({e}, '')" for e in exprs)


def _flag(col: SourceColumn, dialect: Dialect, column: str) -> str | None:
    """What says the column's value is NULL: the column itself, or on MySQL a date's rendering (a
    zero date is NULL in the target); None for a NOT NULL column that cannot be NULL there."""
    dated = col.data_type.lower() in ("date", "datetime", "timestamp")
    if dialect == "mysql" and dated:
        c = _name(dialect, column)
        return f"NULLIF(MONTH({c}) * DAYOFMONTH({c}), 0)"
    return _name(dialect, column) if col.nullable or dated else None


def _row_text(dialect: Dialect, cols: Sequence[SourceColumn], names: dict[str, str]) -> str:
    exprs = [rendered(c, dialect, names[c.name]) for c in cols]
    flags = [f for f in (_flag(c, dialect, names[c.name]) for c in cols) if f is not None]
    return _joined(dialect, exprs, flags)


def _hex_int(dialect: Dialect, text: str, digits: int) -> str:
    """The first ``digits`` hex digits of MD5(text) as an integer."""
    if dialect == "mysql":
        return f"CAST(CONV(SUBSTRING(MD5({text}), 1, {digits}), 16, 10) AS UNSIGNED)"
    if dialect == "duckdb":
        return f"CAST('0x' || substr(md5({text}), 1, {digits}) AS BIGINT)"
    return f"STRTOL(SUBSTRING(MD5({text}), 1, {digits}), 16)"


@dataclass(frozen=True)
class Side:
    """One database's view of a table for verify: where it is and what its columns are called."""

    dialect: Dialect
    table_sql: str  # the qualified name
    columns: dict[str, str]  # source column → its name here
    live: str = ""  # a condition for the rows that count (soft deletes, SCD2 current versions)


@dataclass(frozen=True)
class VerifyPlan:
    """What is digested where, for one table and one target."""

    table: SourceTable
    target: TargetDialect

    @property
    def digested(self) -> list[SourceColumn]:
        return [c for c in self.table.columns if not fetched(c, self.target)]

    @property
    def fetched(self) -> list[SourceColumn]:
        return [c for c in self.table.columns if fetched(c, self.target)]

    @property
    def integer_key(self) -> bool:
        return integer_range_key(self.table)

    def key_text(self, side: Side) -> str:
        cols = [self.table.columns[self.table.position(k)] for k in self.table.key_columns]
        return _row_text(side.dialect, cols, side.columns)

    def range_key(self, side: Side) -> str:
        if self.integer_key:
            key = _name(side.dialect, side.columns[self.table.key_columns[0]])
            return f"CAST({key} AS SIGNED)" if side.dialect == "mysql" else f"CAST({key} AS BIGINT)"
        return _hex_int(side.dialect, self.key_text(side), RANGE_KEY_HEX)

    def digest(self, side: Side) -> str:
        """The row's digest over the digested columns, the key always among them."""
        return _hex_int(side.dialect, _row_text(side.dialect, self.digested, side.columns), DIGEST_HEX)

    def _ranged(self, side: Side) -> str:
        """What a range condition compares: an integer key as it is (its index serves the range)."""
        if self.integer_key:
            return _name(side.dialect, side.columns[self.table.key_columns[0]])
        return self.range_key(side)

    def _where(self, side: Side, ranges: Sequence[tuple[int, int]]) -> str:
        rk = self._ranged(side)
        spans = [f"({rk} >= {int(lo)} AND {rk} < {int(hi)})" for lo, hi in ranges]
        conditions = [f"({' OR '.join(spans)})"] if spans else []
        if side.live:
            conditions.append(side.live)
        return f" WHERE {' AND '.join(conditions)}" if conditions else ""

    def bounds(self, side: Side) -> str:
        """The lowest and highest range key (integer keys only: hashed keys span a fixed space)."""
        rk = self.range_key(side)
        return f"SELECT MIN({rk}), MAX({rk}) FROM {side.table_sql}{self._where(side, ())}"

    def sums(self, side: Side, ranges: Sequence[tuple[int, int]], low: int, width: int) -> str:
        """Per range of ``width`` from ``low``, within ``ranges``: its number, count and digest sum."""
        rk = self._ranged(side)  # an integer key as it is: from the table's lowest, never negative
        if side.dialect == "mysql":
            bucket = f"({rk} - {int(low)}) DIV {int(width)}"
        elif side.dialect == "duckdb":
            bucket = f"({rk} - {int(low)}) // {int(width)}"
        else:
            bucket = f"({rk} - {int(low)}) / {int(width)}"
        total = f"SUM({self.digest(side)})"
        if side.dialect == "redshift":
            total = f"SUM(CAST({self.digest(side)} AS DECIMAL(38,0)))"
        return (
            f"SELECT {bucket} AS r, COUNT(*), {total} FROM {side.table_sql}{self._where(side, ranges)}"
            f" GROUP BY {bucket}"
        )

    def rows(
        self, side: Side, ranges: Sequence[tuple[int, int]], seq: str | None = None, flag: str | None = None
    ) -> str:
        """The rows within ``ranges``: range key, each column rendered (digested ones) or as it is
        (fetched ones), then ``flag`` (a condition, as 1 or 0) and on the target its ``_s3rb_seq``."""
        values = [rendered(c, side.dialect, side.columns[c.name]) for c in self.digested]
        values += [as_fetched(c, side.dialect, side.columns[c.name]) for c in self.fetched]
        if flag is not None:
            values.append(f"CASE WHEN {flag} THEN 1 ELSE 0 END")
        if seq is not None:
            values.append(_name(side.dialect, seq))
        return f"SELECT {self.range_key(side)}, {', '.join(values)} FROM {side.table_sql}{self._where(side, ranges)}"

    def digests(self, side: Side, ranges: Sequence[tuple[int, int]]) -> str:
        """Range key, digest and the fetched columns of every row within ``ranges`` (a table with
        fetched columns is summed here, from these)."""
        values = [as_fetched(c, side.dialect, side.columns[c.name]) for c in self.fetched]
        tail = "".join(f", {v}" for v in values)
        return (
            f"SELECT {self.range_key(side)}, {self.key_text(side)}, {self.digest(side)}{tail}"
            f" FROM {side.table_sql}{self._where(side, ranges)}"
        )

    def source_rows(self, side: Side, ranges: Sequence[tuple[int, int]]) -> str:
        """The source's rows within ``ranges``, every column as a snapshot reads it (a repair)."""
        floats = [c.name for c in self.table.columns if c.data_type.lower() == "float"]
        cols = select_list(self.table.column_names, floats)
        return f"SELECT {cols} FROM {side.table_sql}{self._where(side, ranges)}"

    def target_keys(self, side: Side, ranges: Sequence[tuple[int, int]]) -> str:
        """The target's keys within ``ranges``: range key, rendered, then as stored (a repair's deletes)."""
        keys = [self.table.columns[self.table.position(k)] for k in self.table.key_columns]
        shown = [rendered(c, side.dialect, side.columns[c.name]) for c in keys]
        raw = [_name(side.dialect, side.columns[c.name]) for c in keys]
        return (
            f"SELECT {self.range_key(side)}, {', '.join(shown + raw)} FROM {side.table_sql}{self._where(side, ranges)}"
        )
