"""``COPY t FROM 's3://...' IAM_ROLE '...' FORMAT AS PARQUET MANIFEST`` for the emulator, as strict
as Redshift's ("COPY from columnar data formats").

- Only the parameters that page allows for columnar files are accepted (REGION is not).
- Columns map by position, and the file must have as many columns as the table.
- Each Parquet column's type must be the table column's type: Redshift converts nothing (an
  int64 does not go into an INTEGER, a string not into a DECIMAL; a decimal keeps its precision
  and scale). A string into SUPER becomes a JSON string scalar, as on Redshift.
- Only codecs the docs name for Parquet are read (snappy, gzip, or none).

The proxy reads the objects from the S3 endpoint itself and hands PostgreSQL one ``DO`` block in
the COPY's place: it checks the table's columns (which may be a session's temporary table, so only
that session can see them), loads the rows into a scratch table of the Parquet types, and inserts
them into the table. The load is part of the client's transaction.
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from s3rb_stream.sql.identifiers import literal
from s3rb_stream.store.manifest import parse_manifest

_COPY = re.compile(
    r"^\s*COPY\s+(?P<table>.+?)\s+FROM\s+'(?P<url>s3://(?:[^']|'')+)'(?P<options>.*?);?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_OPTION = re.compile(r"'(?:[^']|'')*'|[A-Za-z_]+|\S")
# "COPY from columnar data formats": the parameters COPY takes with FORMAT AS PARQUET (plus
# SERIALIZETOJSON, from "Loading semistructured data into Amazon Redshift").
COLUMNAR_OPTIONS = {
    "ACCEPTINVCHARS", "FILLRECORD", "IAM_ROLE", "CREDENTIALS", "STATUPDATE", "MANIFEST", "EXPLICIT_IDS",
    "SERIALIZETOJSON", "FORMAT", "AS", "PARQUET", "ON", "OFF", "TRUE", "FALSE",
}  # fmt: skip
# "Data files for queries in Amazon Redshift Spectrum"; UNLOAD writes snappy.
READABLE_CODECS = {"SNAPPY", "GZIP", "UNCOMPRESSED"}

Fetch = Callable[[str], bytes | None]  # s3:// url → bytes, None when missing


class CopyError(Exception):
    """What Redshift would report; the proxy turns it into a PostgreSQL error for the client."""


@dataclass(frozen=True)
class CopyCommand:
    table: str
    url: str
    manifest: bool


def parse_copy(sql: str) -> CopyCommand | None:
    """The COPY from S3 in ``sql``, or None for any other statement."""
    match = _COPY.match(sql)
    if not match:
        return None
    words = [w.upper() for w in _OPTION.findall(match["options"]) if w[0].isalpha() or w[0] == "_"]
    if "PARQUET" not in words:
        raise CopyError("the emulator only runs COPY ... FORMAT AS PARQUET")
    refused = [w for w in words if w not in COLUMNAR_OPTIONS]
    if refused:
        raise CopyError(f"{refused[0]} argument is not supported for PARQUET based COPY")
    if "IAM_ROLE" not in words:
        raise CopyError("COPY needs IAM_ROLE: s3rb_stream never sends access keys in SQL")
    url = match["url"].replace("''", "'")  # a quote inside a SQL literal is doubled
    return CopyCommand(match["table"], url, "MANIFEST" in words)


def object_urls(command: CopyCommand, fetch: Fetch) -> list[str]:
    if not command.manifest:
        raise CopyError("the emulator runs COPY with MANIFEST only (prefix loads are not emulated)")
    data = fetch(command.url)
    if data is None:
        raise CopyError(f"S3ServiceException: manifest {command.url} does not exist")
    try:
        entries = parse_manifest(data)
    except ValueError as exc:
        raise CopyError(f"invalid manifest {command.url}: {exc}") from None
    return [url for url, _, _ in entries]


def unloadable_columns(schema: pa.Schema) -> list[str]:
    """Parquet columns whose type Redshift's COPY cannot load, or cannot be trusted to load exactly:
    unsigned integers (Redshift has none), TIME (not from Parquet), decimals over 38 digits, and
    anything else the emulator has no column type for."""
    return [f"{field.name} ({field.type})" for field in schema if scratch_type(field.type) is None]


_SCRATCH_TYPES = {
    pa.int16(): "smallint", pa.int32(): "integer", pa.int64(): "bigint", pa.float32(): "real",
    pa.float64(): "double precision", pa.bool_(): "boolean", pa.date32(): "date", pa.string(): "text",
    pa.large_string(): "text", pa.binary(): "bytea", pa.large_binary(): "bytea",
}  # fmt: skip


def scratch_type(t: pa.DataType) -> str | None:
    """The PostgreSQL type that holds a Parquet column's values as they are, or None."""
    if t in _SCRATCH_TYPES:
        return _SCRATCH_TYPES[t]
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp without time zone"
    if pa.types.is_decimal128(t):
        return f"numeric({t.precision},{t.scale})"
    return None


