"""One TLS setting, two drivers: PyMySQL (metadata and binlog connections) and mysqlclient
(snapshot and sync reads) each get the mode the settings name (``MySQLTarget.tls``), spelt their way.

MySQL's modes (``--ssl-mode``): DISABLED; PREFERRED, TLS when the server offers it, unverified;
REQUIRED, TLS or no connection, unverified; VERIFY_CA, the certificate must be signed by the CA file;
VERIFY_IDENTITY, and must name the host connected to. See docs/mysql.md, "Connections".
"""

from __future__ import annotations

import ssl
from typing import Any

from s3rb_stream.settings import MySQLTls

CR_SSL_CONNECTION_ERROR = 2026  # either driver: TLS could not be set up (no TLS at the server, a refused certificate)


def pymysql_options(tls: MySQLTls) -> dict[str, Any]:
    """PyMySQL's keyword arguments. Any mode that must encrypt gets an ``ssl.SSLContext`` built here:
    PyMySQL given a CA file alone would not check the certificate at all."""
    if tls.mode == "DISABLED":
        return {"ssl_disabled": True}
    if tls.mode == "PREFERRED":
        return {}  # PyMySQL 1.2+: TLS when the server offers it, the certificate unchecked
    context = ssl.create_default_context(cafile=tls.ca) if tls.ca else ssl.create_default_context()
    # Python 3.13 turns on strict X.509 checks that the certificates MySQL generates for itself fail
    # (PyMySQL relaxes them the same way); the signature and the name are still checked.
    context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    context.check_hostname = tls.mode == "VERIFY_IDENTITY"
    context.verify_mode = ssl.CERT_NONE if tls.mode == "REQUIRED" else ssl.CERT_REQUIRED
    if tls.cert:
        context.load_cert_chain(tls.cert, tls.key)
    return {"ssl": context}


def mysqlclient_attempts(tls: MySQLTls) -> list[dict[str, Any]]:
    """mysqlclient's keyword arguments, one dict per connection attempt, in order.

    PREFERRED is tried as REQUIRED, then DISABLED if the server cannot do TLS: built on MariaDB
    Connector/C (Debian's ``libmariadb``), mysqlclient's own PREFERRED never encrypts, and the three
    connections would differ. Built on that library, VERIFY_CA also checks the host name (the library
    has one switch for both); docs/mysql.md says so.
    """
    files = {name: path for name, path in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key)) if path}
    ssl_files = {"ssl": files} if files else {}
    if tls.mode == "PREFERRED":
        return [{"ssl_mode": "REQUIRED", **ssl_files}, {"ssl_mode": "DISABLED"}]
    if tls.mode == "DISABLED":
        return [{"ssl_mode": "DISABLED"}]
    return [{"ssl_mode": tls.mode, **ssl_files}]


def certificate_refused(exc: BaseException) -> str | None:
    """Why PyMySQL's TLS handshake refused the server's certificate, if that is why it failed
    (PyMySQL reports it as error 2003, "can't connect", which alone would look like an outage)."""
    original = getattr(exc, "original_exception", None)
    if isinstance(original, ssl.SSLCertVerificationError):
        return str(original.verify_message or original.reason or original)
    return None
