"""The instance's database: one SQLAlchemy async engine (one connection pool) per event loop it runs
I/O on (see runner.py), one connection limit across them, and schema creation.

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
import threading

from sqlalchemy import MetaData, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool
from sqlalchemy.util import await_, greenlet_spawn

from . import schema
from .deadline import DEADLINE
from .errors import (
    ConflictError,
    ConnectionLostError,
    DatabaseError,
    IntegrityError,
    OutcomeUnknownError,
    PoolTimeoutError,
)
from .fieldtypes import SQLITE_DECIMAL_KEY, ServerInfo, decimal_key, json_serializer
from .runner import HomeLoop, run_on, run_on_sync
from .schema import TENANT_SETTING
from .slots import Slots
from .tenancy import CURRENT_TENANT
from .transactions import CURRENT
from .urls import DatabaseTarget

_MYSQL_SESSION = "SET SESSION sql_mode='TRADITIONAL,NO_AUTO_VALUE_ON_ZERO', time_zone='+00:00'"
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
        self.home = home
        self.server: ServerInfo | None = None
        self.server_version: str | None = None
        self.metadata = MetaData()
        self._options = {"pool_size": pool_size, "max_overflow": pool_max_overflow, "pool_timeout": pool_timeout}
        self._echo = echo
        self.pool_timeout = DEFAULT_POOL_TIMEOUT if pool_timeout is None else pool_timeout
        # The server connections of every loop's pool together (SQLite: no server, no limit).
        self.slots: Slots | None = None
        if self.backend != "sqlite":
            limit = (DEFAULT_POOL_SIZE if pool_size is None else pool_size) + (
                DEFAULT_MAX_OVERFLOW if pool_max_overflow is None else pool_max_overflow
            )
            self.slots = Slots(limit, on_wait=self._reclaim_idle)
        # SQLite allows one writer; serialising writers here (across loops) avoids lock-upgrade failures.
        # An in-memory database is a single shared connection, so it serialises everything.
        self.writer = Slots(1) if self.backend == "sqlite" else None
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

    def _forget(self, loop_engine: "LoopEngine") -> None:
        with self._engines_lock:
            if self._engines.get(loop_engine.loop) is loop_engine:
                del self._engines[loop_engine.loop]

    def _take_engines(self) -> list["LoopEngine"]:
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
        """Close every loop's engine, each on its own loop (from synchronous code)."""
        for loop_engine in self._take_engines():
            if loop_engine.loop.is_closed():
                loop_engine.abandon()
            else:
                run_on_sync(loop_engine.loop, loop_engine.close())

    async def close_engines_async(self) -> None:
        for loop_engine in self._take_engines():
            if loop_engine.loop.is_closed():
                loop_engine.abandon()
            else:
                await run_on(loop_engine.loop, loop_engine.close())

    def create_engine(self, loop_engine: "LoopEngine") -> AsyncEngine:
        # No reset (a ROLLBACK round trip) when a connection returns to the pool: every checkout ends
        # its transaction itself, and closing a connection rolls back one left open.
        options: dict = {"echo": self._echo, "json_serializer": json_serializer, "pool_reset_on_return": None}
        connect_args: dict = {}
        if self.backend == "sqlite":
            options["poolclass"] = StaticPool if self.target.is_memory else LoopPool
            connect_args["timeout"] = 30
        else:
            options["poolclass"] = LoopPool
            for key in ("pool_size", "max_overflow", "pool_timeout"):
                if self._options[key] is not None:
                    options[key] = self._options[key]
        url = self.target.url
        if self.backend == "mysql":
            url = url.update_query_dict({"charset": "utf8mb4"})
            connect_args["init_command"] = _MYSQL_SESSION
        engine = create_async_engine(url, connect_args=connect_args, **options)
        engine.sync_engine.pool.loop_engine = loop_engine
        if self.slots is not None:
            _count_connections(engine, loop_engine, self.slots, self.pool_timeout)
        if self.backend == "sqlite":
            _configure_sqlite(engine, in_memory=self.target.is_memory)
        else:
            _detect_closed_connections(engine)
        return engine

    async def probe(self, engine: AsyncEngine) -> None:
        """First connection of an engine: which server this is."""
        async with engine.connect() as conn:
            mariadb = bool(getattr(conn.sync_connection.dialect, "is_mariadb", False))
            self.server_version = await self._version_string(conn)
        self.server = ServerInfo(self.backend, mariadb=mariadb)

    async def _version_string(self, conn: AsyncConnection) -> str:
        query = "select sqlite_version()" if self.backend == "sqlite" else "select version()"
        return str((await conn.execute(text(query))).scalar())

    async def migrate(self, models, *, apply: bool) -> None:
        """Bring the tables of `models` ([(spec, table)]) up to date, or check them when not `apply`."""

        def plan_and_apply(sync):
            plan = schema.plan_schema(sync, models)
            schema.check_plan(plan, auto_migrate=apply)
            schema.apply_plan(sync, plan, self.metadata)

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
            with _translated_errors(self.backend, describe):
                async with _connected(engine) as conn:
                    # A read is one statement: it needs no BEGIN/COMMIT round trips. asyncpg switches to
                    # autocommit on the client side; SQLite just skips BEGIN (see _configure_sqlite);
                    # aiomysql would pay two round trips to switch, more than it saves. Row-level
                    # security needs a transaction for its transaction-local tenant setting.
                    if self.backend == "sqlite":
                        await conn.execution_options(dfr_begin="IMMEDIATE" if write else "NONE")
                    elif not write and self.backend == "postgresql" and tenant is None:
                        await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await self._watch(conn)
                    async with conn.begin() as root:
                        await self._bind_row_security(conn, tenant)
                        yield conn
                        await commit(conn, root, self.backend)

    @contextlib.asynccontextmanager
    async def _within(self, scope, describe):
        with _translated_errors(self.backend, describe):
            async with scope.operation("run a database node") as conn:
                await self._watch(conn)
                await self._bind_row_security(conn, self._row_security_tenant())
                yield conn

    async def _watch(self, conn) -> None:
        """Put the connection under the running operation's statement_timeout, if it has one."""
        deadline = DEADLINE.get()
        if deadline is not None and self.backend != "sqlite":  # SQLite has no server to stop answering
            deadline.watch((await conn.get_raw_connection()).driver_connection)

    def _row_security_tenant(self) -> str | None:
        """The tenant of the running operation when the server enforces tenant isolation (PostgreSQL)."""
        return CURRENT_TENANT.get() if self.backend == "postgresql" else None

    async def _bind_row_security(self, conn, tenant: str | None) -> None:
        # Transaction-local: the setting ends with the transaction, so a pooled connection never
        # carries one tenant's setting into another operation.
        if tenant is not None:
            await conn.execute(
                text("SELECT set_config(:name, :tenant, true)"), {"name": TENANT_SETTING, "tenant": tenant}
            )


