"""``s3rb-stream``: parse, build settings, call the pipeline. Errors become one line.

Exit codes, one rule for every command (docs/commands.md): 0 done; 1 the command ran and found
problems (``check``'s FAIL lines, ``status`` with a part it could not read, a roundtrip that
differs); 2 it could not run (bad settings, a source, store or warehouse it needs is not there);
3 it ran, but tables are quarantined; 143 stopped by a signal, its progress saved."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from s3rb_stream import log as logging_setup
from s3rb_stream.errors import ConfigError, S3rbError, Stopped
from s3rb_stream.settings import Settings, load_settings

if TYPE_CHECKING:
    from s3rb_stream.pipeline.types import RunResult

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CHECK_FAILED = 1  # the command ran and found problems
EXIT_ERROR = 2  # the command could not run
EXIT_QUARANTINED = 3  # the command ran to its end, but tables are quarantined: they are not captured
EXIT_STOPPED = 143  # a batch command stopped by SIGTERM/SIGINT between pages, its progress saved (128 + 15)


def exit_if_quarantined(settings: Settings, pipelines: list[tuple[str, str, set[str] | None]]) -> None:
    """Nothing silent: a batch command whose tables (``None``: every table) end quarantined says
    which and why, ending with a line that names them, and exits with :data:`EXIT_QUARANTINED`."""
    from s3rb_stream.core.quarantine import resnapshot_command
    from s3rb_stream.state.quarantines import active_quarantines
    from s3rb_stream.store import open_store

    store = open_store(settings)
    named = []
    for source_db, target_schema, only in pipelines:
        for table, quarantine in sorted(active_quarantines(store, source_db, target_schema).items()):
            if only is not None and table not in only:
                continue
            fix = resnapshot_command(source_db, target_schema, table)
            click.echo(
                f"{source_db}.{table} is quarantined: {quarantine.describe()}; after fixing the cause, run: {fix}",
                err=True,
            )
            named.append(f"{source_db}.{table}")
    if named:
        click.echo(f"quarantined, not captured: {', '.join(named)}", err=True)
        sys.exit(EXIT_QUARANTINED)


def run_summary(source_db: str, target_schema: str, result: RunResult | None = None) -> list[str]:
    """What ``run --until-caught-up`` did, per table: changes captured and rows loaded, and where
    capture stopped (the next run goes on from there)."""
    if result is None:
        return []
    where = f"caught up at binlog position {result.position}" if result.position else "no table on the binlog"
    lines = [f"{source_db} → {target_schema}: {where}"]
    names = list(dict.fromkeys([*result.tables, *result.captured, *result.loaded.per_table]))
    if names:
        lines.append(f"  {'table':30} {'captured':>12} {'loaded':>12}")
    for name in names:
        held = " (held back: quarantined)" if name in result.loaded.held_back else ""
        captured, loaded = result.captured.get(name, 0), result.loaded.rows_per_table.get(name, 0)
        lines.append(f"  {name:30} {captured:>12,} {loaded:>12,}{held}")
    batches = "batch" if result.loaded.batches == 1 else "batches"
    lines.append(f"loaded {result.loaded.rows:,} rows from {result.loaded.batches:,} {batches} into {target_schema}")
    return lines


def _settings() -> Settings:
    """Every command's start: its settings, the log, and the process-wide switches."""
    from s3rb_stream import process

    settings = load_settings()
    logging_setup.register_secrets(settings.secrets())
    logging_setup.configure(settings.log_format, settings.log_level)
    process.configure(settings)
    return settings


def friendly_errors(func: F) -> F:
    """Our errors print as ``error: <what> (<what to do>)`` on stderr, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Stopped as exc:
            click.echo(f"stopped: {exc}", err=True)
            sys.exit(EXIT_STOPPED)
        except S3rbError as exc:
            click.echo(f"error: {logging_setup._scrub(str(exc))}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def settings_epilog() -> str:
    """Every setting's variable, for ``--help``: the table in docs/configuration.md says what each does."""
    names = ", ".join(f"S3RB_{name.upper()}" for name in Settings.model_fields)
    return (
        f"Settings come from the environment (or a .env file in the working directory): {names}."
        " S3RB_MYSQL_URL is required (except by demo). docs/configuration.md describes each."
    )


