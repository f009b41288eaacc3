"""Slots: a semaphore that tasks on any event loop, in any thread, share.

asyncio's locks belong to one loop, but an instance's connection limit, SQLite's single writer and
schema creation hold across every loop the instance runs I/O on. A waiter waits on a future of its
own loop; a release hands the slot straight to the first waiter (first come, first served), through
that waiter's loop.
"""

import asyncio
import collections
import contextlib
import threading


class Slots:
    def __init__(self, count: int, *, on_wait=None):
        self._free = count
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._lock = threading.Lock()
        self._on_wait = on_wait  # called (from the waiter's thread) when a task starts to wait

    @property
    def free(self) -> int:
        return self._free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, timeout: float | None = None) -> None:
        """Take a slot, waiting up to `timeout` seconds (TimeoutError) or for ever (None)."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
        if self._on_wait is not None:
            self._on_wait()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException:
            with self._lock:
                if waiter in self._waiters:  # not granted: just leave the queue
                    self._waiters.remove(waiter)
                    raise
            if waiter.done() and not waiter.cancelled():  # granted as it gave up: pass the slot on
                self.release()
            raise  # otherwise the grant on its way finds the waiter cancelled and passes it on

    def release(self) -> None:
        with self._lock:
            if not self._waiters:
                self._free += 1
                return
            waiter = self._waiters.popleft()
        try:
            waiter.get_loop().call_soon_threadsafe(self._hand_over, waiter)
        except RuntimeError:  # the waiter's loop is closed: nobody is waiting there any more
            self.release()

    def _hand_over(self, waiter: asyncio.Future) -> None:
        if waiter.done():  # it gave up (timeout, cancellation) before the slot arrived
            self.release()
        else:
            waiter.set_result(None)

    @contextlib.asynccontextmanager
    async def held(self, timeout: float | None = None):
        await self.acquire(timeout)
        try:
            yield
        finally:
            self.release()