class LoopEngine:
    """The engine (one connection pool) of one event loop, from its first operation until the loop ends
    or the instance closes."""

    def __init__(self, database: Database, loop: asyncio.AbstractEventLoop, *, home: bool):
        self.database, self.loop, self.home = database, loop, home
        self.engine: AsyncEngine | None = None
        self.closed = False
        self.counted: set[int] = set()  # ids of this pool's connections that hold one of the instance's slots
        self._opening = asyncio.Lock()  # concurrent first calls wait for one connect
        self._keeper: asyncio.Task | None = None
        self._trimming: asyncio.Task | None = None

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
        """Close the pool's idle connections (on its loop; asked by a task that waits for a slot)."""
        if self.engine is not None and self._trimming is None:
            self._trimming = self.loop.create_task(self._trim())

    async def _trim(self) -> None:
        try:
            if self.engine is not None:
                await greenlet_spawn(self.engine.sync_engine.pool.dispose)
        finally:
            self._trimming = None

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

    def _do_return_conn(self, record) -> None:
        if self.loop_engine is not None and not self.loop_engine.keep_idle(self):
            record.close()  # the record stays in the pool and reconnects when it is next used
        super()._do_return_conn(record)

    def _close_connection(self, connection, *, terminate: bool = False) -> None:
        try:
            super()._close_connection(connection, terminate=terminate)
        finally:
            loop_engine = self.loop_engine
            if loop_engine is not None and id(connection) in loop_engine.counted:
                loop_engine.counted.discard(id(connection))
                loop_engine.database.slots.release()


