"""Settings from the environment (``S3RB_*``) and the validated tables file.

Errors name the setting and the expected form, never the value: URLs carry passwords.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from s3rb_stream.core.snapshot_lock import Locking
from s3rb_stream.core.validation_words import say
from s3rb_stream.errors import ConfigError

IDENTIFIER = re.compile(r"^[^.\s`]+$")
ParquetCodec = Literal["snappy", "zstd", "gzip", "none"]
DEFAULT_CODEC: ParquetCodec = "zstd"


SslMode = Literal["DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"]
SSL_MODES: tuple[SslMode, ...] = ("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
VERIFYING: frozenset[str] = frozenset({"VERIFY_CA", "VERIFY_IDENTITY"})
# URL options that say what S3RB_MYSQL_SSL_MODE and S3RB_MYSQL_SSL_CA say: one way or the other, never both.
_URL_TLS = ("ssl_ca", "ssl_disabled", "ssl_verify_cert", "ssl_verify_identity")


@dataclass(frozen=True)
class MySQLTls:
    """How every connection to the source uses TLS, in the words of MySQL's own clients (``--ssl-mode``).
    ``said_by`` names the setting that decided it, for error messages."""

    mode: SslMode
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    said_by: str = "S3RB_MYSQL_SSL_MODE"


@dataclass(frozen=True)
class MySQLTarget:
    """Where the source server is; ``password`` is kept out of ``repr``."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    options: dict[str, str] = field(default_factory=dict)
    ssl_mode: str | None = None  # S3RB_MYSQL_SSL_MODE
    ssl_ca: str | None = None  # S3RB_MYSQL_SSL_CA

    def describe(self) -> str:
        """Safe for logs and errors: no password."""
        return f"mysql://{self.user}@{self.host}:{self.port}"

    def tls(self) -> MySQLTls:
        """The TLS of every source connection (binlog, metadata, snapshot): S3RB_MYSQL_SSL_MODE and
        S3RB_MYSQL_SSL_CA, else what the URL's driver options amount to (docs/configuration.md)."""
        url = self.options
        if self.ssl_mode is not None or self.ssl_ca is not None:
            clash = [k for k in _URL_TLS if k in url]
            if clash:
                raise ConfigError(
                    f"S3RB_MYSQL_URL has the option {clash[0]} while S3RB_MYSQL_SSL_MODE or S3RB_MYSQL_SSL_CA is set",
                    f"say how to use TLS one way: drop {', '.join(clash)} from the URL",
                )
            mode = _ssl_mode(self.ssl_mode) if self.ssl_mode else "VERIFY_IDENTITY" if self.ssl_ca else "PREFERRED"
            said = "S3RB_MYSQL_SSL_MODE" if self.ssl_mode else "S3RB_MYSQL_SSL_CA"
            tls = MySQLTls(mode, self.ssl_ca, url.get("ssl_cert"), url.get("ssl_key"), said)
        else:
            tls = _url_tls(url)
        _check_tls(tls)
        return tls


@dataclass(frozen=True)
class StoreLocation:
    scheme: Literal["file", "s3"]
    root: str  # absolute directory for file, bucket for s3
    prefix: str  # key prefix inside the store (s3) or "" (file)

    def describe(self) -> str:
        if self.scheme == "file":
            return f"file://{self.root}"
        return f"s3://{self.root}/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class WarehouseLocation:
    kind: Literal["duckdb", "redshift"]
    path: str = ""  # duckdb file path
    host: str = ""
    port: int = 5439
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "redshift":
            return f"redshift://{self.user}@{self.host}:{self.port}/{self.database}"
        return f"{self.kind}:///{self.path}"


@dataclass(frozen=True)
class OptionTypes:
    """Which URL query options a driver accepts, by type."""

    bools: frozenset[str]
    ints: frozenset[str]
    strs: frozenset[str]


