"""Which event loop runs an instance's database I/O.

Async drivers bind a connection to the loop that opened it, so an instance keeps one connection
pool per loop it runs I/O on (database.py). An async caller (AsyncLocalRuntime, an ASGI app,
`await db.express...`) runs its I/O on its own loop, with no hand-off to another thread. The home
loop, the instance's own loop on a daemon thread started on first use, serves the callers that
cannot keep connections between calls on a loop of theirs:

- synchronous callers: `db.express_sync`, `create_tables()`, `health_check()`, `close()`;
- nodes run by LocalRuntime inside a running loop (a fresh thread and loop per workflow, closed without
  ending its tasks), and, on a server, every node LocalRuntime runs: its loop runs only while `execute()`
  does, and idle connections on a loop that is not running could not be closed to make room for others
  under the instance's connection limit. An embedded database has no such limit: from plain code,
  LocalRuntime's persistent loop does its nodes' I/O itself, one hand-off fewer per node;
- transaction scopes, which span calls from any loop and need a loop that runs their timeouts;
- an SQLite database in memory, which exists once, on one connection.
"""

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Coroutine

# Kailash's LocalRuntime, called inside a running loop, runs each workflow on a thread of this name
# with a loop that it closes without ending its tasks.
SYNC_BRIDGE_THREAD = "kailash-sync-bridge-"


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
                self._thread = threading.Thread(target=_serve, args=(self._loop,), name=self._name, daemon=True)
                self._thread.start()
            return self._loop

    def here(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    async def run(self, coro: Coroutine):
        """Await `coro` on the home loop from any loop (directly when already there)."""
        if self.here():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def run_sync(self, coro: Coroutine):
        """Run `coro` on the home loop and block until it finishes (for synchronous callers)."""
        if self.here():
            coro.close()
            raise RuntimeError("a synchronous DataFlow call was made from its own event loop; await it instead")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        """End the loop's tasks and close it (its thread does, then ends)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout=30)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        _finish(loop)


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """What asyncio.run does when its main coroutine returns: end the loop's tasks, then close it."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


class Runner:
    """Decides where a call's I/O runs: on the caller's loop, or on the home loop."""

    def __init__(self, name: str, *, home_only: bool, connection_limit: bool):
        self.home = HomeLoop(name)
        self.home_only = home_only
        self.connection_limit = connection_limit  # one limit of server connections across the loops' pools

    def caller_loop_serves(self, caller=None) -> bool:
        """May the running loop do the I/O itself? Not LocalRuntime's, unless nothing limits the connections
        (see the module's docstring)."""
        if self.home.here():
            return True
        if self.home_only or threading.current_thread().name.startswith(SYNC_BRIDGE_THREAD):
            return False
        if caller is not None and hasattr(caller, "_workflow_context"):  # LocalRuntime sets it on every node it runs
            return not self.connection_limit
        return True

    async def run(self, coro: Coroutine, *, caller=None):
        """Await `coro` where its I/O belongs; `caller` is the node that asks, if any."""
        if self.caller_loop_serves(caller):
            return await coro
        return await self.home.run(coro)

    def run_sync(self, coro: Coroutine):
        return self.home.run_sync(coro)


def on_home(method):
    """Run an async method of an object with a `home` (HomeLoop) attribute on that loop."""

    @functools.wraps(method)
    async def on_its_loop(self, *args, **kwargs):
        return await self.home.run(method(self, *args, **kwargs))

    return on_its_loop


def run_on_sync(loop: asyncio.AbstractEventLoop, coro: Coroutine, *, timeout: float = 60):
    """Run `coro` on `loop` (not the one running here, if any) and wait for it, from synchronous code."""
    if loop.is_running():
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)
    # An idle loop (an asyncio.Runner's between calls): nothing else runs it now.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return loop.run_until_complete(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as worker:  # this thread runs another loop
        return worker.submit(loop.run_until_complete, coro).result(timeout)


async def run_on(loop: asyncio.AbstractEventLoop, coro: Coroutine):
    """Await `coro` on `loop` from async code on any loop."""
    if loop is asyncio.get_running_loop():
        return await coro
    if loop.is_running():
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
    # An idle loop (an asyncio.Runner's between calls) runs on a worker thread of its own meanwhile,
    # which ends with the call (not one of the caller's loop's executor threads, which stay).
    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        return await asyncio.wrap_future(worker.submit(loop.run_until_complete, coro))
