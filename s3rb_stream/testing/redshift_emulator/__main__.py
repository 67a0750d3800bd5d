"""``python -m s3rb_stream.testing.redshift_emulator --port P --pg-dsn DSN``"""

from __future__ import annotations

import argparse
import asyncio

from s3rb_stream.testing.redshift_emulator.proxy import EmulatorProxy, StatementDelay


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
    args = parser.parse_args()

    async def serve() -> None:
        proxy = EmulatorProxy(
            args.pg_dsn,
            args.port,
            s3_endpoint_url=args.s3_endpoint_url,
            statement_delay=StatementDelay.parse(args.statement_delay),
        )
        port = await proxy.start()
        print(f"redshift emulator listening on 127.0.0.1:{port} → {args.pg_dsn}", flush=True)
        await proxy.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
