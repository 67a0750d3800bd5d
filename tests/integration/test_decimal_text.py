"""DECIMAL of every precision (1-65) and scale (0-30) through the binlog and through a snapshot,
against the server's own ``CAST(x AS CHAR)``.

Over 38 digits a DECIMAL lands as exact text (DuckDB and Redshift stop at 38 digits): the text
must be the server's, no exponent and every declared fractional digit, by either path
(``0.000000000000000000``, never ``0E-18``). Up to 38 digits it lands as a DECIMAL of the same
precision and scale, equal to the server's value.

Each example is one pipeline run: one row per value in tables of many DECIMAL columns (one column
per precision and scale); the same values are written once unlogged (only the snapshot delivers
them) and once logged after the snapshot (only the binlog delivers them).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3rb_stream.core.schema import MAX_ARROW_DECIMAL
from s3rb_stream.testing.mariadb import MariaDBServer
from tests.integration.conftest import Pipeline, make_pipeline

COLUMNS = [(p, s) for p in range(1, 66) for s in range(min(30, p) + 1)]  # 1,580 columns
TABLES = [COLUMNS[i : i + 200] for i in range(0, len(COLUMNS), 200)]  # InnoDB holds ~1000 columns, 8 KB a row
BINLOG_IDS = 1000  # ids of the logged copies: 1001, 1002, ...
_examples = itertools.count(1)

Value = tuple[int, bool]  # digits and sign of a DECIMAL(p, s): the number is digits * 10**-s


def name(p: int, s: int) -> str:
    return f"p{p}s{s}"


def literal(value: Value, s: int) -> str:
    """An exact DECIMAL literal (never an exponent: MySQL reads ``1e-3`` as a DOUBLE)."""
    digits, negative = value
    whole, fraction = divmod(digits, 10**s)
    return f"{'-' if negative else ''}{whole}" + (f".{fraction:0{s}d}" if s else "")


def edge_rows() -> list[list[Value]]:
    """Per column: zero, the smallest step either way, the largest magnitude either way."""
    return [
        [(0, False) for _ in COLUMNS],
        [(1, False) for _ in COLUMNS],
        [(1, True) for _ in COLUMNS],
        [(10**p - 1, False) for p, _ in COLUMNS],
        [(10**p - 1, True) for p, _ in COLUMNS],
    ]


@st.composite
def random_rows(draw: st.DrawFn) -> list[list[Value]]:
    """Rows of any digits: per row, one draw per precision serves all its scales (the point moves),
    small numbers often."""
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        drawn = {}
        for p in range(1, 66):
            digits = draw(st.integers(0, 10**p - 1) | st.integers(0, min(10**p - 1, 1000)), label=f"digits {p}")
            drawn[p] = (digits, digits > 0 and draw(st.booleans(), label=f"negative {p}"))
        rows.append([drawn[p] for p, _ in COLUMNS])
    return rows


def new_pipeline(request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path) -> Pipeline:
    """A fresh source database, store and DuckDB file per example (function fixtures are per test)."""
    directory = tmp_path / f"example{next(_examples)}"
    directory.mkdir()
    return make_pipeline(request, mariadb, directory, "file")


def fill(pipeline: Pipeline, rows: list[list[Value]], first_id: int, logged: bool) -> None:
    statements = []
    for t, columns in enumerate(TABLES):
        start = sum(len(c) for c in TABLES[:t])
        values = []
        for i, row in enumerate(rows):
            cells = [literal(row[start + j], s) for j, (_, s) in enumerate(columns)]
            values.append(f"({first_id + i}, {', '.join(cells)})")
        statements.append(f"INSERT INTO d{t} VALUES {', '.join(values)}")
    (pipeline.sql if logged else pipeline.sql_unlogged)(*statements)


def server_text(pipeline: Pipeline, t: int, ids: int) -> list[tuple[str, ...]]:
    casts = ", ".join(f"CAST({name(p, s)} AS CHAR)" for p, s in TABLES[t])
    conn = pipeline.server.connect(pipeline.source_db)
    with conn.cursor() as cur:
        cur.execute(f"SELECT {casts} FROM d{t} WHERE id <= %s ORDER BY id", (ids,))
        rows = [tuple(str(v) for v in r) for r in cur.fetchall()]
    conn.close()
    return rows


def landed(pipeline: Pipeline, t: int, ids: range) -> list[tuple[object, ...]]:
    """The target's values: text over 38 digits, else a Decimal of the column's scale."""
    select = ", ".join(f'"{name(p, s)}"' for p, s in TABLES[t])
    got = pipeline.target_query(
        f'SELECT {select} FROM "{pipeline.target_schema}".d{t} WHERE id BETWEEN {ids.start} AND {ids.stop - 1}'
        " ORDER BY id"
    )
    for row in got:
        for (p, s), value in zip(TABLES[t], row, strict=True):
            if p <= MAX_ARROW_DECIMAL:
                assert isinstance(value, Decimal) and value.as_tuple().exponent == -s, (name(p, s), value)
    return got


def as_landed(rows: list[tuple[str, ...]], t: int) -> list[tuple[object, ...]]:
    """The server's text as the target must hold it: the text itself over 38 digits, else its
    number (DuckDB's own text of DECIMAL(1,1) 0.5 is ``.5``, so numbers are compared as numbers)."""
    return [
        tuple(v if p > MAX_ARROW_DECIMAL else Decimal(v) for (p, _), v in zip(TABLES[t], row, strict=True))
        for row in rows
    ]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=random_rows())
def test_every_decimal_lands_as_the_server_s_text_by_binlog_and_by_snapshot(
    request: pytest.FixtureRequest, mariadb: MariaDBServer, tmp_path: Path, drawn: list[list[Value]]
) -> None:
    pipeline = new_pipeline(request, mariadb, tmp_path)
    tables = "".join(f'  - name: "{{db}}.d{t}"\n' for t in range(len(TABLES)))
    pipeline.tables(f"tables:\n{tables}")
    for t, columns in enumerate(TABLES):
        pipeline.sql(
            f"CREATE TABLE d{t} (id INT PRIMARY KEY, {', '.join(f'{name(p, s)} DECIMAL({p},{s})' for p, s in columns)})"
        )
    rows = edge_rows() + drawn
    fill(pipeline, rows, 1, logged=False)
    pipeline.snapshot()
    fill(pipeline, rows, BINLOG_IDS + 1, logged=True)
    pipeline.run()

    for t in range(len(TABLES)):
        server = server_text(pipeline, t, len(rows))
        wide = [i for i, (p, _) in enumerate(TABLES[t]) if p > MAX_ARROW_DECIMAL]
        assert not [row[i] for row in server for i in wide if "E" in row[i]]  # the server's text has no exponent
        want = as_landed(server, t)
        by_snapshot = landed(pipeline, t, range(1, len(rows) + 1))
        by_binlog = landed(pipeline, t, range(BINLOG_IDS + 1, BINLOG_IDS + len(rows) + 1))
        for row, (snap, binlog, expected) in enumerate(zip(by_snapshot, by_binlog, want, strict=True)):
            for (p, s), a, b, e in zip(TABLES[t], snap, binlog, expected, strict=True):
                assert (a, b) == (e, e), f"DECIMAL({p},{s}) row {row + 1}: snapshot {a!r}, binlog {b!r}, server {e!r}"
