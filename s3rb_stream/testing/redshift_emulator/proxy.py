"""The wire-protocol proxy: startup handling here, then a relay of whole messages both ways.

Messages are framed (type byte, length) in both directions: Query and Parse messages get
Redshift-only SQL translated, ParameterStatus reports Redshift's version, the rest passes as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from s3rb_stream.testing.redshift_emulator.copy import CopyError, copy_as_insert, raise_statement
from s3rb_stream.testing.redshift_emulator.translate import translate

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608
REDSHIFT_SERVER_VERSION = b"8.0.2"

# Startup parameters PostgreSQL understands; the rest are Redshift's and are dropped.
POSTGRES_STARTUP_PARAMETERS = {
    "user",
    "database",
    "application_name",
    "client_encoding",
    "datestyle",
    "timezone",
    "extra_float_digits",
    "options",
    "replication",
}


def parse_startup_parameters(body: bytes) -> dict[str, str]:
    """``key\\0value\\0...\\0`` → dict."""
    parts = body.split(b"\x00")
    params: dict[str, str] = {}
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if key:
            params[key.decode()] = value.decode()
    return params


def filter_startup_parameters(params: dict[str, str]) -> dict[str, str]:
    """Keep what PostgreSQL accepts; drop Redshift-only parameters and empty values."""
    return {k: v for k, v in params.items() if k.lower() in POSTGRES_STARTUP_PARAMETERS and v != ""}


def startup_message(params: dict[str, str]) -> bytes:
    body = b"".join(k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in params.items()) + b"\x00"
    return struct.pack("!ii", len(body) + 8, PROTOCOL_3) + body


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One regular protocol message, either direction: (type byte, payload without the length)."""
    header = await reader.readexactly(5)
    kind, length = header[:1], struct.unpack("!i", header[1:])[0]
    return kind, await reader.readexactly(length - 4)


def rewrite_query(payload: bytes, transform: Callable[[str], str] = translate) -> bytes:
    """Query message: ``sql\\0``."""
    return transform(payload.rstrip(b"\x00").decode()).encode() + b"\x00"


def rewrite_parse(payload: bytes, transform: Callable[[str], str] = translate) -> bytes:
    """Parse message: ``name\\0 sql\\0 parameter types``."""
    name, _, rest = payload.partition(b"\x00")
    sql, _, tail = rest.partition(b"\x00")
    return name + b"\x00" + transform(sql.decode()).encode() + b"\x00" + tail


def rewrite_parameter_status(payload: bytes) -> bytes:
    """Report Redshift's server_version: drivers parse it, and PostgreSQL's Debian suffix breaks them."""
    name = payload.partition(b"\x00")[0]
    if name == b"server_version":
        return name + b"\x00" + REDSHIFT_SERVER_VERSION + b"\x00"
    return payload


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


@dataclass
class EmulatorProxy:
    """Listens on ``port`` and relays each client to the PostgreSQL at ``pg_dsn``."""

    pg_dsn: str
    port: int = 0
    host: str = "127.0.0.1"
    s3_endpoint_url: str | None = None
    _s3: Any = None
    _s3_lock: threading.Lock = field(default_factory=threading.Lock)
    _server: asyncio.base_events.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def pg_address(self) -> tuple[str, int]:
        parts = urlsplit(self.pg_dsn)
        return parts.hostname or "127.0.0.1", parts.port or 5432

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            params = await self._startup(client_r, client_w)
            if params is None:
                return
            host, port = self.pg_address
            server_r, server_w = await asyncio.open_connection(host, port)
            server_w.write(startup_message(filter_startup_parameters(params)))
            await server_w.drain()
            await asyncio.gather(
                self._frontend_to_backend(client_r, server_w),
                self._backend_to_frontend(server_r, client_w),
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                client_w.close()

    def transform_sql(self, sql: str) -> str:
        """COPY from S3 becomes an INSERT of the objects' rows; other SQL gets translated."""
        try:
            insert = copy_as_insert(sql, self.fetch)
        except CopyError as exc:
            return raise_statement(str(exc))
        except Exception as exc:  # S3 unreachable, no credentials: fail the statement, keep the session
            return raise_statement(f"S3ServiceException: {type(exc).__name__}: {exc}")
        return insert if insert is not None else translate(sql)

    def fetch(self, url: str) -> bytes | None:
        """Bytes of ``s3://bucket/key`` from the S3 endpoint; None when it does not exist."""
        import boto3
        from botocore.exceptions import ClientError

        with self._s3_lock:  # boto3 clients are thread-safe once made; making one is not
            if self._s3 is None:
                self._s3 = boto3.client("s3", endpoint_url=self.s3_endpoint_url)
        parts = urlsplit(url)
        try:
            body: bytes = self._s3.get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"].read()
            return body
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
                return None
            raise

    async def _startup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> dict[str, str] | None:
        while True:
            length = struct.unpack("!i", await reader.readexactly(4))[0]
            body = await reader.readexactly(length - 4)
            code = struct.unpack("!i", body[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                writer.write(b"N")  # no TLS here: clients connect with ssl=False
                await writer.drain()
                continue
            if code == CANCEL_REQUEST:
                return None
            return parse_startup_parameters(body[4:])

    async def _frontend_to_backend(self, client: asyncio.StreamReader, server: asyncio.StreamWriter) -> None:
        try:
            while True:
                kind, payload = await read_message(client)
                # Off the event loop: a COPY reads S3, and other sessions keep being served meanwhile.
                if kind == b"Q":
                    payload = await asyncio.to_thread(rewrite_query, payload, self.transform_sql)
                elif kind == b"P":
                    payload = await asyncio.to_thread(rewrite_parse, payload, self.transform_sql)
                server.write(message(kind, payload))
                await server.drain()
                if kind == b"X":  # Terminate
                    break
        finally:
            with contextlib.suppress(Exception):
                server.close()

    @staticmethod
    async def _backend_to_frontend(server: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            while True:
                kind, payload = await read_message(server)
                if kind == b"S":
                    payload = rewrite_parameter_status(payload)
                client.write(message(kind, payload))
                await client.drain()
        finally:
            with contextlib.suppress(Exception):
                client.close()