def _count_connections(engine: AsyncEngine, loop_engine: LoopEngine, slots: Slots, timeout: float) -> None:
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
async def _connected(engine: AsyncEngine):
    """`async with engine.connect()`, without a task of its own for the close when nothing failed: after a
    commit, returning the connection to the pool needs no I/O. SQLAlchemy's exit (which closes in a task
    that a cancellation cannot cut short) stays for the failures, when the close rolls back."""
    conn = await engine.connect()
    try:
        yield conn
    except BaseException as exc:
        await conn.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    await conn.close()


@contextlib.contextmanager
def _translated_errors(backend: str, describe=None):
    try:
        yield
    except sa_exc.IntegrityError as exc:
        message = driver_message(exc)
        raise IntegrityError(describe(message) if describe else f"constraint violated: {message}") from None
    except sa_exc.TimeoutError as exc:  # the pool had no free connection within pool_timeout
        raise PoolTimeoutError(f"{backend}: no database connection became free in time ({exc})") from None
    except sa_exc.DBAPIError as exc:
        if _is_conflict(exc):
            raise ConflictError(f"{backend} aborted the transaction: {driver_message(exc)}") from None
        if exc.connection_invalidated:
            raise ConnectionLostError(
                f"lost the connection to {backend} ({driver_message(exc)}); the server rolls back a transaction left open"
            ) from exc
        raise DatabaseError(f"{backend} error: {driver_message(exc)}") from exc


async def commit(conn: AsyncConnection, root, backend: str) -> None:
    """Commit `root`. A connection lost while the COMMIT may have reached the server leaves the outcome
    unknown, and the error says so; one already lost before it never sent it (the server rolls back)."""
    if conn.invalidated or driver_closed(conn.sync_connection.connection.driver_connection):
        raise ConnectionLostError(
            f"lost the connection to {backend} before COMMIT; the server rolls back a transaction left open"
        )
    try:
        await root.commit()
    except sa_exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        raise OutcomeUnknownError(
            f"lost the connection to {backend} during COMMIT ({driver_message(exc)}): the outcome is unknown, "
            "the transaction may have been committed"
        ) from exc


def driver_message(exc: Exception) -> str:
    """The first line of the driver's own message (SQLAlchemy wraps it in `orig`; COPY raises it bare)."""
    cause = getattr(exc, "orig", None) or exc
    message = str(cause)
    return message.splitlines()[0] if message else type(cause).__name__


def _is_conflict(exc: sa_exc.DBAPIError) -> bool:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in ("40001", "40P01"):  # PostgreSQL serialization failure / deadlock
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in (1205, 1213)  # MySQL lock wait timeout / deadlock


def _detect_closed_connections(engine: AsyncEngine) -> None:
    """Treat a connection the server has closed (a killed session, a network failure) as lost.

    Without a round trip per checkout (no pre-ping): a pooled connection the driver already knows
    is closed is replaced at checkout, and an error on a closed connection counts as a disconnect,
    so SQLAlchemy discards it (and the pool's other connections of that age) instead of reusing it.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def replace_closed(dbapi_connection, _record, _proxy):
        if driver_closed(dbapi_connection.driver_connection):
            raise sa_exc.DisconnectionError("the server closed this pooled connection")

    @event.listens_for(engine.sync_engine, "handle_error")
    def closed_is_disconnect(context):
        try:
            driver = context.connection.connection.driver_connection
        except Exception:  # no connection, or it is already invalidated
            return
        if driver_closed(driver):
            context.is_disconnect = True


def driver_closed(driver) -> bool:
    closed = getattr(driver, "is_closed", None)  # asyncpg
    if callable(closed):
        return bool(closed())
    return bool(getattr(driver, "closed", False))  # aiomysql


def _configure_sqlite(engine: AsyncEngine, *, in_memory: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA case_sensitive_like = ON")  # LIKE is case-sensitive on every backend
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        dbapi_connection.create_function(SQLITE_DECIMAL_KEY, 1, decimal_key, deterministic=True)
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn):
        mode = conn.get_execution_options().get("dfr_begin", "")
        if mode != "NONE":
            conn.exec_driver_sql(f"BEGIN {mode}".strip())
