"""A fault-injecting TCP proxy between an implementation and its database server (loopback only).

The proxy forwards bytes both ways on its own event loop thread. Tests arm faults on it:
`cut_all()` drops every open connection now; `cut_on(pattern)` drops a connection right after the
client sends bytes containing `pattern` (the statement reaches the server, its answer never comes
back); `cut_after(n)` drops it once the client has sent `n` more bytes (mid-stream, e.g. inside a
bulk write); `drop_answer_to(pattern)` lets the statement run and drops the connection when its
answer comes (a COMMIT that took effect unheard of); `delay(seconds)` holds every answer from the server
back for that long.
"""

import asyncio
import threading

_CHUNK = 65536


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.port: int | None = None
        self.connections_seen = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dfc-fault-proxy", daemon=True)
        self._server = None
        self._open: set[_Pipe] = set()
        self._handlers: set[asyncio.Task] = set()
        self._pattern: bytes | None = None
        self._bytes_left: int | None = None
        self._answer_pattern: bytes | None = None
        self._answer_hold = 0.0
        self._armed = 0  # counts armings: bytes sent before a pattern was armed never match it
        self._delay = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "FaultProxy":
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _shutdown(self):
        self._server.close()
        for pipe in list(self._open):
            pipe.cut()
        for handler in self._handlers:
            handler.cancel()  # a pump may be sleeping out a delay
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    # -- faults (called from the test's thread) -------------------------------------------------

    def cut_all(self) -> int:
        """Drop every open connection now; returns how many were dropped."""

        async def cut():
            pipes = list(self._open)
            for pipe in pipes:
                pipe.cut()
            return len(pipes)

        return self._call(cut())

    def cut_on(self, pattern: bytes) -> None:
        """Drop the next connection whose client sends `pattern`, right after forwarding it."""

        def arm():
            self._pattern, self._armed = pattern, self._armed + 1

        self._loop.call_soon_threadsafe(arm)

    def cut_after(self, byte_count: int) -> None:
        """Drop the connection that carries the client's next `byte_count` bytes, mid-stream."""
        self._loop.call_soon_threadsafe(setattr, self, "_bytes_left", byte_count)

    def drop_answer_to(self, pattern: bytes, *, after: float = 0.0) -> None:
        """The next connection whose client sends `pattern`: the statement reaches the server and runs, and
        the server's answer is held `after` seconds, then dropped with the connection."""

        def arm():
            self._answer_pattern, self._answer_hold, self._armed = pattern, after, self._armed + 1

        self._loop.call_soon_threadsafe(arm)

    def delay(self, seconds: float) -> None:
        """Hold every answer of the server back for `seconds` (0 ends the delay for new answers)."""
        self._loop.call_soon_threadsafe(setattr, self, "_delay", seconds)

    def clear(self) -> None:
        for name in ("_pattern", "_bytes_left", "_answer_pattern"):
            self._loop.call_soon_threadsafe(setattr, self, name, None)
        self.delay(0)

    @property
    def armed(self) -> bool:
        """Whether a cut_on / cut_after / drop_answer_to fault is still waiting to fire."""
        return self._pattern is not None or self._bytes_left is not None or self._answer_pattern is not None

    # -- forwarding --------------------------------------------------------------------------

    async def _accept(self, client_reader, client_writer):
        self._handlers.add(asyncio.current_task())
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            self._handlers.discard(asyncio.current_task())
            return
        self.connections_seen += 1
        pipe = _Pipe(client_writer, server_writer)
        self._open.add(pipe)
        try:
            await asyncio.gather(
                self._pump(client_reader, server_writer, pipe, from_client=True),
                self._pump(server_reader, client_writer, pipe, from_client=False),
            )
        except asyncio.CancelledError:
            pass  # stop(): the connection ends here (asyncio would log a cancelled connection handler)
        finally:
            pipe.cut()
            self._open.discard(pipe)
            self._handlers.discard(asyncio.current_task())

    async def _pump(self, reader, writer, pipe, *, from_client: bool):
        try:
            await self._forward(reader, writer, pipe, from_client=from_client)
        finally:
            pipe.cut()  # one side closed: close the other too (a client waiting for the server to hang up)

    async def _forward(self, reader, writer, pipe, *, from_client: bool):
        tail = b""  # the end of the previous chunk, so a pattern split across reads is still seen
        armed = self._armed
        while not pipe.closed:
            try:
                chunk = await reader.read(_CHUNK)
            except (ConnectionError, OSError):
                break
            if not chunk:
                break
            if armed != self._armed:  # a pattern armed since the previous chunk: only new bytes count
                tail, armed = b"", self._armed
            if not from_client and pipe.answer_hold is not None:  # the answer of drop_answer_to's statement
                await asyncio.sleep(pipe.answer_hold)
                pipe.cut()
                break
            if not from_client and self._delay:
                await asyncio.sleep(self._delay)
            if pipe.closed:
                break
            if from_client and self._bytes_left is not None:
                if len(chunk) >= self._bytes_left:
                    writer.write(chunk[: self._bytes_left])
                    self._bytes_left = None
                    pipe.cut()
                    break
                self._bytes_left -= len(chunk)
            writer.write(chunk)
            if from_client and self._pattern is not None and self._pattern in tail + chunk:
                self._pattern = None
                try:
                    await writer.drain()  # the statement reaches the server ...
                finally:
                    pipe.cut()  # ... and its answer never comes back
                break
            if from_client and self._answer_pattern is not None and self._answer_pattern in tail + chunk:
                self._answer_pattern = None
                pipe.answer_hold = self._answer_hold
            tail = chunk[-256:]
            try:
                await writer.drain()
            except (ConnectionError, OSError):
                break


class _Pipe:
    """Both sockets of one proxied connection."""

    def __init__(self, client_writer, server_writer):
        self.writers = (client_writer, server_writer)
        self.closed = False
        self.answer_hold: float | None = None  # drop_answer_to: hold the server's next answer, then cut

    def cut(self) -> None:
        if not self.closed:
            self.closed = True
            for writer in self.writers:
                writer.transport.abort()  # no orderly shutdown: like a network failure
