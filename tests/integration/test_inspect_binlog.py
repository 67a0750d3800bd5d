"""``s3rb-stream inspect-binlog`` on a binlog file the test MariaDB wrote: every value it prints
is the server's own (read back as text), in the documented formats; positions are the rows
events' starts; an ALTER in the file is followed from the next table map."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

from s3rb_stream.sources import mysql_meta
from s3rb_stream.sources.binlog_file import HEADER
from s3rb_stream.testing.mariadb import MariaDBServer

COLUMNS = [
    ("id", "INT PRIMARY KEY"), ("u", "BIGINT UNSIGNED"), ("d", "DECIMAL(10,4)"), ("w", "DECIMAL(65,30)"),
    ("fl", "FLOAT"), ("db", "DOUBLE"), ("dt", "DATE"), ("f1", "DATETIME(1)"), ("f6", "DATETIME(6)"),
    ("ts", "TIMESTAMP(3) NULL"), ("t3", "TIME(3)"), ("e", "ENUM('x','y','zz')"), ("s", "SET('a','b','c')"),
    ("l1", "VARCHAR(20) CHARACTER SET latin1"), ("tx", "TEXT"), ("y", "YEAR"), ("bt", "BIT(5)"),
    ("bn", "BINARY(3)"), ("vb", "VARBINARY(10)"), ("bl", "BLOB"), ("j", "JSON"),  # MariaDB: JSON is text
]  # fmt: skip
ROWS = [
    "(1, 18446744073709551615, -12.3456, -12345678901234567890123456789012345.123456789012345678901234567890,"
    " 0.1, 1.5e300, '2020-02-29', '2020-02-29 23:59:59.9', '1999-12-31 23:59:59.123456', '2001-01-01 00:00:00.1',"
    " '-838:59:59.999', 'zz', 'a,c', 'déjà vu', 'ß😀', 2000, b'10110', 'a', x'00ff', x'000102', '{\"k\": [1, null]}')",
    "(2, 0, 0.0001, 0, -3.25, -0.5, '1000-01-01', '1000-01-01 00:00:00.0', '9999-12-31 23:59:59.999999',"
    " '2038-01-19 03:14:07.999', '00:00:00.000', 'x', '', '', '', 1901, b'0', x'000102', '', '', '\"s\"')",
    "(3" + ", NULL" * (len(COLUMNS) - 1) + ")",
]
ROWS_EVENTS = {0x17, 0x18, 0x19, 0x1E, 0x1F, 0x20}


def server_text(mariadb: MariaDBServer, db: str) -> dict[int, dict[str, Any]]:
    """Each row as the server writes it out: text, HEX for bytes, numbers for BIT, UTC for TIMESTAMP."""
    exprs = []
    for name, sql_type in COLUMNS:
        kind = sql_type.split("(")[0].split()[0]
        if kind in ("BINARY", "VARBINARY", "BLOB"):
            exprs.append(f"HEX(`{name}`)")
        elif kind == "BIT":
            exprs.append(f"`{name}` + 0")
        elif kind in ("FLOAT", "DOUBLE"):
            exprs.append(f"`{name}`")
        else:
            exprs.append(f"CAST(`{name}` AS CHAR)")
    conn = mariadb.connect(db)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"SELECT {', '.join(exprs)} FROM t ORDER BY id")
        found = cur.fetchall()
    conn.close()
    names = [name for name, _ in COLUMNS]
    return {int(row[0]): dict(zip(names, row, strict=True)) for row in found}


def comparable(name: str, printed: Any) -> Any:
    """What inspect-binlog printed, in the server's spelling (formats: docs/mysql.md)."""
    kind = dict(COLUMNS)[name].split("(")[0].split()[0]
    if printed is None:
        return None
    if kind in ("BINARY", "VARBINARY", "BLOB"):
        return base64.b64decode(printed).hex().upper()
    if kind in ("DATETIME", "TIMESTAMP"):
        assert printed[10] == "T" and printed.endswith("Z") == (kind == "TIMESTAMP")
        return printed.replace("T", " ").rstrip("Z")
    if kind in ("INT", "BIGINT", "YEAR"):
        return str(printed)
    return printed


def test_a_mariadb_binlog_file_prints_the_server_s_values(mariadb: MariaDBServer) -> None:
    db = "inspect_file"
    columns = ", ".join(f"`{name}` {sql_type}" for name, sql_type in COLUMNS)
    mariadb.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t ({columns})", "FLUSH BINARY LOGS")
    conn = mariadb.connect(db)
    start = mysql_meta.current_position(conn)
    with conn.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute(f"INSERT INTO t VALUES {', '.join(ROWS)}")
    expected = server_text(mariadb, db)
    with conn.cursor() as cur:
        cur.execute("UPDATE t SET d = -d, e = 'y' WHERE id = 1")
        cur.execute("DELETE FROM t WHERE id = 3")
        cur.execute("ALTER TABLE t ADD COLUMN extra INT")
        cur.execute("INSERT INTO t (id, extra) VALUES (4, 44)")
        cur.execute("FLUSH BINARY LOGS")  # the file is complete and closed
    conn.close()
    assert mariadb.basedir is not None
    path = mariadb.basedir / "data" / start.file
    done = subprocess.run(
        [sys.executable, "-m", "s3rb_stream", "inspect-binlog", str(path), "--table", f"{db}.t"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    rows = [line for line in lines if "op" in line]
    assert [(r["op"], (r["after"] or r["before"])["id"]) for r in rows] == [
        ("insert", 1), ("insert", 2), ("insert", 3), ("update", 1), ("delete", 3), ("insert", 4),
    ]  # fmt: skip
    for r in rows[:3]:
        after = r["after"]
        assert list(after) == [name for name, _ in COLUMNS]  # names from the table map (binlog_row_metadata=FULL)
        assert {n: comparable(n, v) for n, v in after.items()} == expected[after["id"]], after["id"]
    update = rows[3]
    assert update["before"]["d"] == "-12.3456" and update["after"]["d"] == "12.3456"
    assert (update["before"]["e"], update["after"]["e"]) == ("zz", "y")
    assert rows[4]["before"] == rows[2]["after"]
    assert rows[5]["after"]["extra"] == 44 and rows[5]["after"]["w"] is None  # the ALTER's new column
    ddl = [line for line in lines if "ddl" in line]
    assert [line["ddl"] for line in ddl] == ["ALTER TABLE t ADD COLUMN extra INT"] and ddl[0]["schema"] == db

    data = path.read_bytes()  # each position is its rows event's start, as mysqlbinlog's "# at"
    for r in rows:
        file, offset = r["position"].rsplit(":", 1)
        assert file == start.file
        assert HEADER.unpack_from(data, int(offset))[1] in ROWS_EVENTS
    assert all(r["gtid"] and r["gtid"].startswith("0-1-") for r in rows)  # MariaDB domain-server-seq