def fitting_columns(t: pa.DataType) -> str:
    """A regular expression over ``format_type`` of the table columns this Parquet type loads into."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return r"^(character varying|character)(\(\d+\))?$|^jsonb$"  # VARCHAR, CHAR, SUPER
    exact = scratch_type(t) or ""
    return "^" + re.escape(exact).replace(r"\ ", " ") + "$"


def codecs(file: pq.ParquetFile) -> set[str]:
    meta = file.metadata
    return {
        meta.row_group(g).column(c).compression.upper()
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }


def sql_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, Decimal)):
        return literal(str(value))
    if isinstance(value, float):
        return literal(repr(value))
    if isinstance(value, bytes):
        return literal("\\x" + value.hex())
    if isinstance(value, (datetime, date)):
        return literal(value.isoformat())
    return literal(str(value))


def _raise(message: str) -> str:
    return f"RAISE EXCEPTION USING MESSAGE = {literal(message)};"


def load_block(table: str, url: str, schema: pa.Schema, rows: Sequence[Sequence[Any]]) -> str:
    """The DO block that checks ``table`` against the Parquet ``schema`` and loads ``rows``."""
    n = len(schema)
    lines = [
        "DECLARE target_types text[]; n integer; exprs text := '';",
        "BEGIN",
        "  SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) INTO target_types"
        f" FROM pg_attribute a WHERE a.attrelid = {literal(table)}::regclass AND a.attnum > 0"
        " AND NOT a.attisdropped;",
        "  n := coalesce(array_length(target_types, 1), 0);",
        f"  IF n <> {n} THEN RAISE EXCEPTION USING MESSAGE = format("
        + literal(
            f"Spectrum Scan Error: File '{url}' has {n} columns and the table %s has %s:"
            " COPY from Parquet maps columns by position and needs the same number"
        )
        + f", {literal(table)}, n); END IF;",
    ]
    for i, field in enumerate(schema, start=1):
        physical = str(field.type)
        lines.append(
            f"  IF target_types[{i}] !~ {literal(fitting_columns(field.type))} THEN RAISE EXCEPTION USING MESSAGE ="
            + " format("
            + literal(
                f"Spectrum Scan Error: File '{url}' has an incompatible Parquet schema for column {i} of %s."
                f" Column type: %s, Parquet schema: optional {physical} {field.name}"
            )
            + f", {literal(table)}, upper(target_types[{i}])); END IF;"
        )
    strings = ", ".join("TRUE" if scratch_type(f.type) == "text" else "FALSE" for f in schema)
    columns = ", ".join(f"c{i} {scratch_type(f.type)}" for i, f in enumerate(schema, start=1))
    lines += [
        "  DROP TABLE IF EXISTS pg_temp._s3rb_copy;",
        f"  CREATE TEMP TABLE _s3rb_copy ({columns});",
    ]
    if rows:
        values = ",\n".join("(" + ", ".join(sql_value(v) for v in row) + ")" for row in rows)
        lines.append(f"  INSERT INTO pg_temp._s3rb_copy VALUES\n{values};")
    lines += [
        "  FOR i IN 1..n LOOP",
        "    exprs := exprs || CASE WHEN i > 1 THEN ', ' ELSE '' END ||",
        f"      CASE WHEN target_types[i] = 'jsonb' AND (ARRAY[{strings}])[i] THEN format('to_jsonb(c%s)', i)"
        " ELSE format('c%s', i) END;",
        "  END LOOP;",
        f"  EXECUTE 'INSERT INTO ' || {literal(table)} || ' SELECT ' || exprs || ' FROM pg_temp._s3rb_copy';",
        "  DROP TABLE pg_temp._s3rb_copy;",
        "END",
    ]
    body = "\n".join(lines)
    tag = "$s3rb$"
    while tag in body:
        tag = f"$s3rb{secrets.token_hex(4)}$"
    return f"DO {tag}\n{body}\n{tag}"


def copy_as_statement(sql: str, fetch: Fetch) -> str | None:
    """The statement that stands for a COPY, or None when ``sql`` is not a COPY from S3."""
    command = parse_copy(sql)
    if command is None:
        return None
    rows: list[tuple[Any, ...]] = []
    schema: pa.Schema | None = None
    for url in object_urls(command, fetch):
        data = fetch(url)
        if data is None:
            raise CopyError(f"S3ServiceException: mandatory object {url} of the manifest does not exist")
        try:
            file = pq.ParquetFile(io.BytesIO(data))
            table = file.read()
        except Exception as exc:
            raise CopyError(f"Spectrum Scan Error: {url} is not a valid Parquet file: {exc}") from None
        unread = sorted(codecs(file) - READABLE_CODECS)
        if unread:
            raise CopyError(
                f"Spectrum Scan Error: {url} is compressed with {', '.join(unread)}, which COPY is not documented"
                " to read from Parquet (snappy, gzip or none)"
            )
        bad = unloadable_columns(table.schema)
        if bad:
            raise CopyError(f"Spectrum Scan Error: {url} has column types Redshift cannot load: {', '.join(bad)}")
        if schema is not None and not table.schema.remove_metadata().equals(schema):
            raise CopyError(f"Spectrum Scan Error: {url} has other column types than the manifest's first object")
        schema = schema or table.schema.remove_metadata()
        rows.extend(zip(*(col.to_pylist() for col in table.columns), strict=True))
    if schema is None:
        return f"SELECT FROM {command.table} WHERE FALSE"
    return load_block(command.table, command.url, schema, rows)


def raise_statement(message: str) -> str:
    """A statement that makes PostgreSQL fail with ``message``, in place of one Redshift refuses."""
    return f"DO $s3rb$ BEGIN {_raise(message)} END $s3rb$"