def typed_options(options: dict[str, str], types: OptionTypes, setting: str) -> dict[str, Any]:
    """URL query options as driver keyword arguments; an unknown option is a named ConfigError."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in types.bools:
            out[key] = value.lower() in ("1", "true", "yes", "on")
        elif key in types.ints:
            out[key] = int(value)
        elif key in types.strs:
            out[key] = value
        else:
            known = ", ".join(sorted(types.bools | types.ints | types.strs))
            raise ConfigError(f"{setting} has an unknown option {key!r}", f"known options: {known}")
    return out


def _ssl_mode(value: str) -> SslMode:
    for mode in SSL_MODES:
        if value.strip().upper() == mode:
            return mode
    raise ConfigError("S3RB_MYSQL_SSL_MODE is not a TLS mode", f"expected one of {', '.join(SSL_MODES)}")


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "on")


def _url_tls(url: dict[str, str]) -> MySQLTls:
    """The mode that S3RB_MYSQL_URL's driver options amount to. A CA file alone verifies the
    certificate and the host name: a CA that is never checked would only look safe."""
    ca, cert, key = url.get("ssl_ca"), url.get("ssl_cert"), url.get("ssl_key")
    mode: SslMode
    if _truthy(url.get("ssl_disabled")):
        mode = "DISABLED"
    elif _truthy(url.get("ssl_verify_identity")):
        mode = "VERIFY_IDENTITY"
    elif _truthy(url.get("ssl_verify_cert")):
        mode = "VERIFY_CA"
    elif ca and "ssl_verify_cert" not in url:
        mode = "VERIFY_IDENTITY"
    elif ca or cert or key:
        mode = "REQUIRED"
    else:
        mode = "PREFERRED"
    return MySQLTls(
        mode, ca, cert, key, "S3RB_MYSQL_URL" if set(url) & {*_URL_TLS, "ssl_cert", "ssl_key"} else "default"
    )


def _check_tls(tls: MySQLTls) -> None:
    """Refuse a TLS setting that would not do what it says."""
    by_url = tls.said_by == "S3RB_MYSQL_URL"
    mode = f"S3RB_MYSQL_URL's ssl options (TLS mode {tls.mode})" if by_url else f"S3RB_MYSQL_SSL_MODE={tls.mode}"
    if tls.mode in VERIFYING and not tls.ca:
        raise ConfigError(
            f"{mode} checks the server's certificate, and no CA file is given",
            "set S3RB_MYSQL_SSL_CA to the CA certificate (PEM) that signed it;"
            " RDS and Aurora: the bundle for the region",
        )
    if tls.ca and tls.mode not in VERIFYING:
        raise ConfigError(
            f"{mode} never checks the server's certificate, so the CA file given would be ignored",
            "use S3RB_MYSQL_SSL_MODE=VERIFY_IDENTITY (or VERIFY_CA) to check it, or drop the CA file",
        )
    if (tls.cert or tls.key) and tls.mode in ("DISABLED", "PREFERRED"):
        raise ConfigError(
            f"{mode} with a client certificate (ssl_cert/ssl_key in S3RB_MYSQL_URL)",
            "a client certificate needs TLS: use S3RB_MYSQL_SSL_MODE=REQUIRED or a VERIFY mode",
        )
    for name, path in (("the CA file", tls.ca), ("ssl_cert", tls.cert), ("ssl_key", tls.key)):
        if path and not os.access(path, os.R_OK):
            raise ConfigError(f"{name} for MySQL TLS, {path!r}, is not a readable file", "check the path")


def _port(parts: SplitResult, default: int, setting: str) -> int:
    try:
        return parts.port or default
    except ValueError:
        raise ConfigError(f"{setting} has an invalid port", "expected a number 1-65535") from None


def parse_mysql_url(
    url: str, password: str | None = None, ssl_mode: str | None = None, ssl_ca: str | None = None
) -> MySQLTarget:
    """``mysql://user:password@host:port?opt=v`` → connection parts."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname:
        raise ConfigError(
            "S3RB_MYSQL_URL is not a MySQL URL",
            "expected mysql://user:password@host:port, e.g. mysql://repl@db.internal:3306",
        )
    return MySQLTarget(
        host=parts.hostname,
        port=_port(parts, 3306, "S3RB_MYSQL_URL"),
        user=unquote(parts.username or "root"),
        password=password if password is not None else unquote(parts.password or ""),
        options=dict(parse_qsl(parts.query)),
        ssl_mode=ssl_mode,
        ssl_ca=ssl_ca,
    )


