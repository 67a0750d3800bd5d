"""Row images → tuples of Arrow-ready values, with a decoder generated per table layout.

python-mysql-replication decodes each value through a chain of generic method calls and builds
a dict per row; that is where a bare iteration spends 95% of its time. Here, for each pair of
(table map, table definition), straight-line Python is generated once: one block per column,
the null check a constant bit mask, fixed-width values read with precompiled ``struct`` formats,
and the value produced directly in the form the Parquet batch takes (the contract of
:func:`s3rb_stream.core.schema.column_converter`). ``tests/integration/test_row_decoder.py``
checks that the values equal the library's, converted, for every type of the type matrix.
"""

from __future__ import annotations

import codecs
import itertools
import linecache
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from s3rb_stream import speedups
from s3rb_stream.core import schema as contract
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import ConfigError, SchemaError, listed
from s3rb_stream.sources import collations, mysql_json
from s3rb_stream.sources import table_map as tm

RowDecoder = Callable[[bytes, int, int], list[tuple[Any, ...]]]
Implementation = Literal["auto", "compiled", "python"]

_FAST_DECIMAL_DIGITS = 18  # DECIMALs the compiled decoder reads as one 64-bit integer (_speedups.pyx)

# Which binlog types each information_schema DATA_TYPE may arrive as.
_BINLOG_TYPES: dict[str, set[int]] = {
    "tinyint": {tm.TINY}, "smallint": {tm.SHORT}, "mediumint": {tm.INT24}, "int": {tm.LONG},
    "integer": {tm.LONG}, "bigint": {tm.LONGLONG}, "decimal": {tm.NEWDECIMAL}, "float": {tm.FLOAT},
    "double": {tm.DOUBLE}, "real": {tm.DOUBLE}, "bit": {tm.BIT}, "year": {tm.YEAR},
    "date": {tm.DATE, tm.NEWDATE}, "datetime": {tm.DATETIME, tm.DATETIME2},
    "timestamp": {tm.TIMESTAMP, tm.TIMESTAMP2}, "time": {tm.TIME, tm.TIME2},
    "char": {tm.STRING}, "binary": {tm.STRING}, "varchar": {tm.VARCHAR, tm.VAR_STRING},
    "varbinary": {tm.VARCHAR, tm.VAR_STRING}, "enum": {tm.ENUM}, "set": {tm.SET},
    "json": {tm.JSON, tm.BLOB}, "vector": {tm.VECTOR},
}  # fmt: skip
_BLOBS = {tm.BLOB, tm.TINY_BLOB, tm.MEDIUM_BLOB, tm.LONG_BLOB}
_PREFIXED = _BLOBS | {tm.GEOMETRY, tm.VECTOR}  # the bytes of the length prefix in meta
for _name in ("tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob"):
    _BINLOG_TYPES[_name] = _BLOBS
for _name in ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
              "geometrycollection"):  # fmt: skip
    _BINLOG_TYPES[_name] = {tm.GEOMETRY}

_INTS: dict[int, tuple[str, str]] = {  # binlog type: struct codes (signed, unsigned)
    tm.TINY: ("b", "B"),
    tm.SHORT: ("h", "H"),
    tm.LONG: ("i", "I"),
    tm.LONGLONG: ("q", "Q"),
}
_DECIMAL_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes for 0..9 leftover digits
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCALE: tuple[int, ...] = tuple(10 ** (6 - fsp) for fsp in range(7))
_compiled = itertools.count(1)  # a distinct file name for each generated decoder


# --------------------------------------------------------------------------- value helpers


def _fraction_bytes(fsp: int) -> int:
    return (fsp + 1) // 2


