"""The instance's database: its connection pools (engines.py: one per event loop it runs I/O on, one
connection limit across them), transactions, and schema creation. What the backend does its own way
comes from the target's dialect (dialects/)."""

import asyncio
import contextlib
import functools
import threading

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from . import schema
from .deadline import DEADLINE
from .dialects import ServerInfo
from .driver_errors import commit, translated_errors
from .engines import LoopEngine, LoopPool, begun, count_connections
from .fieldtypes import json_serializer
from .runner import HomeLoop, run_on, run_on_sync
from .slots import Slots
from .tenancy import CURRENT_TENANT
from .transactions import CURRENT
from .urls import DatabaseTarget

# SQLAlchemy's own defaults, which the instance-wide limit follows when the options are not given.
DEFAULT_POOL_SIZE, DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_TIMEOUT = 5, 10, 30.0


class Database:
    def __init__(
        self,
        target: DatabaseTarget,
        home: HomeLoop,
        *,
        pool_size=None,
        pool_max_overflow=None,
        pool_timeout=None,
        echo=False,
    ):
        self.target = target
        self.dialect = target.dialect
        self.home = home
        self.server: ServerInfo | None = None
        self.server_version: str | None = None
        self.metadata = MetaData()
        self._options = {"pool_size": pool_size, "max_overflow": pool_max_overflow, "pool_timeout": pool_timeout}
        self._echo = echo
        self.pool_timeout = DEFAULT_POOL_TIMEOUT if pool_timeout is None else pool_timeout
        # The server connections of every loop's pool together (an embedded database: no server, no limit).
        self.slots: Slots | None = None
        if self.dialect.server:
            limit = (DEFAULT_POOL_SIZE if pool_size is None else pool_size) + (
                DEFAULT_MAX_OVERFLOW if pool_max_overflow is None else pool_max_overflow
            )
            self.slots = Slots(limit, on_wait=self._reclaim_idle)
        # A single-writer database's writers take turns here, across loops (an in-memory database is a single
        # shared connection, so it serialises everything).
        self.writer = Slots(1) if self.dialect.single_writer else None
        self._engines: dict[asyncio.AbstractEventLoop, LoopEngine] = {}
        self._engines_lock = threading.Lock()

    @property
    def backend(self) -> str:
        return self.target.backend

    # -- engines, one per loop ---------------------------------------------------------------

    async def engine(self) -> AsyncEngine:
        """The running loop's engine, made and connected on the loop's first call."""
        found = self._engines.get(asyncio.get_running_loop())
        if found is not None and found.engine is not None:
            return found.engine
        loop = asyncio.get_running_loop()
        with self._engines_lock:
            found = self._engines.get(loop)
            if found is None or found.closed:
                found = self._engines[loop] = LoopEngine(self, loop, home=self.home.here())
        return await found.open()

    def _forget(self, loop_engine: LoopEngine) -> None:
        with self._engines_lock:
            if self._engines.get(loop_engine.loop) is loop_engine:
                del self._engines[loop_engine.loop]

    def _take_engines(self) -> list[LoopEngine]:
        with self._engines_lock:
            engines = list(self._engines.values())
            self._engines.clear()
        return engines

    def loops_with_engines(self) -> list[asyncio.AbstractEventLoop]:
        return list(self._engines)

    def _reclaim_idle(self) -> None:
        """A task waits for a connection slot: ask the other running loops to close their idle connections."""
        here = asyncio.get_running_loop()
        for loop_engine in list(self._engines.values()):
            if loop_engine.loop is not here and loop_engine.loop.is_running():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop_engine.loop.call_soon_threadsafe(loop_engine.trim)

    def close_engines(self) -> None:
        """Close every loop's engine, each on its own loop (from synchronous code); an engine whose loop
        was closed first, on the home loop when its connections are not bound to their loop."""
        for loop_engine in self._take_engines():
            if not loop_engine.loop.is_closed():
                run_on_sync(loop_engine.loop, loop_engine.close())
            elif self.dialect.loop_bound:
                loop_engine.abandon()
            else:
                self.home.run_sync(loop_engine.close_orphaned())

    async def close_engines_async(self) -> None:
        for loop_engine in self._take_engines():
            if not loop_engine.loop.is_closed():
                await run_on(loop_engine.loop, loop_engine.close())
            elif self.dialect.loop_bound:
                loop_engine.abandon()
            else:
                await self.home.run(loop_engine.close_orphaned())

    def create_engine(self, loop_engine: LoopEngine) -> AsyncEngine:
        # No reset (a ROLLBACK round trip) when a connection returns to the pool: every checkout ends
        # its transaction itself, and closing a connection rolls back one left open. An in-memory
        # database is one connection, shared; the pool options size the pools of server connections.
        options: dict = {"echo": self._echo, "json_serializer": json_serializer, "pool_reset_on_return": None}
        options["poolclass"] = StaticPool if self.target.is_memory else LoopPool
        if self.dialect.server:
            options.update({key: value for key, value in self._options.items() if value is not None})
        url, connect_args = self.dialect.connect_arguments(self.target.url)
        engine = create_async_engine(url, connect_args=connect_args, **options)
        engine.sync_engine.pool.loop_engine = loop_engine
        if self.slots is not None:
            count_connections(engine, loop_engine, self.slots, self.pool_timeout)
        self.dialect.configure_engine(engine, in_memory=self.target.is_memory)
        return engine

    async def probe(self, engine: AsyncEngine) -> None:
        """First connection of an engine: which server this is."""
        async with engine.connect() as conn:
            server = self.dialect.server_info(conn.sync_connection.dialect)
            self.server_version = await self._version_string(conn)
        self.server = server

    async def _version_string(self, conn: AsyncConnection) -> str:
        return str((await conn.execute(text(self.dialect.version_query))).scalar())

    async def migrate(self, models, *, apply: bool) -> None:
        """Bring the tables of `models` ([(spec, table)]) up to date, or check them when not `apply`."""

        def plan_and_apply(sync):
            plan = schema.plan_schema(sync, models, self.dialect)
            schema.check_plan(plan, auto_migrate=apply)
            schema.apply_plan(sync, plan, self.metadata, self.dialect)

        async with self.transaction(write=True) as conn:
            await conn.run_sync(plan_and_apply)

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool, describe=None):
        """A connection inside a transaction that commits on success and rolls back on error.

        Inside an open transaction scope (transactions.CURRENT), the scope's connection is used
        instead; the scope itself decides about commit and rollback. `describe(message)` tells a
        constraint violation in terms of the model.
        """
        scope = CURRENT.get()
        if scope is not None and scope.database is self:
            async with self._within(scope, describe) as conn:
                yield conn
            return
        engine = await self.engine()
        lock = self.writer if self.writer is not None and (write or self.target.is_memory) else None
        tenant = self._row_security_tenant()
        async with lock.held() if lock is not None else contextlib.nullcontext():
            with translated_errors(self.dialect, describe):
                # A read is one statement: where the driver can skip BEGIN/COMMIT cheaply, the dialect says so.
                options = self.dialect.transaction_options(write=write, tenant=tenant)
                async with begun(engine, options) as (conn, root):  # no driver sends BEGIN before a statement
                    await self._watch(conn)
                    await self._bind_row_security(conn, tenant)
                    yield conn
                    await commit(conn, root, self.dialect, close=True)

    @contextlib.asynccontextmanager
    async def _within(self, scope, describe):
        with translated_errors(self.dialect, describe):
            async with scope.operation("run a database node") as conn:
                await self._watch(conn)
                await self._bind_row_security(conn, self._row_security_tenant())
                yield conn

    async def _watch(self, conn) -> None:
        """Put the connection under the running operation's statement_timeout, if it has one."""
        deadline = DEADLINE.get()
        if deadline is not None and self.dialect.server:  # an embedded database has no server to stop answering
            driver = (await conn.get_raw_connection()).driver_connection
            deadline.watch(functools.partial(self.dialect.terminate, driver))

    def _row_security_tenant(self) -> str | None:
        """The tenant of the running operation when the server enforces tenant isolation."""
        return CURRENT_TENANT.get() if self.dialect.row_level_security else None

    async def _bind_row_security(self, conn, tenant: str | None) -> None:
        if tenant is not None:
            await self.dialect.bind_tenant(conn, tenant)