def parse_store_url(url: str) -> StoreLocation:
    """``file:///abs/dir`` or ``s3://bucket/prefix``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise ConfigError(
                "S3RB_STORE_URL file:// needs an absolute path",
                "expected file:///absolute/dir (three slashes)",
            )
        return StoreLocation("file", parts.path.rstrip("/") or "/", "")
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError("S3RB_STORE_URL s3:// needs a bucket", "expected s3://bucket/prefix")
        return StoreLocation("s3", parts.netloc, parts.path.strip("/"))
    raise ConfigError(
        "S3RB_STORE_URL has an unsupported scheme",
        "expected file:///absolute/dir or s3://bucket/prefix",
    )


def parse_warehouse_url(url: str) -> WarehouseLocation:
    """SQLAlchemy style: ``duckdb:///relative.duckdb`` or ``duckdb:////absolute.duckdb``."""
    parts = urlsplit(url)
    if parts.scheme == "duckdb":
        if parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
            raise ConfigError(
                "S3RB_WAREHOUSE_URL duckdb URL has no file",
                "expected duckdb:///relative/file.duckdb or duckdb:////absolute/file.duckdb",
            )
        return WarehouseLocation("duckdb", parts.path[1:])
    if parts.scheme == "redshift":
        database = parts.path.strip("/")
        if not parts.hostname or not database or not parts.username:
            raise ConfigError(
                "S3RB_WAREHOUSE_URL redshift URL needs a user, a host and a database",
                "expected redshift://user:password@host:5439/db",
            )
        return WarehouseLocation(
            "redshift",
            host=parts.hostname,
            port=_port(parts, 5439, "S3RB_WAREHOUSE_URL"),
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            database=database,
            options=dict(parse_qsl(parts.query)),
        )
    raise ConfigError(
        "S3RB_WAREHOUSE_URL has an unsupported scheme",
        "expected duckdb:///file.duckdb or redshift://user:password@host:5439/db",
    )