def _old_datetime(packed: int) -> datetime | None:
    day_part, time_part = divmod(packed, 1_000_000)
    year, rest = divmod(day_part, 10_000)
    month, day = divmod(rest, 100)
    if not (year and month and day):
        return None
    try:
        return datetime(year, month, day, time_part // 10_000, time_part // 100 % 100, time_part % 100)
    except ValueError:
        return None


def _timestamp(seconds: int, micros: int) -> datetime | None:
    if seconds == 0 and micros == 0:
        return None  # the zero TIMESTAMP: NULL, like every zero date
    return _UTC_EPOCH + timedelta(0, seconds, micros)


def _time_text(negative: bool, hms: int, micros: int, fsp: int) -> str:
    """TIME as text, the way the contract writes it: [-]HH:MM:SS[.fraction]."""
    hours, minutes, seconds = (hms >> 12) & 0x3FF, (hms >> 6) & 63, hms & 63
    text = f"{'-' if negative else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fsp:
        text += "." + f"{micros:06d}"[:fsp]
    return text


def _time2(buf: bytes, pos: int, fsp: int) -> str:
    """TIME2: a packed signed number, offset so that it sorts as bytes (MySQL's my_time_packed)."""
    width = 3 + _fraction_bytes(fsp)
    stored = int.from_bytes(buf[pos : pos + width], "big")
    packed = stored - (0x800000 << (8 * (width - 3)))  # intpart << fraction bits | fraction
    frac_bits = 8 * (width - 3)
    # Normalise to (intpart << 24 | microseconds), as MySQL does before it unpacks.
    if frac_bits == 0:
        value = packed << 24
    elif frac_bits == 24:
        value = packed
    else:
        intpart, frac = packed >> frac_bits, packed & ((1 << frac_bits) - 1)
        if intpart < 0 and frac:
            intpart += 1
            frac -= 1 << frac_bits
        value = (intpart << 24) + frac * (10_000 if frac_bits == 8 else 100)
    negative = value < 0
    value = abs(value)
    return _time_text(negative, value >> 24, value & 0xFFFFFF, fsp)


def _old_time(packed: int) -> str:
    hours, rest = divmod(packed, 10_000)
    minutes, seconds = divmod(rest, 100)
    return _time_text(False, hours << 12 | minutes << 6 | seconds, 0, 0)


def _micros_code(fsp: int, at: int) -> str:
    """Code setting ``us`` to the microseconds stored after ``at`` bytes: 1-3 bytes, big-endian,
    in units of the precision's even digit count (an odd precision's last digit is 0)."""
    width = _fraction_bytes(fsp)
    if not width:
        return "us = 0"
    raw = f"int.from_bytes(buf[p + {at}:p + {at + width}], 'big')"
    return f"us = ({raw} // 10) * {_SCALE[fsp]}" if fsp % 2 else f"us = {raw} * {_SCALE[fsp]}"


def _emit_decimal(gen: _Gen, v: str, precision: int, scale: int, ind: int) -> None:
    """MySQL's binary DECIMAL: 9 digits in each 4-byte group, the leftover digits at either end in
    fewer bytes, the sign in the top bit, negative numbers stored inverted. The digits combine
    into one integer with a single expression; up to 28 digits (the default context's
    precision) ``Decimal(n).scaleb(-scale)`` is exact, wider numbers go through text."""
    int_full, int_left = divmod(precision - scale, 9)
    frac_full, frac_left = divmod(scale, 9)
    size = _DECIMAL_BYTES[int_left] + 4 * int_full + 4 * frac_full + _DECIMAL_BYTES[frac_left]
    parts, shift, mult = [], 0, 1
    groups = [(frac_left, _DECIMAL_BYTES[frac_left])] + [(9, 4)] * (frac_full + int_full)
    groups.append((int_left, _DECIMAL_BYTES[int_left]))
    for digits, width in groups:
        if width:
            parts.append(f"((x >> {shift}) & {(1 << 8 * width) - 1}) * {mult}")
            shift += 8 * width
            mult *= 10**digits
    top, mask = 1 << (8 * size - 1), (1 << (8 * size)) - 1
    gen.emit(f"x = int.from_bytes(buf[p:p + {size}], 'big'); p += {size}", ind)
    gen.emit(f"neg = not x & {top}", ind)
    gen.emit(f"x = (~x & {mask}) ^ {top} if neg else x ^ {top}", ind)
    gen.emit(f"n = {' + '.join(parts) or '0'}", ind)
    dec = gen.ref("Decimal", Decimal)
    if precision <= 28:
        gen.emit(f"{v} = {dec}(-n if neg else n){f'.scaleb(-{scale})' if scale else ''}", ind)
    else:
        text = (
            f"f\"{{'-' if neg else ''}}{{n // {10**scale}}}.{{n % {10**scale}:0{scale}d}}\""
            if scale
            else ("f\"{'-' if neg else ''}{n}\"")
        )
        gen.emit(f"{v} = {dec}({text})", ind)


def _set_text(members: tuple[str, ...]) -> Callable[[int], str]:
    def text(mask: int) -> str:
        return ",".join(m for i, m in enumerate(members) if mask >> i & 1)

    return text


def _enum_lookup(members: tuple[str, ...], column: str) -> Callable[[int], str]:
    values = ("", *members)  # index 0: the empty string MySQL stores for an invalid value

    def lookup(index: int) -> str:
        try:
            return values[index]
        except IndexError:
            raise SchemaError(
                f"ENUM index {index} of column {column} is beyond its {len(members)} members",
                "the table changed since its definition was read; re-snapshot it",
            ) from None

    return lookup


def _json_value(data: bytes) -> str:
    """A MySQL JSON value (binary) as the text MySQL prints for it; JSON null is the text ``null``."""
    return mysql_json.to_text(data)


# --------------------------------------------------------------------------- code generation


class _Gen:
    """Emits the straight-line code of one decoder and the names it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}

    def ref(self, name: str, value: Any) -> str:
        self.names[name] = value
        return name

    def emit(self, line: str, indent: int) -> None:
        self.lines.append("    " * indent + line)


def _encoding(layout: tm.ColumnLayout, col: SourceColumn) -> str:
    """The Python codec of a text column's character set, checked now rather than at the first row."""
    if layout.collation is None:
        return "utf-8"  # the source logs no character sets (binlog_row_metadata=MINIMAL)
    charset = collations.charset_of(layout.collation)
    if charset is None:
        raise SchemaError(
            f"column {col.name} ({col.column_type}) uses collation id {layout.collation}, which is not a collation"
            " of MySQL 8.0/8.4 or MariaDB that this version knows",
            "please report the server version and the column's collation (SHOW FULL COLUMNS)",
        )
    encoding = collations.CODECS.get(charset)
    if encoding is None:
        raise SchemaError(
            f"column {col.name} ({col.column_type}) is in character set {charset} (collation id"
            f" {layout.collation}), which has no decoder here",
            "convert the column to utf8mb4 (ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4)",
        )
    return encoding


def _length_prefixed(gen: _Gen, width: int, ind: int) -> None:
    """``n`` = the length prefix of ``width`` bytes at ``p``; ``p`` moves past it."""
    if width == 1:
        gen.emit("n = buf[p]; p += 1", ind)
    elif width == 2:
        gen.emit("n = buf[p] | buf[p + 1] << 8; p += 2", ind)
    else:
        gen.emit(f"n = int.from_bytes(buf[p:p + {width}], 'little'); p += {width}", ind)


def _emit_value(gen: _Gen, i: int, col: SourceColumn, layout: tm.ColumnLayout, ind: int) -> None:
    """Code that reads column ``i`` at ``p`` into ``v{i}`` and moves ``p`` past it."""
    v, t, meta = f"v{i}", layout.type, layout.meta
    dt = col.data_type.lower()
    fixed = _fixed_format(col, layout)
    if fixed:
        unpack = gen.ref(f"u{i}", struct.Struct("<" + fixed).unpack_from)
        gen.emit(f"{v} = {unpack}(buf, p)[0]; p += {struct.calcsize(fixed)}", ind)
    elif t == tm.INT24:
        gen.emit(f"{v} = int.from_bytes(buf[p:p + 3], 'little', signed={not col.unsigned}); p += 3", ind)
    elif t == tm.YEAR:
        gen.emit(f"{v} = buf[p] + 1900; p += 1", ind)
    elif t == tm.NEWDECIMAL:
        _emit_decimal(gen, v, meta >> 8, meta & 0xFF, ind)
    elif t in (tm.VARCHAR, tm.VAR_STRING, tm.STRING, tm.GEOMETRY, tm.VECTOR) or t in _BLOBS:
        # Strings store their length in 1 or 2 bytes by their maximum; blobs say how many in meta.
        prefix = meta if t in _PREFIXED else 2 if meta > 255 else 1
        _length_prefixed(gen, prefix, ind)
        if dt not in contract._BINARY_TYPES:
            gen.emit(f"{v} = buf[p:p + n].decode({_encoding(layout, col)!r}); p += n", ind)
        else:
            gen.emit(f"{v} = buf[p:p + n]; p += n", ind)
            if dt == "binary":  # the binlog drops BINARY's trailing zero bytes
                gen.emit(f"{v} = {v}.ljust({int(col.char_length or 0)}, b'\\x00')", ind)
    elif t == tm.JSON:
        _length_prefixed(gen, meta, ind)
        gen.emit(f"{v} = {gen.ref('json_value', _json_value)}(buf[p:p + n]); p += n", ind)
    elif t == tm.ENUM:
        lookup = gen.ref(f"enum{i}", _enum_lookup(col.set_members, col.name))
        gen.emit(f"{v} = {lookup}(int.from_bytes(buf[p:p + {meta}], 'little')); p += {meta}", ind)
    elif t == tm.SET:
        text = gen.ref(f"set{i}", _set_text(col.set_members))
        gen.emit(f"{v} = {text}(int.from_bytes(buf[p:p + {meta}], 'little')); p += {meta}", ind)
    elif t == tm.BIT:
        width = (meta + 7) // 8
        gen.emit(f"{v} = int.from_bytes(buf[p:p + {width}], 'big'); p += {width}", ind)
    elif t in (tm.DATE, tm.NEWDATE):
        # A zero date, or a zero month or day, is no date: NULL.
        gen.emit("x = buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16; p += 3", ind)
        gen.emit(f"try: {v} = {gen.ref('date', date)}(x >> 9, (x >> 5) & 15, x & 31)", ind)
        gen.emit(f"except ValueError: {v} = None", ind)
    elif t == tm.DATETIME2:
        width = _fraction_bytes(meta)
        gen.emit(f"x = int.from_bytes(buf[p:p + 5], 'big'); ym = (x >> 22) & 0x1FFFF; {_micros_code(meta, 5)}", ind)
        gen.emit(
            f"try: {v} = {gen.ref('datetime', datetime)}(ym // 13, ym % 13, (x >> 17) & 31, (x >> 12) & 31,"
            " (x >> 6) & 63, x & 63, us)",
            ind,
        )
        gen.emit(f"except ValueError: {v} = None", ind)
        gen.emit(f"p += {5 + width}", ind)
    elif t == tm.TIMESTAMP2:
        width = _fraction_bytes(meta)
        gen.emit(f"x = int.from_bytes(buf[p:p + 4], 'big', signed=True); {_micros_code(meta, 4)}", ind)
        epoch, delta = gen.ref("utc_epoch", _UTC_EPOCH), gen.ref("timedelta", timedelta)
        # Second 0 is the zero TIMESTAMP: NULL, like every zero date.
        gen.emit(f"{v} = {epoch} + {delta}(0, x, us) if x or us else None; p += {4 + width}", ind)
    elif t == tm.TIME2:
        gen.emit(f"{v} = {gen.ref('time2', _time2)}(buf, p, {meta}); p += {3 + _fraction_bytes(meta)}", ind)
    elif t == tm.TIMESTAMP:
        gen.emit(f"{v} = {gen.ref('timestamp', _timestamp)}(int.from_bytes(buf[p:p + 4], 'little'), 0); p += 4", ind)
    elif t == tm.DATETIME:
        gen.emit(f"{v} = {gen.ref('old_datetime', _old_datetime)}(int.from_bytes(buf[p:p + 8], 'little')); p += 8", ind)
    elif t == tm.TIME:
        gen.emit(f"{v} = {gen.ref('old_time', _old_time)}(int.from_bytes(buf[p:p + 3], 'little')); p += 3", ind)
    else:
        raise SchemaError(
            f"column {col.name} arrives as binlog type {tm.TYPE_NAMES.get(t, t)}, which cannot be decoded",
            "please report the column definition",
        )
    convert = _final_converter(col)
    if convert is not None:
        gen.emit(f"if {v} is not None: {v} = {gen.ref(f'cv{i}', convert)}({v})", ind)


def _final_converter(col: SourceColumn) -> Callable[[Any], Any] | None:
    """The contract's converter where the decoder does not already produce the final form (JSON
    is text already: MySQL's printed by mysql_json, MariaDB's as stored)."""
    dt = col.data_type.lower()
    if dt == "decimal" and (col.precision or 10) > contract.MAX_ARROW_DECIMAL:
        return contract.column_converter(col)
    return None


_TEXT_LAYOUTS = {tm.VARCHAR, tm.VAR_STRING, tm.STRING}
_SIGNED_LAYOUTS = {tm.TINY, tm.SHORT, tm.INT24, tm.LONG, tm.LONGLONG, tm.NEWDECIMAL, tm.FLOAT, tm.DOUBLE}
MAX_BYTES_PER_CHAR = 4  # utf8mb4


def layout_fits(col: SourceColumn, layout: tm.ColumnLayout) -> bool:
    """Whether row images laid out as ``layout`` hold values of ``col`` as it is defined: the same
    binlog type, DECIMAL precision and scale, signedness, ENUM/SET members, and text no longer than
    the column can be."""
    allowed = _BINLOG_TYPES.get(col.data_type.lower())
    if allowed is not None and layout.type not in allowed:
        return False
    if layout.type == tm.NEWDECIMAL and (layout.meta >> 8, layout.meta & 0xFF) != (col.precision, col.scale):
        return False
    if layout.unsigned is not None and layout.type in _SIGNED_LAYOUTS and layout.unsigned != col.unsigned:
        return False
    if layout.members is not None and layout.type in (tm.ENUM, tm.SET) and layout.members != col.set_members:
        return False
    if layout.type in _TEXT_LAYOUTS and col.char_length is not None:
        return layout.meta <= int(col.char_length) * MAX_BYTES_PER_CHAR
    return True


def fits_table(table: SourceTable, tmap: tm.TableMap) -> bool:
    """Whether ``tmap``'s rows are rows of ``table`` as it is defined."""
    if tmap.names is not None and tmap.names != table.column_names:
        return False
    return len(tmap.columns) == len(table.columns) and all(
        layout_fits(col, layout) for col, layout in zip(table.columns, tmap.columns, strict=True)
    )


def _layout_text(layout: tm.ColumnLayout) -> str:
    """A column's binlog layout in words, for an error message."""
    name = tm.TYPE_NAMES.get(layout.type, str(layout.type))
    if layout.type == tm.NEWDECIMAL:
        name = f"DECIMAL({layout.meta >> 8},{layout.meta & 0xFF})"
    elif layout.type in _TEXT_LAYOUTS:
        name = f"{name} of up to {layout.meta} bytes"
    elif layout.members is not None:
        name = f"{name} of {list(layout.members)}"
    return f"{name} unsigned" if layout.unsigned else name


def _check_layout(table: SourceTable, tmap: tm.TableMap) -> None:
    where = f"binlog row of {table.database}.{table.name}"
    hint = "capture describes such rows by their table map; without column names (binlog_row_metadata=FULL) it cannot"
    if tmap.names is not None and tmap.names != table.column_names:
        extra = sorted(set(tmap.names) - set(table.column_names))
        missing = sorted(set(table.column_names) - set(tmap.names))
        raise SchemaError(
            f"{where} does not match the table definition"
            f" (unexpected columns {listed(extra)}, missing columns {listed(missing)})",
            hint,
        )
    if len(tmap.columns) != len(table.columns):
        raise SchemaError(f"{where} has {len(tmap.columns)} columns, the table definition {len(table.columns)}", hint)
    for col, layout in zip(table.columns, tmap.columns, strict=True):
        if not layout_fits(col, layout):
            raise SchemaError(
                f"{where}: column {col.name} is {_layout_text(layout)} in the binlog, {col.column_type} in the"
                " table definition",
                hint,
            )


def _fixed_format(col: SourceColumn, layout: tm.ColumnLayout) -> str:
    """The struct code of a fixed-width number, or '' for any other column."""
    if layout.type in _INTS:
        signed, unsigned = _INTS[layout.type]
        return unsigned if col.unsigned else signed
    return {tm.FLOAT: "f", tm.DOUBLE: "d"}.get(layout.type, "")


def _runs(columns: list[tuple[SourceColumn, tm.ColumnLayout]]) -> list[list[int]]:
    """Column indexes grouped: runs of adjacent fixed-width numbers, every other column alone."""
    fixed = [bool(_fixed_format(*column)) for column in columns]
    runs: list[list[int]] = []
    for i, is_fixed in enumerate(fixed):
        if is_fixed and i and fixed[i - 1]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def layout_key(tmap: tm.TableMap) -> tuple[Any, ...]:
    """What a table map says about its rows' layout, without its table id: the server gives a table
    a new id each time it opens it again (``FLUSH TABLES``, a small table cache), layout unchanged."""
    return (tmap.schema, tmap.table, tmap.columns, tmap.names, tmap.nullable, tmap.primary_key)


class DecoderCache:
    """Compiled decoders by (definition, layout, implementation), least recently used first out:
    the same layout under a new table id reuses its decoder and compiles nothing, and however many
    layouts pass, memory stays bounded (an evicted Python decoder's source leaves ``linecache``)."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self.compiles = 0  # decoders built: what the table-id churn test counts
        self._entries: OrderedDict[tuple[Any, ...], tuple[RowDecoder, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, table: SourceTable, tmap: tm.TableMap, implementation: Implementation) -> RowDecoder:
        built = speedups.built if implementation == "compiled" else speedups.compiled
        key = (table, layout_key(tmap), implementation, implementation != "python" and built is not None)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[0]
            global _recording
            files: list[str] = []
            _recording = files
            try:
                decoder = _build_decoder(table, tmap, implementation)
            finally:
                _recording = None
            self.compiles += 1
            self._entries[key] = (decoder, files)
            while len(self._entries) > self.limit:
                _, (_, old_files) = self._entries.popitem(last=False)
                for name in old_files:
                    linecache.cache.pop(name, None)
            return decoder

    def __len__(self) -> int:
        return len(self._entries)


DECODERS = DecoderCache()
_recording: list[str] | None = None  # linecache names of the generated code of the decoder being built


def compile_decoder(table: SourceTable, tmap: tm.TableMap, implementation: Implementation = "auto") -> RowDecoder:
    """A function decoding every row image of a rows event body from ``pos`` to ``end``.

    Each image becomes a tuple in table column order. Raises :class:`SchemaError` when the table
    map does not describe ``table`` (its names, count or types differ).

    ``implementation``: "python", the generated Python decoder, the reference; "compiled", the C
    extension built from ``_speedups.pyx``, whose values must equal the reference's (the
    differential tests run both); "auto", the compiled one where it was built.

    Built once per definition and layout (:data:`DECODERS`), whatever the table id.
    """
    return DECODERS.get(table, tmap, implementation)


def _build_decoder(table: SourceTable, tmap: tm.TableMap, implementation: Implementation) -> RowDecoder:
    _check_layout(table, tmap)
    if implementation != "python":
        module = speedups.built if implementation == "compiled" else speedups.compiled
        if module is not None:
            decode: RowDecoder = module.CompiledDecoder(decoder_plan(table, tmap))
            return decode
        if implementation == "compiled":
            raise ConfigError(
                f"the compiled row decoder is not built ({speedups.missing})",
                "reinstall the package with a C compiler present (scripts/setup.sh installs gcc)",
            )
    return _python_decoder(table, tmap)


def compiled_decoder_available() -> bool:
    return speedups.built is not None


def _python_decoder(table: SourceTable, tmap: tm.TableMap) -> RowDecoder:
    gen = _Gen()
    count = len(table.columns)
    null_bytes = (count + 7) // 8
    gen.emit("def decode(buf, p, end):", 0)
    gen.emit("images = []", 1)
    gen.emit("append = images.append", 1)
    gen.emit("while p < end:", 1)
    if null_bytes == 1:
        gen.emit("nulls = buf[p]; p += 1", 2)
    else:
        gen.emit(f"nulls = int.from_bytes(buf[p:p + {null_bytes}], 'little'); p += {null_bytes}", 2)
    columns = list(zip(table.columns, tmap.columns, strict=True))
    for run in _runs(columns):
        if len(run) > 1:  # fixed-width numbers side by side: one unpack when none is NULL
            mask = sum(1 << i for i in run)
            fmt = "<" + "".join(_fixed_format(*columns[i]) for i in run)
            unpack = gen.ref(f"run{run[0]}", struct.Struct(fmt).unpack_from)
            gen.emit(f"if not nulls & {mask}:", 2)
            gen.emit(f"{', '.join(f'v{i}' for i in run)} = {unpack}(buf, p); p += {struct.calcsize(fmt)}", 3)
            gen.emit("else:", 2)
        indent = 3 if len(run) > 1 else 2
        for i in run:
            if tmap.nullable is not None and not tmap.nullable[i]:  # NOT NULL in the binlog's own map
                _emit_value(gen, i, *columns[i], indent)
                continue
            gen.emit(f"if nulls & {1 << i}:", indent)
            gen.emit(f"v{i} = None", indent + 1)
            gen.emit("else:", indent)
            _emit_value(gen, i, *columns[i], indent + 1)
    gen.emit(f"append(({', '.join(f'v{i}' for i in range(count))}{',' if count == 1 else ''}))", 2)
    gen.emit("if p != end:", 1)
    gen.emit("raise ValueError(f'row images end at byte {p}, the event at {end}')", 2)
    gen.emit("return images", 1)
    decode: RowDecoder = _define(gen, "decode", f"<s3rb row decoder {table.database}.{table.name} #{next(_compiled)}>")
    return decode


def _define(gen: _Gen, name: str, filename: str) -> Any:
    """The function ``name`` of the generated code, with ``filename`` for readable tracebacks.

    Only integers parsed from the table map or validated (SourceColumn from a typed model) are
    written into the source; every other value is passed by reference (``gen.ref``)."""
    namespace = dict(gen.names)
    source = "\n".join(gen.lines) + "\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    if _recording is not None:  # removed from linecache when its decoder leaves DECODERS
        _recording.append(filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    return namespace[name]


# --------------------------------------------------------------------------- the compiled decoder's plan

Step = tuple[str, int, int, bool, Any]  # kind, a, b, nullable, extra: see _speedups.pyx


def decoder_plan(table: SourceTable, tmap: tm.TableMap) -> list[Step]:
    """One step per column for the compiled decoder: the common types by kind, decoded in C; any
    other column (JSON, ENUM, SET, BIT, TIME, wide DECIMAL, the pre-5.6 temporal types) by a
    function generated from the reference's own code for that column."""
    steps: list[Step] = []
    for i, (col, layout) in enumerate(zip(table.columns, tmap.columns, strict=True)):
        nullable = tmap.nullable is None or tmap.nullable[i]
        kind, a, b, extra = _compiled_step(col, layout)
        if kind == "call":
            extra = _column_function(table, i, col, layout)
        steps.append((kind, a, b, nullable, extra))
    return steps


