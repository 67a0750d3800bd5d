"""VARCHAR compared as Redshift compares it: trailing blanks are insignificant ("Character types",
"Significance of trailing blanks"), so ``'a' = 'a '``, and the two are one group, one window
partition, one join key. PostgreSQL's VARCHAR compares them as different strings.

The emulator gives PostgreSQL's ``varchar`` its own comparison operators and default btree and hash
operator classes, which compare the values without their trailing blanks. PostgreSQL has none for
``varchar`` (it borrows ``text``'s), so these are the exact match that operator resolution, ORDER
BY, GROUP BY, DISTINCT, PARTITION BY and joins pick for two ``varchar`` values (or one and a
literal). Lengths still count the blanks, as Redshift's do for VARCHAR. They are created once in
the database the emulator serves, in ``public``: a session whose search_path leaves ``public`` out
compares as PostgreSQL does, and so does a ``varchar`` compared with a ``text`` value.
"""

from __future__ import annotations

FUNCTIONS = {
    "cmp": ("integer", "bttextcmp(rtrim($1, ' '), rtrim($2, ' '))"),
    "eq": ("boolean", "rtrim($1, ' ') = rtrim($2, ' ')"),
    "ne": ("boolean", "rtrim($1, ' ') <> rtrim($2, ' ')"),
    "lt": ("boolean", "rtrim($1, ' ') < rtrim($2, ' ')"),
    "le": ("boolean", "rtrim($1, ' ') <= rtrim($2, ' ')"),
    "gt": ("boolean", "rtrim($1, ' ') > rtrim($2, ' ')"),
    "ge": ("boolean", "rtrim($1, ' ') >= rtrim($2, ' ')"),
}
# operator, function, commutator, negator, selectivity estimators
OPERATORS = (
    ("=", "eq", "=", "<>", "eqsel", "eqjoinsel", ", HASHES, MERGES"),
    ("<>", "ne", "<>", "=", "neqsel", "neqjoinsel", ""),
    ("<", "lt", ">", ">=", "scalarltsel", "scalarltjoinsel", ""),
    ("<=", "le", ">=", ">", "scalarlesel", "scalarlejoinsel", ""),
    (">", "gt", "<", "<=", "scalargtsel", "scalargtjoinsel", ""),
    (">=", "ge", "<=", "<", "scalargesel", "scalargejoinsel", ""),
)
OPCLASS = "s3rb_rs_varchar_ops"


def setup_statements() -> list[str]:
    """What makes ``varchar`` compare without trailing blanks; idempotent."""
    out = [
        f"CREATE OR REPLACE FUNCTION public.s3rb_rs_varchar_{name}(varchar, varchar) RETURNS {result}"
        f" LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT {body} $$"
        for name, (result, body) in FUNCTIONS.items()
    ]
    out.append(
        "CREATE OR REPLACE FUNCTION public.s3rb_rs_varchar_hash(varchar) RETURNS integer"
        " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT hashtext(rtrim($1, ' ')) $$"
    )
    operators = "\n".join(
        f"  CREATE OPERATOR public.{op} (LEFTARG = varchar, RIGHTARG = varchar,"
        f" FUNCTION = public.s3rb_rs_varchar_{fn}, COMMUTATOR = OPERATOR(public.{com}),"
        f" NEGATOR = OPERATOR(public.{neg}), RESTRICT = {rest}, JOIN = {join}{extra});"
        for op, fn, com, neg, rest, join, extra in OPERATORS
    )
    out.append(
        "DO $s3rb$ BEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_opclass WHERE opcname = '{OPCLASS}') THEN RETURN; END IF;\n"
        f"{operators}\n"
        f"  CREATE OPERATOR CLASS public.{OPCLASS} DEFAULT FOR TYPE varchar USING btree AS"
        " OPERATOR 1 public.<, OPERATOR 2 public.<=, OPERATOR 3 public.=, OPERATOR 4 public.>=,"
        " OPERATOR 5 public.>, FUNCTION 1 public.s3rb_rs_varchar_cmp(varchar, varchar);\n"
        f"  CREATE OPERATOR CLASS public.{OPCLASS}_hash DEFAULT FOR TYPE varchar USING hash AS"
        " OPERATOR 1 public.=, FUNCTION 1 public.s3rb_rs_varchar_hash(varchar);\n"
        "END $s3rb$"
    )
    return out


def prepare(pg_dsn: str) -> None:
    """Create the comparison in the database at ``pg_dsn`` (once; later calls change nothing)."""
    import psycopg  # the emulator is test tooling: psycopg comes with the dev extra

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7345001)")  # two emulators starting on one database
        try:
            for statement in setup_statements():
                conn.execute(statement.encode())
        finally:
            conn.execute("SELECT pg_advisory_unlock(7345001)")