class Settings(BaseSettings):
    """Process settings. Every field maps to ``S3RB_<NAME>`` in the environment or ``.env``."""

    model_config = SettingsConfigDict(env_prefix="S3RB_", env_file=".env", extra="ignore")

    # No default: a pipeline must not read whatever server happens to listen on localhost.
    mysql_url: SecretStr | None = None
    mysql_password: SecretStr | None = None
    # TLS of every source connection, as MySQL's clients name it (--ssl-mode, --ssl-ca). Unset: the
    # URL's driver options, else PREFERRED; a CA file alone means VERIFY_IDENTITY.
    mysql_ssl_mode: SslMode | None = None
    mysql_ssl_ca: Path | None = None
    # Preflight refuses a source that keeps its binlogs for less than this (0: no check): a snapshot,
    # and an outage of the pipeline, must end before the binlogs they resume from are purged.
    min_binlog_retention_hours: int = Field(default=72, ge=0)
    store_url: str = Field(default_factory=lambda: f"file://{Path('data/objects').resolve()}")
    s3_endpoint_url: str | None = None
    warehouse_url: SecretStr = SecretStr("duckdb:///data/warehouse.duckdb")  # a Redshift URL holds a password
    tables_file: Path = Path("conf/tables.yml")
    redshift_iam_role: str | None = None
    # Redshift cancels a statement that runs (or queues) longer than this, and its locks go with
    # it; 0 turns it off. The driver's socket timeout is set above it (targets/redshift.py).
    redshift_statement_timeout_seconds: int = Field(default=3600, ge=0)
    metrics_port: int | None = None
    metrics_address: str = "0.0.0.0"  # noqa: S104 - scraped from outside; 127.0.0.1 keeps it on the host

    server_id: int | None = Field(default=None, ge=1, le=4294967295)
    heartbeat_seconds: float = Field(default=2.0, gt=0, le=3600)
    # Optional "database.table" the daemon upserts one row into every heartbeat_table_seconds, so
    # that an otherwise idle source still writes binlog (sources/heartbeat.py).
    heartbeat_table: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$")
    heartbeat_table_seconds: float = Field(default=10.0, gt=0, le=30)  # a beat is a sign of life (/healthz)
    batch_max_rows: int = Field(default=100_000, ge=1)
    batch_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    batch_max_age_seconds: float = Field(default=30.0, gt=0)
    load_interval_seconds: float = Field(default=30.0, gt=0)
    # Back-pressure: capture pauses reading while this many batch objects wait in the store to be
    # loaded (a warehouse that is down or slow), and reads on when the loads catch up.
    max_pending_batches: int = Field(default=10_000, ge=1)
    # Tables loaded at once, each over its own warehouse connection (one table is never loaded by
    # two at once). Redshift runs concurrent transactions; DuckDB runs them in one process.
    load_concurrency: int = Field(default=1, ge=1, le=32)
    # Compression of the Parquet batch objects. Default: snappy when Redshift COPYs them (the codec
    # its docs name for Parquet, and what its UNLOAD writes), zstd otherwise (smaller, DuckDB reads it).
    parquet_codec: ParquetCodec | None = None
    # DuckDB's own buffer pool (it spills to disk beyond it); its default, 80% of RAM, grows with the
    # target tables and would leave the pipeline's memory unbounded.
    duckdb_memory_limit: str = Field(default="256MB", pattern=r"^\d+(\.\d+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)$")
    snapshot_chunk_rows: int = Field(default=50_000, ge=1, le=10_000_000)
    # A server that does not report a snapshot's own binlog position (MySQL) reads the position
    # under a lock held for a moment (core/snapshot_lock.py): "tables", LOCK TABLES ... READ on the
    # snapshotted tables; "global", FLUSH TABLES WITH READ LOCK; "none", no lock, and a transaction
    # committing at that moment can be lost until its rows change again (a warning says so).
    snapshot_locking: Locking = "tables"
    # How long that lock may wait for transactions in flight (lock_wait_timeout), then the
    # snapshot stops with an error: while it waits, MySQL may hold new writes to the tables too.
    snapshot_lock_wait_seconds: int = Field(default=10, ge=1, le=3600)
    # The compiled speed-ups (row decoding, batch columns; s3rb_stream/speedups.py). False runs
    # their pure-Python references: same values, about half as fast; for comparing the two.
    speedups: bool = True
    sync_interval_seconds: float = Field(default=300.0, gt=0)
    # Applied batch objects are removed this long after their load (docs/configuration.md,
    # "Retention"): a week to look into a load by hand or re-load a rebuilt table from them.
    # "forever" keeps them all, as a lake; a load pass costs the same either way.
    retain_applied_hours: float | Literal["forever"] = 168.0
    cleanup_interval_seconds: float = Field(default=600.0, gt=0)  # how often the daemon cleans up
    # The daemon verifies a sample of each table's key ranges this often (pipeline/verify.py); off
    # when unset. Differences go to the log and s3rb_verify_differences; nothing is repaired.
    verify_interval_hours: float | None = Field(default=None, gt=0)
    lease_seconds: float = Field(default=60.0, ge=5)  # one writer per source schema; a dead holder's expires
    # "gtid": resume by GTID and number changes by their place in the GTID history, so capture can
    # follow a failover to another server; "file": binlog file and offset of one server.
    positioning: Literal["file", "gtid"] = "file"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def mysql(self) -> MySQLTarget:
        if self.mysql_url is None:
            raise ConfigError(
                "S3RB_MYSQL_URL is not set, so there is no MySQL server to read",
                "set it, e.g. S3RB_MYSQL_URL=mysql://cdc@db.internal:3306 with the password in"
                " S3RB_MYSQL_PASSWORD (`s3rb-stream demo` starts a server of its own and needs none)",
            )
        password = self.mysql_password.get_secret_value() if self.mysql_password else None
        ca = str(self.mysql_ssl_ca) if self.mysql_ssl_ca is not None else None
        return parse_mysql_url(self.mysql_url.get_secret_value(), password, self.mysql_ssl_mode, ca)

    @field_validator("retain_applied_hours")
    @classmethod
    def _positive_retention(cls, value: float | str) -> float | str:
        if value != "forever" and float(value) <= 0:
            raise ValueError("must be a number of hours above 0, or forever to keep applied batches")
        return value

    def retention(self) -> timedelta | None:
        """How long applied batch objects are kept; None: for good."""
        hours = self.retain_applied_hours
        return None if hours == "forever" else timedelta(hours=float(hours))

    @field_validator("mysql_ssl_mode", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        """``verify_identity`` is VERIFY_IDENTITY, as for MySQL's clients."""
        return value.strip().upper() if isinstance(value, str) else value

    def store(self) -> StoreLocation:
        return parse_store_url(self.store_url)

    def warehouse(self) -> WarehouseLocation:
        return parse_warehouse_url(self.warehouse_url.get_secret_value())

    def batch_codec(self) -> ParquetCodec:
        """The Parquet codec of batch objects: the setting, else what the warehouse reads best."""
        if self.parquet_codec is not None:
            return self.parquet_codec
        return "snappy" if self.warehouse_url.get_secret_value().startswith("redshift://") else DEFAULT_CODEC

    def secrets(self) -> list[str]:
        """Strings that must never reach a log line."""
        found = []
        if self.mysql_password:
            found.append(self.mysql_password.get_secret_value())
        urls = [self.warehouse_url.get_secret_value()] + ([self.mysql_url.get_secret_value()] if self.mysql_url else [])
        for url in urls:
            pw = urlsplit(url).password
            if pw:
                found.extend([pw, unquote(pw)])
        for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if os.environ.get(name):
                found.append(os.environ[name])
        return [s for s in found if len(s) >= 3]


def load_settings(**overrides: Any) -> Settings:
    """Build settings; turn pydantic's errors into one line that names the variable, not the value."""
    try:
        settings = Settings(**overrides)
        if settings.mysql_url is not None:
            settings.mysql().tls()
        settings.store()
        settings.warehouse()
        return settings
    except ValidationError as exc:
        raise ConfigError(_describe_validation(exc, prefix="S3RB_")) from None


def _describe_validation(exc: ValidationError, prefix: str = "") -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        name = f"{prefix}{loc.upper()}" if prefix else loc
        problems.append(f"{name}: {say(err)}")
    return "invalid settings: " + "; ".join(problems)


# --------------------------------------------------------------------------- tables file

Strategy = Literal["binlog", "hybrid", "full_sync"]
Mode = Literal["merge", "scd2", "append"]


class TableConfig(BaseModel):
    """One entry of ``tables:``. ``name`` is ``source_db.table``, ``*`` and ``?`` allowed in the table part."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    cdc_strategy: Strategy = "binlog"
    mode: Mode = "merge"
    key_columns: tuple[str, ...] | None = None
    soft_delete: bool = False
    cdc_timestamp_column: str | None = None
    cdc_id_column: str | None = None
    cdc_lookback: float = Field(default=300.0, ge=0)  # seconds re-read below the hybrid watermark
    sync_interval: float | None = Field(default=None, gt=0)  # seconds between runs; S3RB_SYNC_INTERVAL_SECONDS
    overflow: Literal["fail", "truncate", "null"] = "fail"  # a value too long for its target column
    overflow_columns: dict[str, Literal["fail", "truncate", "null"]] = Field(default_factory=dict)
    decimal_overflow: Literal["widen", "fail", "truncate", "null"] = "widen"  # DECIMAL over 38 digits
    scd2_tracked_columns: tuple[str, ...] | None = None  # default: every non-key column
    scd2_untracked: Literal["update", "ignore"] = "update"  # a change to untracked columns only
    scd2_valid_from_column: str = "valid_from"
    scd2_valid_to_column: str = "valid_to"
    scd2_current_column: str = "is_current"

    @field_validator("name")
    @classmethod
    def _qualified(cls, value: str) -> str:
        db, dot, table = value.partition(".")
        if not dot or not db or not table or "*" in db or not IDENTIFIER.match(db):
            raise ValueError('expected "source_db.table" or "source_db.pattern*"')
        return value

    @model_validator(mode="after")
    def _strategy_columns(self) -> TableConfig:
        if self.cdc_strategy == "hybrid" and not (self.cdc_timestamp_column and self.cdc_id_column):
            raise ValueError("cdc_strategy hybrid needs cdc_timestamp_column and cdc_id_column")
        if self.cdc_strategy != "hybrid" and (self.cdc_timestamp_column or self.cdc_id_column):
            raise ValueError("cdc_timestamp_column and cdc_id_column apply to cdc_strategy hybrid only")
        if self.cdc_strategy == "full_sync" and self.mode == "append":
            raise ValueError(
                "cdc_strategy full_sync needs mode merge or scd2: it removes rows missing from the extract"
            )
        if self.soft_delete:
            self._soft_delete_applies()
        return self

    def _soft_delete_applies(self) -> None:
        """``soft_delete`` changes what a delete does to a ``merge`` table; elsewhere it would be
        accepted and do nothing, so it is refused with the reason."""
        if self.mode == "scd2":
            raise ValueError(
                "soft_delete does not apply to mode scd2: SCD2 tables already keep history (a deleted key's"
                " current version is closed at the delete's time and stays); remove soft_delete"
            )
        if self.mode == "append":
            raise ValueError(
                "soft_delete does not apply to mode append: it keeps every change as a row, deletes"
                " included (_s3rb_op = 'd'); remove soft_delete"
            )
        if self.cdc_strategy == "hybrid":
            raise ValueError(
                "soft_delete does not apply to cdc_strategy hybrid: it reads rows by their change time and"
                " never sees a delete; use cdc_strategy binlog or full_sync, or remove soft_delete"
            )

    @property
    def source_db(self) -> str:
        return self.name.partition(".")[0]

    @property
    def table_pattern(self) -> str:
        return self.name.partition(".")[2]

    @property
    def is_pattern(self) -> bool:
        return any(c in self.table_pattern for c in "*?[")


class PipelineConfig(BaseModel):
    """One source schema into one target schema; ``run`` without --source-db runs every one listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_db: str = Field(pattern=r"^[A-Za-z0-9_$]+$")
    target_schema: str = Field(min_length=1)


class TablesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: list[TableConfig] = Field(min_length=1)
    pipelines: list[PipelineConfig] = Field(default_factory=list)

    def for_source(self, source_db: str) -> list[TableConfig]:
        return [t for t in self.tables if t.source_db == source_db]

    def resolve(self, source_db: str, table: str) -> TableConfig | None:
        """The entry for one table: an exact name wins over a pattern; first pattern wins."""
        entries = self.for_source(source_db)
        for entry in entries:
            if not entry.is_pattern and entry.table_pattern == table:
                return entry
        for entry in entries:
            if entry.is_pattern and fnmatch.fnmatchcase(table, entry.table_pattern):
                return entry
        return None


def load_tables_file(path: Path) -> TablesFile:
    """Read and validate the tables file; errors name the file, the entry and the key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"tables file {path} not found", "set S3RB_TABLES_FILE or create conf/tables.yml") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"tables file {path} is not valid YAML{where}",
            "expected a mapping with a 'tables:' list",
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"tables file {path} must be a mapping", "expected 'tables:' with a list of entries")
    try:
        parsed = TablesFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "tables" and isinstance(loc[1], int):
                entries = raw.get("tables") or []
                entry = entries[loc[1]] if loc[1] < len(entries) else None
                label = entry.get("name") if isinstance(entry, dict) else None
                where = f"tables[{loc[1]}]" + (f" ({label})" if label else "")
                inside = loc[2:-1] if err["type"] == "extra_forbidden" else loc[2:]  # the key is in the message
                key = ".".join(str(p) for p in inside)
                where += f".{key}" if key else ""
                known: Collection[str] = TableConfig.model_fields
            else:
                inside = loc[:-1] if err["type"] == "extra_forbidden" else loc
                where = ".".join(str(p) for p in inside) or "(top level)"
                known = TablesFile.model_fields if not inside else ()
            problems.append(f"{where}: {say(err, known)}")
        raise ConfigError(f"tables file {path} is invalid: " + "; ".join(problems)) from None
    seen: set[str] = set()
    for entry in parsed.tables:
        if entry.name in seen:
            raise ConfigError(f"tables file {path} lists {entry.name} twice", "keep one entry per table")
        seen.add(entry.name)
    return parsed
