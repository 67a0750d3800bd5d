"""``COPY t FROM 's3://...' IAM_ROLE '...' FORMAT AS PARQUET [MANIFEST]`` for the emulator.

The proxy reads the Parquet objects from the S3 endpoint itself and hands PostgreSQL an
``INSERT INTO t VALUES ...`` in the COPY's place, so the load runs in the client's own session
and transaction, and its columns map by position as Redshift's COPY of Parquet does.
"""

from __future__ import annotations

import io
import re
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
    options = match["options"].upper()
    if not re.search(r"\bFORMAT\s+(AS\s+)?PARQUET\b", options):
        raise CopyError("the emulator only runs COPY ... FORMAT AS PARQUET")
    if "IAM_ROLE" not in options:
        raise CopyError("COPY needs IAM_ROLE: s3rb_stream never sends access keys in SQL")
    url = match["url"].replace("''", "'")  # a quote inside a SQL literal is doubled
    return CopyCommand(match["table"], url, bool(re.search(r"\bMANIFEST\b", options)))


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
    """Parquet columns whose type Redshift's COPY cannot load, or cannot be trusted to load exactly.

    Redshift has no unsigned integers and no TIME from Parquet, and DECIMAL stops at 38 digits;
    the emulator refuses such columns rather than let PostgreSQL accept them.
    """
    bad = []
    for field in schema:
        t = field.type
        if pa.types.is_unsigned_integer(t) or pa.types.is_time(t) or pa.types.is_decimal256(t):
            bad.append(f"{field.name} ({t})")
    return bad


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


def insert_statement(table: str, rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return f"INSERT INTO {table} SELECT * FROM {table} WHERE FALSE"
    values = ",\n".join("(" + ", ".join(sql_value(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {table} VALUES\n{values}"


def copy_as_insert(sql: str, fetch: Fetch) -> str | None:
    """The INSERT that stands for a COPY statement, or None when ``sql`` is not a COPY from S3."""
    command = parse_copy(sql)
    if command is None:
        return None
    rows: list[tuple[Any, ...]] = []
    for url in object_urls(command, fetch):
        data = fetch(url)
        if data is None:
            raise CopyError(f"S3ServiceException: mandatory object {url} of the manifest does not exist")
        try:
            table = pq.read_table(io.BytesIO(data))
        except Exception as exc:
            raise CopyError(f"Spectrum Scan Error: {url} is not a valid Parquet file: {exc}") from None
        bad = unloadable_columns(table.schema)
        if bad:
            raise CopyError(f"Spectrum Scan Error: {url} has column types Redshift cannot load: {', '.join(bad)}")
        columns = [col.to_pylist() for col in table.columns]
        rows.extend(zip(*columns, strict=True))
    return insert_statement(command.table, rows)


def raise_statement(message: str) -> str:
    """A statement that makes PostgreSQL fail with ``message``, in place of a COPY that cannot run."""
    body = message.replace("%", "%%").replace("'", "''")
    return f"DO $s3rb$ BEGIN RAISE EXCEPTION '{body}'; END $s3rb$"
