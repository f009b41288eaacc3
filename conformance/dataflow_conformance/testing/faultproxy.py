"""A fault-injecting TCP proxy between an implementation and its database server (loopback only).

The proxy forwards bytes both ways on its own event loop thread. Tests arm faults on it:
`cut_all()` drops every open connection now; `cut_on(pattern)` drops a connection right after the
client sends bytes containing `pattern` (the statement reaches the server, its answer never comes
back); `cut_after(n)` drops it once the client has sent `n` more bytes (mid-stream, e.g. inside a
bulk write); `delay(seconds)` holds every answer from the server back for that long.
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
        self._loop.call_soon_threadsafe(setattr, self, "_pattern", pattern)

    def cut_after(self, byte_count: int) -> None:
        """Drop the connection that carries the client's next `byte_count` bytes, mid-stream."""
        self._loop.call_soon_threadsafe(setattr, self, "_bytes_left", byte_count)

    def delay(self, seconds: float) -> None:
        """Hold every answer of the server back for `seconds` (0 ends the delay for new answers)."""
        self._loop.call_soon_threadsafe(setattr, self, "_delay", seconds)

    def clear(self) -> None:
        for name in ("_pattern", "_bytes_left"):
            self._loop.call_soon_threadsafe(setattr, self, name, None)
        self.delay(0)

    @property
    def armed(self) -> bool:
        """Whether a cut_on / cut_after fault is still waiting to fire."""
        return self._pattern is not None or self._bytes_left is not None

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
        while not pipe.closed:
            try:
                chunk = await reader.read(_CHUNK)
            except (ConnectionError, OSError):
                break
            if not chunk:
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

    def cut(self) -> None:
        if not self.closed:
            self.closed = True
            for writer in self.writers:
                writer.transport.abort()  # no orderly shutdown: like a network failure
