"""The instance's connection pools: one SQLAlchemy async engine (one pool) per event loop it runs I/O on
(see runner.py), one connection limit across them.

A loop's pool is made on the loop's first operation and closed when the loop ends (asyncio.run, an
asyncio.Runner, uvicorn and LocalRuntime.close() end a loop's tasks first, and a keeper task of the
pool's closes it then) or with the instance. `pool_size` and `pool_max_overflow` keep SQLAlchemy's
meaning within each pool, and their sum is also the limit of server connections across all of them:
a new connection waits (up to `pool_timeout`) for one of the instance's slots. While a task waits,
pools close idle connections instead of keeping them, and running loops are asked to close theirs.
A pool keeps its last free slot for others unless its loop is the home loop (which always runs and
can be asked) or still has connections out: a loop that stops running with idle connections (an
asyncio.Runner between calls) can never hold every slot.
"""

import asyncio
import contextlib
import weakref

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_, greenlet_spawn

from .slots import Slots


class LoopEngine:
    """The engine (one connection pool) of one event loop, from its first operation until the loop ends
    or the instance closes."""

    def __init__(self, database, loop: asyncio.AbstractEventLoop, *, home: bool):
        self.database, self.loop, self.home = database, loop, home
        self.engine: AsyncEngine | None = None
        self.closed = False
        self.counted: set[int] = set()  # ids of this pool's connections that hold one of the instance's slots
        self._opening = asyncio.Lock()  # concurrent first calls wait for one connect
        self._keeper: asyncio.Task | None = None

    async def open(self) -> AsyncEngine:
        async with self._opening:
            if self.engine is None:
                engine = self.database.create_engine(self)
                try:
                    await self.database.probe(engine)
                except BaseException:
                    await engine.dispose()
                    raise
                self.engine = engine  # last: a caller that sees the engine sees everything it needs
                if not self.home:  # the home loop's engine closes with the instance
                    self._keeper = self.loop.create_task(self._keep(), name="dataflow-loop-engine-keeper")
        return self.engine

    async def _keep(self) -> None:
        """Wait until the loop ends its tasks (or the instance closes this engine), then close the engine."""
        with contextlib.suppress(asyncio.CancelledError):
            await self.loop.create_future()
        await self.close()

    def keep_idle(self, pool) -> bool:
        """Whether a connection coming back to the pool stays open for the next operation (module docstring)."""
        slots = self.database.slots
        if self.closed:
            return False
        if slots is None:
            return True
        if slots.waiting:
            return False
        return self.home or slots.free > 0 or pool.checkedout() > 1

    def trim(self) -> None:
        """Close the pool's idle connections now (on its loop; asked by a task that waits for a slot)."""
        if self.engine is not None:
            self.engine.sync_engine.pool.close_idle()

    async def close(self) -> None:
        """On the engine's loop: close its connections (those still out, as they come back)."""
        if self.closed:
            return
        self.closed = True
        self.database._forget(self)
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.dispose()
        if self._keeper is not None and self._keeper is not asyncio.current_task():
            self._keeper.cancel()
            await asyncio.wait([self._keeper])  # it ends at once: the engine is closed already

    async def close_orphaned(self) -> None:
        """The loop was closed before the engine, but the driver's connections are not bound to it
        (aiosqlite's): close them from the running loop, those idle in the pool and those still out to a
        task the closed loop will never resume. Left to the garbage collector, an aiosqlite connection's
        finalizer would queue a stop whose answer goes to the collecting thread's current loop, which may
        be closed (`RuntimeError: Event loop is closed` in the connection's thread)."""
        self.closed = True
        engine, self.engine = self.engine, None
        if engine is not None:
            pool = engine.sync_engine.pool

            def close_all() -> None:
                for record in list(getattr(pool, "out", ())):  # a StaticPool's one connection: dispose() closes it
                    record.close()
                pool.dispose()

            await greenlet_spawn(close_all)
        self.abandon()  # the slots of any that could not be closed

    def abandon(self) -> None:
        """The loop was closed before the engine: its connections cannot be closed politely any more
        (the garbage collector closes their sockets); give their slots back."""
        self.closed = True
        for _ in range(len(self.counted)):
            self.database.slots.release()
        self.counted.clear()
        self.engine = None


class LoopPool(AsyncAdaptedQueuePool):
    """A loop's pool: a connection coming back closes when the instance's limit needs its slot, and a
    closed connection gives its slot back once it is closed."""

    loop_engine: LoopEngine | None = None
    _closing_idle = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.out = weakref.WeakSet()  # the records checked out (LoopEngine.close_orphaned closes them)

    def _do_get(self):
        record = super()._do_get()
        self.out.add(record)
        return record

    def _do_return_conn(self, record) -> None:
        self.out.discard(record)
        if self.loop_engine is not None and not self.loop_engine.keep_idle(self):
            record.close()  # the record stays in the pool and reconnects when it is next used
        super()._do_return_conn(record)

    def close_idle(self) -> None:
        """Close the idle connections at once, without awaiting the server's goodbye. A polite close awaits
        inside SQLAlchemy's greenlet: left waiting there when its loop stops (an asyncio.Runner between
        calls), it would resume on whichever thread runs the loop next, where the greenlet cannot switch."""
        out = self.checkedout()
        self._closing_idle = True
        try:
            self.dispose()
        finally:
            self._closing_idle = False
            self._overflow = out - self.size()  # dispose() counts none out: those still out come back later

    def _close_connection(self, connection, *, terminate: bool = False) -> None:
        try:  # outside a greenlet, SQLAlchemy's terminate() closes the socket without a round trip
            super()._close_connection(connection, terminate=terminate or self._closing_idle)
        finally:
            loop_engine = self.loop_engine
            if loop_engine is not None and id(connection) in loop_engine.counted:
                loop_engine.counted.discard(id(connection))
                loop_engine.database.slots.release()


def count_connections(engine: AsyncEngine, loop_engine: LoopEngine, slots: Slots, timeout: float) -> None:
    """Every new server connection first takes one of the instance's slots (waiting up to `timeout`)."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def counted_connect(dialect, _record, cargs, cparams):
        try:
            await_(slots.acquire(timeout))  # inside SQLAlchemy's greenlet: the loop keeps running
        except TimeoutError:
            raise sa_exc.TimeoutError(
                f"every connection the instance may open (pool_size + pool_max_overflow) stayed busy for {timeout}s"
            ) from None
        try:
            connection = dialect.connect(*cargs, **cparams)
        except BaseException:
            slots.release()
            raise
        loop_engine.counted.add(id(connection))
        return connection


@contextlib.asynccontextmanager
async def begun(engine: AsyncEngine, options: dict):
    """A connection (with execution `options`) in a transaction, as (connection, root transaction).

    Checking the connection out, setting its options and beginning are one switch into SQLAlchemy's
    greenlet instead of three, and `driver_errors.commit(..., close=True)` ends it in one more; each switch
    costs tens of microseconds. On a failure the connection's own exit closes it, which rolls back, in a
    task that a cancellation cannot cut short."""

    def open_and_begin() -> Connection:
        sync = engine.sync_engine.connect()
        try:
            if options:
                sync.execution_options(**options)
            sync.begin()
        except BaseException:
            sync.close()
            raise
        return sync

    conn = AsyncConnection(engine, await greenlet_spawn(open_and_begin))
    try:
        yield conn, conn.get_transaction()
    except BaseException as exc:
        await conn.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    if not conn.closed:  # a caller that did not commit with close=True: closing rolls back
        await conn.close()
