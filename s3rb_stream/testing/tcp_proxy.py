"""A TCP proxy for fault tests: relays bytes, and cuts the connection when told to.

``cut_on`` is a byte string; while it is set, any connection whose client sends a chunk
containing it is closed on both sides at that moment, before the chunk reaches the server.
``cut_after_bytes``: while ``cuts_left`` > 0, a connection that has relayed that many bytes from the
server is closed mid-stream (a long binlog stream, not the short metadata queries).
``set_down(True)``: the service looks down: open connections are cut, new ones closed at once.
``cut_after_commit_of`` is a byte string; once a client has sent a chunk containing it, the server's
answer to its next COMMIT is never relayed and the connection is cut: a commit that succeeded,
seen by the client as a dropped connection (once per setting).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

from s3rb_stream.testing.ports import free_port


@dataclass
class CuttingProxy:
    target_port: int
    port: int = 0
    cut_on: bytes | None = None
    cut_after_bytes: int | None = None
    cuts_left: int = 0
    cuts: int = 0
    down: bool = False
    cut_after_commit_of: bytes | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> CuttingProxy:
        self.port = self.port or free_port()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()

        async def main() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            self._ready.set()
            async with server:
                await server.serve_forever()

        with contextlib.suppress(RuntimeError):  # stopped
            self._loop.run_until_complete(main())

    def set_down(self, down: bool) -> None:
        self.down = down
        if down and self._loop is not None:
            self._loop.call_soon_threadsafe(self._cut_all)

    def _cut_all(self) -> None:
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.close()
        self._open.clear()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.down:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self._open.update((client_w, server_w))

        armed = asyncio.Event()  # the client sent cut_after_commit_of: its next COMMIT's answer is lost

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if self.cut_on is not None and self.cut_on in data:
                    self.cuts += 1
                    break
                if self.cut_after_commit_of is not None and self.cut_after_commit_of in data:
                    armed.set()
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            relayed = 0
            while data := await server_r.read(65536):
                if armed.is_set() and b"COMMIT\x00" in data:  # CommandComplete: the server has committed
                    self.cut_after_commit_of = None
                    self.cuts += 1
                    break
                relayed += len(data)
                if self.cut_after_bytes is not None and self.cuts_left > 0 and relayed > self.cut_after_bytes:
                    self.cuts_left -= 1
                    self.cuts += 1
                    break
                client_w.write(data)
                await client_w.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, server_w):
            self._open.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> CuttingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
