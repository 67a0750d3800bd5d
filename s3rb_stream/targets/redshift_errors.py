"""What a Redshift failure is, read from the error's structure, never from a search of its text.

redshift_connector raises a server's ErrorResponse as an exception whose ``args[0]`` is a dict of
the response's fields: ``S`` severity, ``C`` SQLSTATE, ``M`` message, ``D`` detail, and more
(``ProgrammingError`` for most codes). Redshift reports its own errors with SQLSTATE ``XX000`` and
its error number as the message, the words in the detail: ``M`` = ``1023``, ``D`` = "Serializable
isolation violation on table - 15126, transactions forming the cycle are: ... (pid:7436)". A
search of the whole text for "1023" would also find a pid, a table's id or a row count.
"""

from __future__ import annotations

import enum
import re

import redshift_connector


class Failure(enum.Enum):
    TIMED_OUT = "timed out"  # the driver's socket timeout, or Redshift's statement_timeout
    CONFLICT = "conflict"  # an isolation conflict: the transaction was aborted, try it again
    DROPPED = "dropped"  # the connection broke: try again on a new one
    REFUSED = "refused"  # the server refused the statement, or any other error: trying again cannot help


SERIALIZATION_FAILURE = "40001"  # PostgreSQL's SQLSTATE for an isolation conflict (the emulator keeps it)
ISOLATION_VIOLATION = "1023"  # Redshift's error number for one, under SERIALIZABLE and SNAPSHOT alike
QUERY_CANCELED = "57014"  # statement_timeout, or a cancel
# Redshift's words when statement_timeout cancels a statement ("statement_timeout"), whatever its SQLSTATE.
_CANCELLED = re.compile(r"^Query \(\d+\) cancelled on user's request|statement timeout")


def error_fields(exc: BaseException) -> dict[str, str]:
    """The server's ErrorResponse fields the driver carries; empty for an error of the client's own."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}


def redshift_code(fields: dict[str, str]) -> str | None:
    """Redshift's own error number: the message's first word when it is all digits ("1023", or
    "1023 DETAIL: ..." where the detail is folded into the message), else None."""
    first = str(fields.get("M", "")).split(" ", 1)[0]
    return first if first.isdigit() else None


def classify(exc: BaseException) -> Failure:
    """What kind of failure ``exc`` is, from its type, SQLSTATE and Redshift error number."""
    if isinstance(exc, TimeoutError):  # before OSError, of which it is one
        return Failure.TIMED_OUT
    fields = error_fields(exc)
    if fields.get("C") == QUERY_CANCELED or _CANCELLED.search(str(fields.get("M", ""))):
        return Failure.TIMED_OUT
    if fields.get("C") == SERIALIZATION_FAILURE or redshift_code(fields) == ISOLATION_VIOLATION:
        return Failure.CONFLICT
    if not fields and isinstance(exc, (redshift_connector.error.InterfaceError, OSError)):
        return Failure.DROPPED  # with fields, the server answered (a refused login is an InterfaceError)
    return Failure.REFUSED


def worth_retrying(exc: BaseException) -> bool:
    """An isolation conflict or a dropped connection: the transaction, tried again at once, may pass."""
    return classify(exc) in (Failure.CONFLICT, Failure.DROPPED)


def timed_out(exc: BaseException) -> str | None:
    """How a statement ran out of time, or None: the driver's socket timeout (a ``TimeoutError``
    from ``execute``), or Redshift's ``statement_timeout`` ("Query (n) cancelled on user's
    request", SQLSTATE 57014)."""
    if classify(exc) is not Failure.TIMED_OUT:
        return None
    if isinstance(exc, TimeoutError):
        return "no answer within the driver's socket timeout"
    return "cancelled by Redshift's statement_timeout"


def server_message(exc: BaseException) -> str:
    """The server's own words: SQLSTATE, message and detail."""
    fields = error_fields(exc)
    if not fields:
        return str(exc)
    text = f"{fields.get('C', '')}: {fields.get('M', '')}".strip(": ")
    if fields.get("D"):
        text += f" ({fields['D']})"
    return text
