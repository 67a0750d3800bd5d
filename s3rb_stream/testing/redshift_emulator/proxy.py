"""The wire-protocol proxy: startup handling here, then a relay of whole messages both ways.

Messages are framed (type byte, length) in both directions. Towards PostgreSQL, Query and Parse
messages carry the statement as Redshift would run it (``transform_sql``), and Bind parameters
that name a long identifier carry its alias. Back to the client, ParameterStatus reports
Redshift's version, ReadyForQuery tells the session whether it is in a transaction block, and
names and error wording are Redshift's. The rest passes as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from s3rb_stream.sql.identifiers import literal
from s3rb_stream.testing.redshift_emulator import cluster, varchar
from s3rb_stream.testing.redshift_emulator.copy import CopyError, copy_as_statement, raise_statement
from s3rb_stream.testing.redshift_emulator.names import LongNames, rewrite_identifiers
from s3rb_stream.testing.redshift_emulator.translate import Refused, Session, translate

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


def sql_of(kind: bytes, payload: bytes) -> str | None:
    """The statement text of a Query or Parse message."""
    if kind == b"Q":
        return payload.rstrip(b"\x00").decode()
    if kind == b"P":
        return payload.partition(b"\x00")[2].partition(b"\x00")[0].decode()
    return None


def rewrite_bind(payload: bytes, long_names: LongNames) -> bytes:
    """Bind message: a parameter equal to a long name stands for it, as a string literal does."""
    portal, _, rest = payload.partition(b"\x00")
    statement, _, rest = rest.partition(b"\x00")
    (nformats,) = struct.unpack_from("!h", rest, 0)
    offset = 2 + 2 * nformats
    (nparams,) = struct.unpack_from("!h", rest, offset)
    offset += 2
    params = []
    for _ in range(nparams):
        (size,) = struct.unpack_from("!i", rest, offset)
        offset += 4
        value = rest[offset : offset + size] if size >= 0 else None
        offset += max(size, 0)
        if value is not None:
            alias = long_names.known_alias(value.decode(errors="replace"))
            value = alias.encode() if alias else value
        params.append(struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value)
    head = rest[: 2 + 2 * nformats] + struct.pack("!h", nparams)
    return portal + b"\x00" + statement + b"\x00" + head + b"".join(params) + rest[offset:]


def restore_row_description(payload: bytes, long_names: LongNames) -> bytes:
    (count,) = struct.unpack_from("!h", payload, 0)
    out, offset = [payload[:2]], 2
    for _ in range(count):
        end = payload.index(b"\x00", offset)
        out.append(long_names.restore_value(payload[offset:end]) + payload[end : end + 19])
        offset = end + 19
    return b"".join(out)


def restore_data_row(payload: bytes, long_names: LongNames) -> bytes:
    (count,) = struct.unpack_from("!h", payload, 0)
    out, offset = [payload[:2]], 2
    for _ in range(count):
        (size,) = struct.unpack_from("!i", payload, offset)
        offset += 4
        if size < 0:
            out.append(struct.pack("!i", -1))
            continue
        value = long_names.restore_value(payload[offset : offset + size])
        out.append(struct.pack("!i", len(value)) + value)
        offset += size
    return b"".join(out)


# A session runs at its database's isolation level (cluster.py): SERIALIZABLE, or SNAPSHOT as
# PostgreSQL's REPEATABLE READ. PostgreSQL detects conflicts per row (and, serializable, per
# predicate), Redshift per table: Redshift may abort, or wait, where the emulator does not. Either
# level reports a conflict as error 1023, as Redshift does under both ("Isolation levels in Amazon
# Redshift").
SERIALIZATION_FAILURE = b"1023 DETAIL: Serializable isolation violation on table"

# PostgreSQL's words for what Redshift reports in its own.
_REDSHIFT_MESSAGES = (
    (rb"^could not serialize access due to .*", SERIALIZATION_FAILURE),
    (rb"^MERGE command cannot affect row a second time", b"Found multiple matches to update the same tuple."),
    (rb"^canceling statement due to statement timeout", b"Query (0) cancelled on user's request"),
)


def restore_notice(payload: bytes, long_names: LongNames) -> bytes:
    """ErrorResponse / NoticeResponse: Redshift's wording and names in every field."""
    fields = payload.rstrip(b"\x00").split(b"\x00")
    out = []
    for item in fields:
        code, text = item[:1], item[1:]
        if code == b"M":
            for pattern, replacement in _REDSHIFT_MESSAGES:
                text = re.sub(pattern, replacement, text)
        out.append(code + (long_names.restore_text(text) if long_names else text))
    return b"\x00".join(out) + b"\x00\x00"


