"""moto's standalone S3 server on loopback, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from s3rb_stream.testing.ports import free_port, port_open, terminate, wait_until

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "s3rb-test-key",
    "AWS_SECRET_ACCESS_KEY": "s3rb-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class MotoS3Server:
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoS3Server:
        self.port = self.port or free_port()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **TEST_CREDENTIALS},
            start_new_session=True,
        )

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._proc.returncode}; is moto[server] installed?")
            return port_open(self.port)

        wait_until(ready, timeout, f"moto S3 server on port {self.port}")
        return self

    def stop(self) -> None:
        terminate(self._proc, timeout=10)
        self._proc = None

    def __enter__(self) -> MotoS3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
