"""``python -m s3rb_stream.testing.local_redshift``: a Redshift stand-in on this machine, for trying
the Redshift target without a cluster: a throwaway PostgreSQL, moto's S3 server with a bucket, and
the Redshift emulator in front of the PostgreSQL, as the tests start them. It writes the settings
that point s3rb-stream at them to an env file (``source`` it), and stops everything on Ctrl-C or
SIGTERM, leaving nothing behind. Nothing here is for production: see docs/redshift.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

import boto3

from s3rb_stream.testing.emulator_server import RedshiftEmulatorServer
from s3rb_stream.testing.s3server import TEST_CREDENTIALS, MotoS3Server

BUCKET = "local-redshift"


def settings_lines(s3: MotoS3Server, emulator: RedshiftEmulatorServer) -> list[str]:
    """The environment that points s3rb-stream at the stand-ins."""
    return [
        *(f"export {name}={value}" for name, value in TEST_CREDENTIALS.items()),
        f"export S3RB_S3_ENDPOINT_URL={s3.endpoint_url}",
        f"export S3RB_STORE_URL=s3://{BUCKET}/cdc",
        f"export S3RB_WAREHOUSE_URL='redshift://postgres:local@127.0.0.1:{emulator.port}/postgres?ssl=false'",
        "export S3RB_REDSHIFT_IAM_ROLE=arn:aws:iam::123456789012:role/local-redshift",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--env-file", default="local-redshift.env", help="where to write the settings to source")
    parser.add_argument("--port", type=int, default=0, help="the emulator's port (default: a free one)")
    args = parser.parse_args(argv)
    env_file = Path(args.env_file).resolve()
    env_file.unlink(missing_ok=True)  # a file left by an earlier run points at servers that are gone
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with MotoS3Server() as s3:
        os.environ.update(TEST_CREDENTIALS)
        boto3.client("s3", endpoint_url=s3.endpoint_url).create_bucket(Bucket=BUCKET)
        with RedshiftEmulatorServer(s3.endpoint_url, port=args.port) as emulator:
            env_file.write_text("\n".join(settings_lines(s3, emulator)) + "\n")
            print(f"local Redshift stand-in ready: source {env_file}   (Ctrl-C stops it)", flush=True)
            stop.wait()
    env_file.unlink(missing_ok=True)
    print("local Redshift stand-in stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