def _compiled_step(col: SourceColumn, layout: tm.ColumnLayout) -> tuple[str, int, int, Any]:
    t, meta, dt = layout.type, layout.meta, col.data_type.lower()
    if _final_converter(col) is not None:
        return "call", 0, 0, None
    if t in _INTS:
        return "int", struct.calcsize(_INTS[t][0]), int(not col.unsigned), None
    if t == tm.INT24:
        return "int", 3, int(not col.unsigned), None
    if t in (tm.FLOAT, tm.DOUBLE):
        return ("float" if t == tm.FLOAT else "double"), 0, 0, None
    if t == tm.YEAR:
        return "year", 0, 0, None
    if t == tm.NEWDECIMAL and meta >> 8 <= _FAST_DECIMAL_DIGITS and (meta & 0xFF) <= meta >> 8:
        return "decimal", meta >> 8, meta & 0xFF, None
    if t in (tm.VARCHAR, tm.VAR_STRING, tm.STRING, tm.GEOMETRY, tm.VECTOR) or t in _BLOBS:
        prefix = meta if t in _PREFIXED else 2 if meta > 255 else 1
        if dt in contract._BINARY_TYPES:
            return "bytes", prefix, int(col.char_length or 0) if dt == "binary" else 0, None
        encoding = _encoding(layout, col)
        return "text", prefix, 0, None if codecs.lookup(encoding).name == "utf-8" else encoding
    if t in (tm.DATE, tm.NEWDATE):
        return "date", 0, 0, None
    if t in (tm.DATETIME2, tm.TIMESTAMP2) and 0 <= meta <= 6:
        return ("datetime2" if t == tm.DATETIME2 else "timestamp2"), meta, 0, None
    return "call", 0, 0, None


