"""What a cluster reports about itself, and the isolation level of its databases.

- **Isolation** ("Isolation levels in Amazon Redshift"; "CREATE DATABASE"; "ALTER DATABASE"): each
  database runs SERIALIZABLE or SNAPSHOT isolation; new provisioned clusters and Serverless
  workgroups default to SNAPSHOT. ``ALTER DATABASE d ISOLATION LEVEL ...`` changes it for the
  sessions that start afterwards, never inside a transaction block, never for ``dev``. A session
  runs on PostgreSQL as SERIALIZABLE or as REPEATABLE READ, which is snapshot isolation with
  first-updater-wins: a transaction that writes a row another committed since its snapshot fails.
  Both report error 1023 (proxy.py). ``STV_DB_ISOLATION_LEVEL`` shows each database's level.
- **Version**: ``SELECT version()`` names the cluster version ("Cluster versions for Amazon
  Redshift"), e.g. ``... Redshift 1.0.121010``; the emulator's is settable, so a test can be an
  old cluster.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from s3rb_stream.sql.identifiers import literal
from s3rb_stream.testing.redshift_emulator.translate import Refused, Session

SNAPSHOT, SERIALIZABLE = "snapshot", "serializable"
LEVELS = (SNAPSHOT, SERIALIZABLE)
POSTGRES_LEVEL = {SNAPSHOT: "repeatable read", SERIALIZABLE: "serializable"}
SHOWN_LEVEL = {SNAPSHOT: "Snapshot Isolation", SERIALIZABLE: "Serializable"}  # "STV_DB_ISOLATION_LEVEL"
CLUSTER_VERSION = "1.0.121010"  # patch 193 ("Cluster versions for Amazon Redshift")
VERSION_TEXT = (
    "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3),"
    " Redshift {version}"
)

_ALTER_ISOLATION = re.compile(
    r'^\s*ALTER\s+DATABASE\s+(?P<name>"(?:[^"]|"")+"|[^\s"]+)\s+ISOLATION\s+LEVEL\s+(?P<level>\w+)\s*;?\s*$',
    re.IGNORECASE,
)
_MENTIONS = re.compile(r"\b(stv_db_isolation_level|version)\b", re.IGNORECASE)
_CLUSTER_VERSION = re.compile(r"^1\.0\.\d+$")


def parse_level(text: str) -> str:
    level = text.strip().lower()
    if level not in LEVELS:
        raise Refused(f'invalid isolation level "{text}": SERIALIZABLE or SNAPSHOT')
    return level


def parse_cluster_version(text: str) -> str:
    if not _CLUSTER_VERSION.match(text.strip()):
        raise Refused(f'invalid cluster version "{text}": like 1.0.121010')
    return text.strip()


def alter_isolation(sql: str, session: Session, levels: dict[str, str]) -> bool:
    """``ALTER DATABASE d ISOLATION LEVEL ...``: recorded in ``levels`` for the sessions to come.
    False for any other statement."""
    match = _ALTER_ISOLATION.match(sql)
    if match is None:
        return False
    name = match["name"]
    name = name[1:-1].replace('""', '"') if name.startswith('"') else name
    name = name.lower()  # quoted or not, a name folds (names.py)
    if session.in_transaction:
        raise Refused("ALTER DATABASE ISOLATION LEVEL cannot run inside a transaction block")
    if name == "dev":
        raise Refused("cannot alter the isolation level of the dev database")
    levels[name] = parse_level(match["level"])
    return True


def system_views(sql: str, levels: dict[str, str], default: str, version: str) -> str:
    """``sql`` with ``STV_DB_ISOLATION_LEVEL`` as a subquery of each known database's level and
    ``version()`` as the emulated cluster's version text; anything else unchanged."""
    if not _MENTIONS.search(sql):
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return sql
    found = False

    def swap(node: exp.Expr) -> exp.Expr:
        nonlocal found
        if isinstance(node, exp.CurrentVersion):
            found = True
            text = exp.Literal.string(VERSION_TEXT.format(version=version))
            named = isinstance(node.parent, exp.Select) and node.arg_key == "expressions"
            return exp.alias_(text, "version") if named else text
        if isinstance(node, exp.Table) and not node.db and node.name.lower() == "stv_db_isolation_level":
            found = True
            view = sqlglot.parse_one(isolation_view(levels, default), read="postgres")
            return exp.Subquery(this=view, alias=exp.TableAlias(this=exp.to_identifier(node.alias or node.name)))
        return node

    rewritten = tree.transform(swap)
    return rewritten.sql(dialect="postgres") if found else sql


def isolation_view(levels: dict[str, str], default: str) -> str:
    """STV_DB_ISOLATION_LEVEL: the databases altered, and the current one at the default if it was not."""
    row = "SELECT CAST({db} AS CHAR(128)) AS db_name, CAST({level} AS CHAR(20)) AS isolation_level"
    parts = [row.format(db=literal(db), level=literal(SHOWN_LEVEL[level])) for db, level in sorted(levels.items())]
    current = row.format(db="current_database()", level=literal(SHOWN_LEVEL[default]))
    if levels:
        current += f" WHERE current_database() NOT IN ({', '.join(literal(db) for db in sorted(levels))})"
    return " UNION ALL ".join([*parts, current])
