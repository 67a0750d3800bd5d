"""structlog set-up: JSON lines off a terminal, readable console on one; secrets scrubbed."""

from __future__ import annotations

import contextvars
import functools
import logging
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, TextIO, TypeVar

import structlog

from s3rb_stream.threads import worker

_SECRETS: set[str] = set()
REDACTED = "***"


def register_secrets(secrets: Iterable[str]) -> None:
    """Strings that must never appear in a log line, whatever logs them."""
    _SECRETS.update(s for s in secrets if s)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _SECRETS:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    return value


def scrub_secrets(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: _scrub(v) for k, v in event_dict.items()} if _SECRETS else event_dict


def configure(fmt: str = "auto", level: str = "info", file: TextIO | None = None) -> None:
    """``file``: where log lines go instead of stderr (the demo keeps them out of its own lines)."""
    out = file or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Any = structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrub_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard logging module; keep them quiet unless they warn.
    logging.basicConfig(level=logging.WARNING, stream=out, force=file is not None)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


F = TypeVar("F", bound=Callable[..., Any])


def per_pipeline(func: F) -> F:
    """Every event logged while ``func(settings, source_db, target_schema, ...)`` runs carries
    ``source_db`` and ``target_schema``: several pipelines share one process and its log."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        source_db = kwargs.get("source_db", args[1] if len(args) > 1 else None)
        target_schema = kwargs.get("target_schema", args[2] if len(args) > 2 else None)
        with structlog.contextvars.bound_contextvars(source_db=source_db, target_schema=target_schema):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def in_this_context(func: Callable[[], None]) -> Callable[[], None]:
    """A thread target that runs in the caller's logging context (a thread starts with none), the
    stop signals left to the main thread (:mod:`s3rb_stream.threads`)."""
    context = contextvars.copy_context()
    return worker(lambda: context.run(func))