@click.group(epilog=settings_epilog())
@click.version_option(package_name="s3rb-stream")
def main() -> None:
    """Stream MySQL changes through Parquet on S3 into Redshift or DuckDB."""


@main.command()
@click.option("--source-db", default=None, help="Source database (MySQL schema); default: every pipeline listed.")
@click.option("--target-schema", default=None, help="Schema in the warehouse to load into.")
@click.option("--until-caught-up", is_flag=True, help="Capture up to the binlog position at start, load, exit 0.")
@click.option(
    "--start-position",
    type=click.Choice(["earliest", "current"]),
    default="earliest",
    show_default=True,
    help="Where a table with no checkpoint and no snapshot starts: the oldest binlog on the server, or now.",
)
@click.option("--standby", is_flag=True, help="If another instance writes this source schema, wait and take over.")
@friendly_errors
def run(
    source_db: str | None, target_schema: str | None, until_caught_up: bool, start_position: str, standby: bool
) -> None:
    """Capture one source schema (or every pipeline the tables file lists) and load it, as a daemon
    or until caught up."""
    from s3rb_stream.pipeline.runner import run as run_pipeline
    from s3rb_stream.pipeline.types import StopFlag

    settings = _settings()
    stop = StopFlag()
    stop.install()
    if source_db is None and target_schema is None:
        from s3rb_stream.pipeline.supervisor import supervise

        states = supervise(settings, stop, until_caught_up, start_position)  # type: ignore[arg-type]
        failed = [s for s in states if s.last_error]
        for state in failed:
            click.echo(f"error: {state.config.source_db} → {state.config.target_schema}: {state.last_error}", err=True)
        if failed:
            sys.exit(EXIT_ERROR)
        if until_caught_up:
            for state in states:
                for line in run_summary(state.config.source_db, state.config.target_schema, *state.results[-1:]):
                    click.echo(line)
            exit_if_quarantined(settings, [(s.config.source_db, s.config.target_schema, None) for s in states])
        return
    if source_db is None or target_schema is None:
        raise ConfigError("give both --source-db and --target-schema, or neither to run every listed pipeline")
    if until_caught_up:
        result = run_pipeline(settings, source_db, target_schema, True, start_position, stop, standby)  # type: ignore[arg-type]
        for line in run_summary(source_db, target_schema, result):
            click.echo(line)
        exit_if_quarantined(settings, [(source_db, target_schema, None)])
    else:
        from s3rb_stream.pipeline.supervisor import run_daemon

        run_daemon(settings, source_db, target_schema, stop, start_position, standby)  # type: ignore[arg-type]


@main.command()
@click.option("--source-db", required=True, help="Source database (MySQL schema).")
@click.option("--target-schema", required=True, help="Schema in the warehouse to load into.")
@click.option(
    "-t",
    "--table",
    "tables",
    multiple=True,
    help="Only this table (repeatable); default: every binlog table but append ones.",
)
@click.option("--restart", is_flag=True, help="Start over instead of resuming an interrupted snapshot.")
@click.option("--no-load", is_flag=True, help="Only write the objects; a running daemon loads them.")
@friendly_errors
def snapshot(source_db: str, target_schema: str, tables: tuple[str, ...], restart: bool, no_load: bool) -> None:
    """Bootstrap binlog tables, consistent with the binlog position streaming resumes from."""
    from s3rb_stream.commands.snapshot import snapshot as run_snapshot
    from s3rb_stream.pipeline.types import StopFlag

    settings = _settings()
    stop = StopFlag()
    stop.install()  # as PID 1 in a container: `docker stop` ends it after the page being written
    result = run_snapshot(
        settings, source_db, target_schema, tables, restart=restart, load=not no_load, stopping=lambda: stop.stopping
    )
    from s3rb_stream.core.snapshot_lock import DESCRIPTIONS

    click.echo(f"snapshot consistent with binlog position {result.position} ({DESCRIPTIONS[result.method]})")
    if not result.exact:
        click.echo(f"warning: {DESCRIPTIONS[result.method]}", err=True)
    for name, rows in result.rows.items():
        resumed = " (resumed)" if name in result.resumed else ""
        click.echo(f"  {name:30} {rows:>12,} rows{resumed}")
    for name, why in result.skipped.items():
        click.echo(f"  {name:30} skipped: {why}")
    if not no_load:
        click.echo(f"loaded {result.loaded.rows:,} rows into {target_schema}; run streams from the snapshot on")
    exit_if_quarantined(settings, [(source_db, target_schema, set(result.rows))])


