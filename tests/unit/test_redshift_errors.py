"""What a Redshift failure is, told by SQLSTATE and Redshift's error number (targets/redshift_errors.py),
over errors built as redshift_connector builds them from a server's ErrorResponse."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redshift_connector
from redshift_connector.core import Connection

from s3rb_stream.retry import Retry
from s3rb_stream.targets.redshift import TRANSACTION_RETRY
from s3rb_stream.targets.redshift_errors import Failure, classify, server_message, timed_out, worth_retrying


def server_error(**fields: str) -> Exception:
    """The exception the driver raises for an ErrorResponse with ``fields`` (one letter each)."""
    payload = b"".join(code.encode() + value.encode() + b"\x00" for code, value in fields.items()) + b"\x00"
    connection = SimpleNamespace(error=None)
    Connection.handle_ERROR_RESPONSE(connection, payload, None)  # type: ignore[arg-type]
    assert isinstance(connection.error, Exception)
    return connection.error


# Redshift: SQLSTATE XX000, its error number as the message, its words in the detail.
REDSHIFT_1023 = server_error(
    S="ERROR",
    C="XX000",
    M="1023",
    D="Serializable isolation violation on table - 15126, transactions forming the cycle are: 33412, 33303 (pid:7436)",
)
# The emulator: PostgreSQL's SQLSTATE, Redshift's words in the message.
EMULATOR_1023 = server_error(S="ERROR", C="40001", M="1023 DETAIL: Serializable isolation violation on table")
POSTGRES_40001 = server_error(S="ERROR", C="40001", M="could not serialize access due to concurrent update")
STATEMENT_TIMEOUT = server_error(S="ERROR", C="57014", M="Query (150) cancelled on user's request")
TOO_WIDE = server_error(
    S="ERROR",
    C="XX000",
    M="8001",
    D="The combined length of columns processed in the SQL statement exceeded the query-processing limit of"
    " 65535 characters (pid:41023)",
)


def test_an_isolation_conflict_is_known_by_sqlstate_or_by_redshifts_error_number() -> None:
    for error in (REDSHIFT_1023, EMULATOR_1023, POSTGRES_40001):
        assert isinstance(error, redshift_connector.error.ProgrammingError)
        assert classify(error) is Failure.CONFLICT and worth_retrying(error), error


def test_1023_elsewhere_in_an_errors_words_is_no_conflict() -> None:
    """A search of the text for "1023" retried these five times, then as an outage, forever."""
    missing = server_error(S="ERROR", C="42P01", M='relation "analytics.orders_1023" does not exist')
    level = server_error(S="ERROR", C="22023", M='invalid isolation level "serializable read only"')
    for error in (TOO_WIDE, missing, level):
        assert classify(error) is Failure.REFUSED and not worth_retrying(error), error


def test_timeouts_are_not_retried_at_once() -> None:
    assert classify(STATEMENT_TIMEOUT) is Failure.TIMED_OUT and not worth_retrying(STATEMENT_TIMEOUT)
    assert timed_out(STATEMENT_TIMEOUT) == "cancelled by Redshift's statement_timeout"
    assert timed_out(TimeoutError("timed out")) == "no answer within the driver's socket timeout"
    assert timed_out(REDSHIFT_1023) is None and timed_out(ConnectionResetError()) is None


def test_a_dropped_connection_is_retried_and_a_refused_login_is_not() -> None:
    communication = redshift_connector.error.InterfaceError("communication error", ConnectionResetError())
    for error in (communication, ConnectionResetError(), BrokenPipeError()):
        assert classify(error) is Failure.DROPPED and worth_retrying(error), error
    login = server_error(S="FATAL", C="28000", M='password authentication failed for user "loader"')
    assert isinstance(login, redshift_connector.error.InterfaceError)  # as the driver raises it
    assert classify(login) is Failure.REFUSED


def test_the_server_message_names_sqlstate_message_and_detail() -> None:
    assert server_message(TOO_WIDE).startswith("XX000: 8001 (The combined length of columns")
    assert server_message(ConnectionResetError("reset by peer")) == "reset by peer"


@pytest.mark.parametrize("error", [REDSHIFT_1023, ConnectionResetError()])
def test_a_redshift_transaction_is_tried_five_times_one_to_eight_seconds_apart(error: Exception) -> None:
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    calls = [0]

    def step() -> None:
        calls[0] += 1
        raise error

    retries: list[int] = []
    with pytest.raises(type(error)):
        Retry(TRANSACTION_RETRY, sleep=sleep, clock=lambda: now[0]).call(step, lambda exc, n: retries.append(n))
    assert calls == [5] and retries == [1, 2, 3, 4]
    assert sum(sleeps) == pytest.approx(1 + 2 + 4 + 8)