_CASE_SETTING = re.compile(
    r"^\s*(?:(?:SET\s+(?:SESSION\s+)?enable_case_sensitive_identifier\s*(?:TO|=)\s*'?(?P<value>\w+)'?)"
    r"|(?P<reset>RESET\s+enable_case_sensitive_identifier)|(?P<show>SHOW\s+enable_case_sensitive_identifier))\s*;?\s*$",
    re.IGNORECASE,
)
_STATEMENT_TIMEOUT = re.compile(
    r"^\s*SET\s+(?:SESSION\s+)?statement_timeout\s*(?:TO|=)\s*'?(?P<ms>\d+)'?\s*;?\s*$", re.IGNORECASE
)
# "statement_timeout": Redshift cancels the statement with this message.
CANCELLED = "Query (0) cancelled on user's request"


def _cancelled(_sql: str) -> str:
    return f"DO $s3rb$ BEGIN RAISE EXCEPTION USING MESSAGE = {literal(CANCELLED)}, ERRCODE = '57014'; END $s3rb$"


_EMULATOR_SETTING = re.compile(
    r"^\s*SET\s+(?:SESSION\s+)?s3rb_emulator\.(?P<name>statement_delay|fail_statements|cluster_version)"
    r"\s*(?:TO|=)\s*'(?P<value>(?:[^']|'')*)'\s*;?\s*$",
    re.IGNORECASE,
)
FAILED_ON_PURPOSE = "s3rb_emulator: statement failed on purpose (s3rb_emulator.fail_statements)"


def session_setting(sql: str, session: Session) -> str | None:
    """``SET/RESET/SHOW enable_case_sensitive_identifier``, which PostgreSQL does not know: kept
    by the proxy for the session, answered as Redshift would. None for any other statement."""
    match = _CASE_SETTING.match(sql)
    if match is None:
        return None
    if match["show"]:
        # read back from the server: the driver may reuse this statement after a SET
        setting = "current_setting('s3rb_emulator.enable_case_sensitive_identifier', true)"
        return f"SELECT COALESCE({setting}, 'off') AS enable_case_sensitive_identifier"
    if match["reset"]:
        session.case_sensitive = False
    else:
        value = match["value"].lower()
        if value not in ("true", "false", "on", "off"):
            raise Refused(f'invalid value for parameter "enable_case_sensitive_identifier": "{match["value"]}"')
        session.case_sensitive = value in ("true", "on")
    return f"SET s3rb_emulator.enable_case_sensitive_identifier TO '{'on' if session.case_sensitive else 'off'}'"


@dataclass(frozen=True)
class StatementDelay:
    """Statements matching ``pattern`` wait ``seconds`` in the proxy before PostgreSQL sees them:
    a slow warehouse, for tests of timeouts."""

    seconds: float
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> StatementDelay | None:
        """``"<seconds> [<regex>]"``; ``"0"`` means none. Without a regex every statement waits."""
        seconds, _, pattern = text.strip().partition(" ")
        delay = float(seconds)
        return cls(delay, re.compile(pattern.strip() or ".", re.IGNORECASE | re.DOTALL)) if delay > 0 else None


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