def _column_function(table: SourceTable, i: int, col: SourceColumn, layout: tm.ColumnLayout) -> Any:
    """``value(buf, p) -> (value, p after it)``: the reference decoder's code for one column."""
    gen = _Gen()
    gen.emit("def value(buf, p):", 0)
    _emit_value(gen, i, col, layout, 1)
    gen.emit(f"return v{i}, p", 1)
    return _define(gen, "value", f"<s3rb column decoder {table.database}.{table.name}.{col.name} #{next(_compiled)}>")


# --------------------------------------------------------------------------- partial JSON updates

PARTIAL_JSON_UPDATES = 1  # binlog_row_value_options=PARTIAL_JSON, as an after image's value options say it


def partial_update_decoder(table: SourceTable, tmap: tm.TableMap, json_columns: tuple[int | None, ...]) -> RowDecoder:
    """A decoder of a PARTIAL_UPDATE_ROWS event's images (before and after alternating, as an
    update's), each after image whole again: a JSON column that holds changes instead of a
    document gets the before image's document with the changes applied (mysql_json.apply_diffs).

    ``json_columns``: for each JSON column of the full table map, in order, its index in
    ``tmap`` (the columns the images hold), or None. Each after image starts with its value
    options and, for PARTIAL_JSON, one bit per JSON column of the table: set when that column
    holds changes. Rare enough to be decoded column by column with the reference's own code for
    each column, whichever decoder is configured."""
    _check_layout(table, tmap)
    readers = [
        _column_function(table, i, col, layout)
        for i, (col, layout) in enumerate(zip(table.columns, tmap.columns, strict=True))
    ]
    nullable = tmap.nullable or (True,) * len(readers)
    prefixes = [layout.meta for layout in tmap.columns]
    names = table.column_names

    def image(
        buf: bytes, p: int, partial: frozenset[int], before: tuple[Any, ...] | None
    ) -> tuple[tuple[Any, ...], int]:
        width = (len(readers) + 7) // 8
        if p + width > len(buf):
            raise ValueError("a row image is cut short")
        nulls = int.from_bytes(buf[p : p + width], "little")
        p += width
        values: list[Any] = []
        for i, read in enumerate(readers):
            if nullable[i] and nulls >> i & 1:
                values.append(None)
            elif i in partial and before is not None:
                n = int.from_bytes(buf[p : p + prefixes[i]], "little")
                p += prefixes[i]
                if p + n > len(buf):
                    raise ValueError("a row image is cut short")
                if before[i] is None:
                    raise ValueError(f"a partial JSON update of column {names[i]}, which is NULL in the before image")
                values.append(mysql_json.apply_diffs(before[i], mysql_json.parse_diffs(buf[p : p + n])))
                p += n
            else:
                value, p = read(buf, p)
                values.append(value)
        return tuple(values), p

    def decode(buf: bytes, p: int, end: int) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        while p < end:
            before, p = image(buf, p, frozenset(), None)
            options, p = tm.lenenc(buf, p)
            partial: frozenset[int] = frozenset()
            if options & PARTIAL_JSON_UPDATES:
                width = (len(json_columns) + 7) // 8
                bits = int.from_bytes(buf[p : p + width], "little")
                p += width
                partial = frozenset(i for k, i in enumerate(json_columns) if i is not None and bits >> k & 1)
            after, p = image(buf, p, partial, before)
            rows += [before, after]
        if p != end:
            raise ValueError(f"row images end at byte {p}, the event at {end}")
        return rows

    return decode