@main.command()
@click.option("--source-db", required=True, help="Source database (MySQL schema).")
@click.option("--target-schema", required=True, help="Schema in the warehouse to load into.")
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable); default: all query tables.")
@click.option(
    "--no-load",
    is_flag=True,
    help="Only write the objects; the next run loads them. (Beside a running daemon, which syncs these"
    " tables itself, sync refuses.)",
)
@friendly_errors
def sync(source_db: str, target_schema: str, tables: tuple[str, ...], no_load: bool) -> None:
    """Run each hybrid or full_sync table's strategy once, then load."""
    from s3rb_stream.commands.sync import sync as run_sync
    from s3rb_stream.pipeline.types import StopFlag

    settings = _settings()
    stop = StopFlag()
    stop.install()
    result = run_sync(settings, source_db, target_schema, tables, load=not no_load, stopping=lambda: stop.stopping)
    for name, rows in result.rows.items():
        click.echo(f"  {name:30} {rows:>12,} rows read, {result.written.get(name, rows):,} written")
    if not no_load:
        click.echo(f"loaded {result.loaded.rows:,} rows into {target_schema}")
    exit_if_quarantined(settings, [(source_db, target_schema, set(result.rows))])


@main.command()
@click.option("--source-db", required=True, help="Source database (MySQL schema).")
@click.option("--target-schema", required=True, help="Schema in the warehouse it loads into.")
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable); default: every table.")
@click.option(
    "--repair",
    is_flag=True,
    help="Re-read the differing rows from the source and write them through the normal path"
    " (beside a running daemon, which loads them), then verify them again.",
)
@click.option("--report", "report_file", type=click.Path(dir_okay=False), help="Also write a JSON report here.")
@click.option(
    "--wait",
    "wait_seconds",
    default=120.0,
    show_default=True,
    help="Seconds to wait for the target to be complete up to the source's position.",
)
@friendly_errors
def verify(
    source_db: str,
    target_schema: str,
    tables: tuple[str, ...],
    repair: bool,
    report_file: str | None,
    wait_seconds: float,
) -> None:
    """Compare the target with the source by key ranges, correct while writes go on; exit code 1
    if they differ (with --repair: if they still differ after it)."""
    import json

    from s3rb_stream.commands.verify import verify as run_verify

    settings = _settings()
    result = run_verify(settings, source_db, target_schema, tables, repair=repair, wait_seconds=wait_seconds)
    click.echo(f"verify {source_db} → {target_schema}")
    click.echo(f"  {'table':30} {'rows':>12} {'ranges':>8} {'missing':>8} {'extra':>8} {'differ':>8}")
    for t in result.tables:
        kinds = t.by_kind()
        if t.skipped:
            click.echo(f"  {t.table:30} not verified: {t.skipped}")
            continue
        counts = " ".join(f"{len(kinds[k]):>8,}" for k in ("missing", "extra", "differs"))
        repaired = f"  ({t.repaired:,} rows repaired)" if t.repaired is not None else ""
        click.echo(f"  {t.table:30} {t.rows_source:>12,} {t.ranges:>8,} {counts}{repaired}")
    for t in result.tables:
        if t.differences:
            click.echo(f"{t.table}: {len(t.differences):,} difference(s) at binlog position {t.position}")
            for line in t.lines():
                click.echo(line)
    if report_file:
        document = {"source_db": source_db, "target_schema": target_schema, "equal": result.equal}
        document["tables"] = [t.to_json() for t in result.tables]
        with open(report_file, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
    if not result.equal:
        hint = "" if repair else "; run the same command with --repair to repair exactly those rows"
        click.echo(f"error: {target_schema} differs from {source_db}{hint}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    left = [t.table for t in result.tables if t.skipped]
    click.echo(f"ok: {target_schema} equals {source_db}" + (f" (not verified: {', '.join(left)})" if left else ""))


@main.command()
@click.option("--source-db", default=None, help="Source database (MySQL schema) to check.")
@click.option("--target-schema", default=None, help="Schema in the warehouse it loads into.")
@click.option(
    "--warehouse-roundtrip",
    is_flag=True,
    help="Instead: load a sample of every type through the store into a scratch schema of the warehouse,"
    " read it back, compare, drop it. Run it first against a new cluster.",
)
@friendly_errors
def check(source_db: str | None, target_schema: str | None, warehouse_roundtrip: bool) -> None:
    """Preflight, one ok/FAIL line per check: settings, tables file, the source, its grants and binlog
    settings, each table, the target's names, store, warehouse (or, with --warehouse-roundtrip, the
    store and warehouse end to end). Exit code 1 if a check failed, 2 if check itself could not run."""
    try:
        settings = _settings()
    except ConfigError as exc:  # a setting is a thing check checks: a problem found, not a failure to run
        click.echo(f"FAIL  settings: {logging_setup._scrub(str(exc))}")
        sys.exit(EXIT_CHECK_FAILED)
    if warehouse_roundtrip:
        from s3rb_stream.commands.roundtrip import warehouse_roundtrip as roundtrip

        report = roundtrip(settings, click.echo)
        if report.failed:
            click.echo("error: the warehouse roundtrip failed (see FAIL above)", err=True)
            sys.exit(EXIT_CHECK_FAILED)
        click.echo("ok: the store and the warehouse load, merge and return every type exactly")
        return
    if source_db is None or target_schema is None:
        raise ConfigError("give --source-db and --target-schema (or --warehouse-roundtrip)")
    from s3rb_stream.commands.check import check_pipeline

    checked = check_pipeline(settings, source_db, target_schema, click.echo)
    if checked.failed:
        click.echo(f"error: {len(checked.failed)} check(s) failed (see FAIL above)", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(f"ok: {source_db} is ready to stream into {target_schema}")


@main.command()
@click.option("--source-db", default=None, help="Only this source database.")
@click.option("--target-schema", default=None, help="Only this target schema.")
@friendly_errors
def status(source_db: str | None, target_schema: str | None) -> None:
    """Per source and table: checkpoint, lag, batches written and pending, last load, quarantines.
    Exit code 1 if the source, the store or the warehouse could not be read."""
    from s3rb_stream.commands.status import collect, render

    settings = _settings()
    found = collect(settings, source_db, target_schema)
    for line in render(found):
        click.echo(line)
    if found.problems:  # an unreachable source, store or warehouse: what is shown is incomplete
        sys.exit(EXIT_CHECK_FAILED)


@main.command("inspect-binlog")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--table", default=None, metavar="DB.TABLE", help="Only this table's row changes and DDL.")
def inspect_binlog(files: tuple[str, ...], table: str | None) -> None:
    """Print what capture makes of binlog FILES (one JSON object per row change or DDL statement,
    on stdout), with the values it loads. Needs no settings and no server. Exit code 2 at a damaged
    file, after everything before the damage; 1 if some rows could not be decoded."""
    from s3rb_stream.commands.inspect_binlog import inspect

    logging_setup.configure("auto", "info")
    sys.exit(inspect(files, table, sys.stdout, sys.stderr))


@main.command()
@click.option("--seconds", default=20.0, show_default=True, help="How long the sample writes go on.")
@click.option("--data-dir", default="data", show_default=True, help="Where the demo keeps MariaDB, objects and DuckDB.")
@friendly_errors
def demo(seconds: float, data_dir: str) -> None:
    """Start a local MariaDB with binlog, write to a sample schema, mirror it into DuckDB."""
    from s3rb_stream.commands.demo import run_demo

    run_demo(seconds, data_dir)  # its log lines go to a file it names, out of the dozen lines it prints


if __name__ == "__main__":
    main()
