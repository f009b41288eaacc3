"""Loop affinity: every DataFlow instance owns one event loop on a daemon thread.

Async drivers bind a connection to the loop that opened it. Kailash calls nodes from
different loops (LocalRuntime's own loop, a fresh loop per workflow when called inside a
running loop, or the caller's loop under AsyncLocalRuntime), so all database I/O of an
instance runs on its home loop and callers hand coroutines over to it.
"""

import asyncio
import threading
from collections.abc import Coroutine


class HomeLoop:
    def __init__(self, name: str):
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name=self._name, daemon=True)
                self._thread.start()
            return self._loop

    def on_home_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    async def run(self, coro: Coroutine):
        """Await `coro` on the home loop from any loop (directly when already there)."""
        if self.on_home_thread():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def run_sync(self, coro: Coroutine):
        """Run `coro` on the home loop and block until it finishes (for synchronous callers)."""
        if self.on_home_thread():
            coro.close()
            raise RuntimeError("a synchronous DataFlow call was made from its own event loop; await it instead")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout=10)
        loop.close()