@dataclass
class EmulatorProxy:
    """Listens on ``port`` and relays each client to the PostgreSQL at ``pg_dsn``."""

    pg_dsn: str
    port: int = 0
    host: str = "127.0.0.1"
    s3_endpoint_url: str | None = None
    statement_delay: StatementDelay | None = None  # emulator-wide; also set by SET s3rb_emulator.statement_delay
    isolation: str = cluster.SNAPSHOT  # of every database no ALTER DATABASE set
    cluster_version: str = cluster.CLUSTER_VERSION  # what version() says; SET s3rb_emulator.cluster_version
    # Statements matching fail with an error, as a misbehaving cluster's would (tests of checks
    # that must be able to fail); SET s3rb_emulator.fail_statements TO '<regex>', '' for none.
    fail_statements: re.Pattern[str] | None = None
    databases: dict[str, str] = field(default_factory=dict)  # isolation set by ALTER DATABASE
    long_names: LongNames = field(default_factory=LongNames)
    _s3: Any = None
    _s3_lock: threading.Lock = field(default_factory=threading.Lock)
    _server: asyncio.base_events.Server | None = None

    @property
    def pg_address(self) -> tuple[str, int]:
        parts = urlsplit(self.pg_dsn)
        return parts.hostname or "127.0.0.1", parts.port or 5432

    async def start(self) -> int:
        await asyncio.to_thread(varchar.prepare, self.pg_dsn)  # VARCHAR compares as Redshift's
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
            database = params.get("database") or params.get("user", "")
            level = self.databases.get(database, self.isolation)  # set when the session starts
            isolation = {"default_transaction_isolation": cluster.POSTGRES_LEVEL[level]}
            server_w.write(startup_message({**filter_startup_parameters(params), **isolation}))
            await server_w.drain()
            session = Session(database=database)
            await asyncio.gather(
                self._frontend_to_backend(client_r, server_w, session),
                self._backend_to_frontend(server_r, client_w, session),
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                client_w.close()

    def transform_sql(self, sql: str, session: Session | None = None) -> str:
        """One statement as PostgreSQL should run it: session settings kept here, names as Redshift
        keeps them, COPY from S3 as a load of the objects' rows, Redshift's refusals as errors."""
        session = session or Session()
        try:
            setting = session_setting(sql, session)
            if setting is not None:
                return setting
            timeout = _STATEMENT_TIMEOUT.match(sql)
            if timeout is not None:
                session.statement_timeout_ms = int(timeout["ms"])
            emulator_setting = _EMULATOR_SETTING.match(sql)
            if emulator_setting is not None:
                self.set(emulator_setting["name"].lower(), emulator_setting["value"].replace("''", "'"))
                return sql
            if cluster.alter_isolation(sql, session, self.databases):
                return "DO $s3rb$ BEGIN END $s3rb$"
            failing = self.fail_statements
            if failing is not None and failing.search(sql):
                return raise_statement(FAILED_ON_PURPOSE)
            sql = rewrite_identifiers(sql, session.case_sensitive, self.long_names)
            sql = cluster.system_views(sql, self.databases, self.isolation, self.cluster_version)
            statement = copy_as_statement(sql, self.fetch)
            return statement if statement is not None else translate(sql, session)
        except (CopyError, Refused) as exc:
            return raise_statement(str(exc))
        except Exception as exc:  # S3 unreachable, no credentials: fail the statement, keep the session
            return raise_statement(f"S3ServiceException: {type(exc).__name__}: {exc}")

    def set(self, name: str, value: str) -> None:
        """An emulator-wide setting (``SET s3rb_emulator.<name> TO '<value>'``), for tests."""
        if name == "statement_delay":
            self.statement_delay = StatementDelay.parse(value)
        elif name == "fail_statements":
            self.fail_statements = re.compile(value, re.IGNORECASE | re.DOTALL) if value else None
        else:
            self.cluster_version = cluster.parse_cluster_version(value)

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

    async def _frontend_to_backend(
        self, client: asyncio.StreamReader, server: asyncio.StreamWriter, session: Session
    ) -> None:
        def transform(sql: str) -> str:
            return self.transform_sql(sql, session)

        try:
            while True:
                kind, payload = await read_message(client)
                sql = sql_of(kind, payload)
                delay = self.statement_delay
                if sql is not None and delay is not None and delay.pattern.search(sql):
                    limit = session.statement_timeout_ms / 1000
                    if limit and delay.seconds > limit:  # cancelled as Redshift's statement_timeout does
                        await asyncio.sleep(limit)
                        rewrite = rewrite_query if kind == b"Q" else rewrite_parse
                        server.write(message(kind, rewrite(payload, _cancelled)))
                        await server.drain()
                        continue
                    await asyncio.sleep(delay.seconds)
                # Off the event loop: a COPY reads S3, and other sessions keep being served meanwhile.
                if kind == b"Q":
                    payload = await asyncio.to_thread(rewrite_query, payload, transform)
                elif kind == b"P":
                    payload = await asyncio.to_thread(rewrite_parse, payload, transform)
                elif kind == b"B" and self.long_names:
                    payload = rewrite_bind(payload, self.long_names)
                server.write(message(kind, payload))
                await server.drain()
                if kind == b"X":  # Terminate
                    break
        finally:
            with contextlib.suppress(Exception):
                server.close()

    async def _backend_to_frontend(
        self, server: asyncio.StreamReader, client: asyncio.StreamWriter, session: Session
    ) -> None:
        names = self.long_names
        try:
            while True:
                kind, payload = await read_message(server)
                if kind == b"S":
                    payload = rewrite_parameter_status(payload)
                elif kind == b"Z":  # ReadyForQuery: I idle, T in a transaction block, E failed in one
                    session.in_transaction = payload[:1] != b"I"
                elif kind in (b"E", b"N"):
                    payload = restore_notice(payload, names)
                elif kind == b"T" and names:
                    payload = restore_row_description(payload, names)
                elif kind == b"D" and names:
                    payload = restore_data_row(payload, names)
                client.write(message(kind, payload))
                await client.drain()
        finally:
            with contextlib.suppress(Exception):
                client.close()
