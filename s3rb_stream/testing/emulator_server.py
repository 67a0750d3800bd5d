"""The Redshift emulator as a running service: a throwaway PostgreSQL plus the emulator's wire
proxy in front of it (a separate process), for tests, benchmarks and fault runs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from s3rb_stream.testing.ports import free_port, port_open, terminate, wait_until
from s3rb_stream.testing.postgres import PostgresServer


@dataclass
class RedshiftEmulatorServer:
    s3_endpoint_url: str
    port: int = 0
    isolation: str = "snapshot"  # of the database until ALTER DATABASE ... ISOLATION LEVEL changes it
    _postgres: PostgresServer | None = None
    _proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> RedshiftEmulatorServer:
        self._postgres = PostgresServer().start()
        self.port = self.port or free_port()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s3rb_stream.testing.redshift_emulator",
                "--port",
                str(self.port),
                "--pg-dsn",
                self._postgres.dsn,
                "--s3-endpoint-url",
                self.s3_endpoint_url,
                "--isolation",
                self.isolation,
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), timeout, "redshift emulator")
        return self

    def stop(self) -> None:
        terminate(self._proc, timeout=10)
        self._proc = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None

    def __enter__(self) -> RedshiftEmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
