"""One SQLAlchemy async engine (one pool) per DataFlow instance, plus schema creation.

Everything here runs on the instance's home loop (see runner.py).
"""

import asyncio
import contextlib

from sqlalchemy import MetaData, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

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
from .schema import TENANT_SETTING
from .tenancy import CURRENT_TENANT
from .transactions import CURRENT
from .urls import DatabaseTarget

_MYSQL_SESSION = "SET SESSION sql_mode='TRADITIONAL,NO_AUTO_VALUE_ON_ZERO', time_zone='+00:00'"


class Database:
    def __init__(
        self, target: DatabaseTarget, *, pool_size=None, pool_max_overflow=None, pool_timeout=None, echo=False
    ):
        self.target = target
        self.engine: AsyncEngine | None = None
        self.server: ServerInfo | None = None
        self.server_version: str | None = None
        self.metadata = MetaData()
        self._options = {"pool_size": pool_size, "max_overflow": pool_max_overflow, "pool_timeout": pool_timeout}
        self._echo = echo
        # SQLite allows one writer; serialising writers here avoids lock-upgrade failures.
        # An in-memory database is a single shared connection, so it serialises everything.
        self._sqlite_lock: asyncio.Lock | None = None
        self._connecting: asyncio.Lock | None = None

    @property
    def backend(self) -> str:
        return self.target.backend

    async def connect(self) -> None:
        if self.engine is not None:
            return
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # concurrent first calls wait for one connect
            if self.engine is not None:
                return
            engine = self._create_engine()
            try:
                async with engine.connect() as conn:
                    mariadb = bool(getattr(conn.sync_connection.dialect, "is_mariadb", False))
                    self.server_version = await self._version_string(conn)
            except BaseException:
                await engine.dispose()
                raise
            self.server = ServerInfo(self.backend, mariadb=mariadb)
            if self.backend == "sqlite":
                self._sqlite_lock = asyncio.Lock()
            self.engine = engine  # last: a caller that sees the engine sees everything it needs

    def _create_engine(self) -> AsyncEngine:
        # No reset (a ROLLBACK round trip) when a connection returns to the pool: every checkout ends
        # its transaction itself, and closing a connection rolls back one left open.
        options: dict = {"echo": self._echo, "json_serializer": json_serializer, "pool_reset_on_return": None}
        connect_args: dict = {}
        if self.backend == "sqlite":
            if self.target.is_memory:
                options["poolclass"] = StaticPool
            connect_args["timeout"] = 30
        else:
            for key in ("pool_size", "max_overflow", "pool_timeout"):
                if self._options[key] is not None:
                    options[key] = self._options[key]
        url = self.target.url
        if self.backend == "mysql":
            url = url.update_query_dict({"charset": "utf8mb4"})
            connect_args["init_command"] = _MYSQL_SESSION
        engine = create_async_engine(url, connect_args=connect_args, **options)
        if self.backend == "sqlite":
            _configure_sqlite(engine, in_memory=self.target.is_memory)
        else:
            _detect_closed_connections(engine)
        return engine

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

    @property
    def sqlite_lock(self) -> asyncio.Lock | None:
        return self._sqlite_lock

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
        await self.connect()
        lock = self._sqlite_lock if (write or self.target.is_memory) else None
        tenant = self._row_security_tenant()
        async with lock if lock is not None else contextlib.nullcontext():
            with _translated_errors(self.backend, describe):
                async with self.engine.connect() as conn:
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

    async def dispose(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None
        self._connecting = None  # bound to the home loop, which stops with close()


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
