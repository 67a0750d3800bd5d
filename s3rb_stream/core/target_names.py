"""Source names as a warehouse holds them: one rule per warehouse, checked before anything is written.

MySQL names are case-sensitive for tables (on Linux), may be up to 64 characters of up to 3 bytes
each, and may be anything a quoted identifier allows. The targets differ (docs/ARCHITECTURE.md,
"Names in the target"):

- **Redshift** folds a quoted name to lower case (``enable_case_sensitive_identifier`` is off by
  default, and users' own sessions and tools have it off), and keeps at most 127 bytes of a name.
  s3rb_stream creates and looks up every Redshift name in lower case, so ``Orders.createdAt``
  becomes ``orders.createdat``, and a user's unquoted ``SELECT createdAt FROM orders`` works.
  Its names must be printable UTF-8 ("Names and identifiers"), and a table name starting with
  ``#`` makes a temporary table, gone with the session: both are refused.
- **DuckDB** keeps the case it is given but matches names case-insensitively, and has no length
  limit. Its SQL names every table with the file's catalog, so a schema may be named like the file
  (``analytics`` in ``analytics.duckdb``), ``temp`` or ``system``; ``information_schema`` and
  ``pg_catalog`` are DuckDB's own and hold no table.

On both, names that differ only in case are the same name, so they collide. Names starting with
``_s3rb_`` are the pipeline's own (its columns, its control and staging tables) and are refused
in the source, which also keeps every alias in the generated SQL clear of source names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from s3rb_stream.core.scd2 import Scd2Spec
from s3rb_stream.core.schema import META_COLUMNS, SourceTable
from s3rb_stream.errors import ConfigError, SchemaError, listed

RESERVED_PREFIX = "_s3rb_"
REDSHIFT_MAX_NAME_BYTES = 127
DUCKDB_BUILT_IN_SCHEMAS = ("information_schema", "pg_catalog")  # its CREATE SCHEMA takes them, then CREATE TABLE fails


@dataclass(frozen=True)
class NameRules:
    warehouse: str  # for messages: "Redshift", "DuckDB"
    lower_case: bool  # create and look up names in lower case
    max_bytes: int | None = None
    reserved_schemas: frozenset[str] = frozenset()
    schema_hint: str = ""  # what to do about a reserved schema name
    temp_prefix: str | None = None  # a table (or schema) name starting with it means a temporary table
    printable_only: bool = False  # names hold printable characters only

    def name(self, name: str) -> str:
        """How the warehouse spells a source name."""
        return name.lower() if self.lower_case else name

    def table(self, table: SourceTable) -> SourceTable:
        """``table`` with every name spelled as the warehouse holds it."""
        if not self.lower_case:
            return table
        columns = tuple(
            replace(c, name=self.name(c.name), renamed_from=self.name(c.renamed_from) if c.renamed_from else None)
            for c in table.columns
        )
        keys = tuple(self.name(k) for k in table.key_columns)
        return SourceTable(table.database, self.name(table.name), columns, keys)

    def spec(self, spec: Scd2Spec | None) -> Scd2Spec | None:
        if spec is None or not self.lower_case:
            return spec
        n = self.name
        tracked = tuple(n(c) for c in spec.tracked)
        return Scd2Spec(tracked, n(spec.valid_from), n(spec.valid_to), n(spec.is_current), spec.untracked)

    def _fits(self, what: str, name: str, change: str) -> None:
        size = len(name.encode())
        if self.max_bytes is not None and size > self.max_bytes:
            raise SchemaError(
                f"{what} {name!r} has {size} bytes; {self.warehouse} names hold at most {self.max_bytes}"
                " and would cut it, so it could no longer be found",
                change,
            )

    def _means_the_same(self, what: str, name: str, change: str, table: bool = False) -> None:
        """A name the warehouse would take for something else: a temporary table, or not a name."""
        if self.temp_prefix and table and name.startswith(self.temp_prefix):
            raise SchemaError(
                f"{what} {name!r} starts with {self.temp_prefix!r}, which makes a temporary table in"
                f" {self.warehouse}, dropped at the end of each session: its rows would not stay",
                change,
            )
        if self.printable_only and not name.isprintable():
            shown = ", ".join(sorted({f"U+{ord(ch):04X}" for ch in name if not ch.isprintable()}))
            raise SchemaError(
                f"{what} {name!r} holds a character that is not printable ({shown});"
                f" {self.warehouse} names hold printable UTF-8 characters only",
                change,
            )

    def check_schema(self, schema: str) -> None:
        if schema.lower() in self.reserved_schemas:
            raise ConfigError(f"target schema {schema!r} cannot be used with {self.warehouse}: {self.schema_hint}")
        self._fits("target schema", schema, "choose a shorter --target-schema")
        self._means_the_same("target schema", schema, "choose another --target-schema", table=True)

    def check_table(self, table: SourceTable, spec: Scd2Spec | None = None) -> None:
        """Every name of ``table`` (and its SCD2 columns) can be created and found again, distinctly."""
        where = f"{table.database}.{table.name}"
        names = [table.name, *table.column_names]
        reserved = [n for n in names if n.lower().startswith(RESERVED_PREFIX)]
        if reserved:
            raise SchemaError(
                f"{where}: the name(s) {listed(reserved)} start with {RESERVED_PREFIX}, which s3rb_stream keeps for"
                " its own columns and tables",
                "rename them at the source, or leave the table out of the tables file",
            )
        rename = f"rename {where} at the source, or leave it out of the tables file"
        self._fits("table", table.name, rename)
        self._means_the_same("table", table.name, rename, table=True)
        for column in table.column_names:
            self._fits(f"column of {where}", column, "rename the column at the source")
            self._means_the_same(f"column of {where}", column, "rename the column at the source")
        own = list(META_COLUMNS) + (list(spec.version_columns) if spec is not None else [])
        seen: dict[str, str] = {}
        for name in [*table.column_names, *own]:
            folded = name.lower()
            if folded in seen:
                hint = (
                    "choose other names with scd2_valid_from_column, scd2_valid_to_column, scd2_current_column"
                    if name in own
                    else "rename one of them at the source"
                )
                raise SchemaError(
                    f"{where}: columns {seen[folded]!r} and {name!r} are one name in {self.warehouse},"
                    " which does not tell names apart by case",
                    hint,
                )
            seen[folded] = name

    def check_tables(self, tables: Iterable[SourceTable]) -> None:
        """Tables of one target schema that would be one table there."""
        seen: dict[str, str] = {}
        for table in tables:
            folded = table.name.lower()
            if folded in seen and seen[folded] != table.name:
                first, second = sorted((seen[folded], table.name))
                raise SchemaError(
                    f"tables {first!r} and {second!r} of {table.database} are one table in"
                    f" {self.warehouse}, which does not tell names apart by case",
                    "leave one of them out of the tables file, or load them into different target schemas",
                )
            seen[folded] = table.name


def redshift_rules() -> NameRules:
    return NameRules(
        "Redshift", lower_case=True, max_bytes=REDSHIFT_MAX_NAME_BYTES, temp_prefix="#", printable_only=True
    )


def duckdb_rules() -> NameRules:
    return NameRules(
        "DuckDB",
        lower_case=False,
        reserved_schemas=frozenset(DUCKDB_BUILT_IN_SCHEMAS),
        schema_hint="DuckDB keeps its own views under that name and creates no table there;"
        " choose another --target-schema",
    )
