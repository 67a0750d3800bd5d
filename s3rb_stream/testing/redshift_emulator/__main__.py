"""``python -m s3rb_stream.testing.redshift_emulator --port P --pg-dsn DSN``"""

from __future__ import annotations

import argparse
import asyncio
import sys

import psycopg

from s3rb_stream.testing.redshift_emulator import cluster
from s3rb_stream.testing.redshift_emulator.proxy import EmulatorProxy, StatementDelay
from s3rb_stream.testing.redshift_emulator.translate import Refused


def _cluster_version(text: str) -> str:
    try:
        return cluster.parse_cluster_version(text)
    except Refused as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main() -> None:
    parser = argparse.ArgumentParser(description="Redshift emulator: a wire proxy in front of PostgreSQL")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pg-dsn", required=True, help="postgresql://user@host:port/db of the real PostgreSQL")
    parser.add_argument("--s3-endpoint-url", default=None, help="S3 endpoint that COPY reads from")
    parser.add_argument(
        "--statement-delay",
        default="0",
        help="'<seconds> [<regex>]': statements matching the regex (default: all) wait this long, as on a slow"
        " warehouse; also settable while running with SET s3rb_emulator.statement_delay TO '...'",
    )
    parser.add_argument(
        "--isolation",
        choices=cluster.LEVELS,
        default=cluster.SNAPSHOT,
        help="isolation level of every database until ALTER DATABASE ... ISOLATION LEVEL changes it"
        " (default snapshot, as new Redshift clusters and Serverless have)",
    )
    parser.add_argument(
        "--cluster-version",
        type=_cluster_version,
        default=cluster.CLUSTER_VERSION,
        help="what SELECT version() names; also settable with SET s3rb_emulator.cluster_version TO '...'",
    )
    args = parser.parse_args()

    async def serve() -> None:
        proxy = EmulatorProxy(
            args.pg_dsn,
            args.port,
            s3_endpoint_url=args.s3_endpoint_url,
            statement_delay=StatementDelay.parse(args.statement_delay),
            isolation=args.isolation,
            cluster_version=args.cluster_version,
        )
        port = await proxy.start()
        print(f"redshift emulator listening on 127.0.0.1:{port} → {args.pg_dsn}", flush=True)
        await proxy.serve_forever()

    try:
        asyncio.run(serve())
    except (OSError, psycopg.OperationalError) as exc:  # PostgreSQL is not there: said at start, in one line
        print(f"error: the Redshift emulator cannot reach PostgreSQL at {args.pg_dsn} ({_first_line(exc)});"
              " start PostgreSQL there, or run python -m s3rb_stream.testing.local_redshift, which starts"
              " a throwaway one", file=sys.stderr)  # fmt: skip
        sys.exit(2)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


if __name__ == "__main__":
    main()
