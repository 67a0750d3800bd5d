"""The fault-injection suite's figures: fault, trials, load, rows lost, rows duplicated, time to recover.

    .venv/bin/python -m bench.faults            # the full variant (about 20 minutes)
    .venv/bin/python -m bench.faults --short    # what CI runs in tests/faults (a few minutes)
    .venv/bin/python -m bench.faults --only crash|outage
    .venv/bin/python -m bench.faults --point store.write --trials 8 --kills 4 --seed 21   # one point, harder

Starts its own MariaDB, moto S3 server and Redshift emulator; runs the real daemon as a subprocess
under a sustained write load of inserts, updates and deletes on four tables; kills it (``kill -9``)
at each named fault point and at random moments, and takes MariaDB, the binlog connection, S3 and
the warehouse away; then compares source and target row by row. Prints the table, and exits 1 if
any row was lost or duplicated.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from s3rb_stream.faultpoints import POINTS
from s3rb_stream.testing.faults import (
    FULL,
    OUTAGES,
    SHORT,
    FaultResult,
    Variant,
    crash_trials,
    disk_full_trial,
    format_table,
    outage_rig,
    outage_trial,
)
from s3rb_stream.testing.mariadb import MariaDBServer


def run_crashes(workdir: Path, variant: Variant) -> list[FaultResult]:
    results = []
    with MariaDBServer() as server:
        for point in POINTS:
            results.append(crash_trials(workdir, server, point, variant.point_trials, variant.point_kills))
            print(format_table(results[-1:]), flush=True)
        results.append(crash_trials(workdir, server, None, variant.random_trials, variant.random_kills))
        print(format_table(results[-1:]), flush=True)
        results.append(disk_full_trial(workdir, server, variant.disk_full_seconds))
        print(format_table(results[-1:]), flush=True)
    return results


def run_outages(workdir: Path, variant: Variant) -> list[FaultResult]:
    results = []
    with outage_rig(workdir) as rig:
        for point in ("load.copy", "load.merge"):
            trials, kills = variant.point_trials, variant.point_kills
            results.append(crash_trials(workdir, rig.server, point, trials, kills, prefix="rs_crash", rig=rig))
            print(format_table(results[-1:]), flush=True)
        for fault in OUTAGES:
            results.append(outage_trial(rig, fault, variant.outage_seconds[fault]))
            print(format_table(results[-1:]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the CI variant")
    parser.add_argument("--only", choices=["crash", "outage"])
    parser.add_argument("--point", choices=POINTS, help="only kill -9 at this fault point (DuckDB path)")
    parser.add_argument("--trials", type=int, default=3, help="with --point")
    parser.add_argument("--kills", type=int, default=3, help="kills per trial, with --point")
    parser.add_argument("--seed", type=int, default=7, help="with --point")
    args = parser.parse_args()
    variant = SHORT if args.short else FULL
    results: list[FaultResult] = []
    workdir = Path(tempfile.mkdtemp(prefix="s3rb-faults-"))
    if args.point:
        with MariaDBServer() as server:
            results.append(crash_trials(workdir, server, args.point, args.trials, args.kills, seed=args.seed))
    elif args.only in (None, "crash"):
        results += run_crashes(workdir, variant)
    if not args.point and args.only in (None, "outage"):
        results += run_outages(workdir, variant)
    print()
    print(format_table(results))
    if not all(r.ok for r in results):
        for result in results:
            for detail in result.details:
                print(f"{result.fault}: {detail}", file=sys.stderr)
        print(f"\nrows were lost or duplicated; the trials' stores, targets and daemon logs are in {workdir}",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
