"""The DataFlow class: configuration, model registration and lifecycle."""

import asyncio
import contextlib
import os
import threading

from .bulk import BulkOperations
from .crud import ModelStore
from .database import Database
from .deadline import Deadline
from .errors import (
    ConfigurationError,
    ConflictError,
    DataFlowError,
    ModelDefinitionError,
    OutcomeUnknownError,
    StatementTimeoutError,
)
from .express import Express, ExpressSync
from .model import ModelSpec, check_identifier_lengths, parse_model
from .nodes import generate_nodes
from .runner import Runner
from .slots import Slots
from .tenancy import CURRENT_TENANT, TenantContext, require_tenant
from .transactions import CURRENT, TransactionRegistry
from .urls import parse_database_url

ZERO_CONFIG_URL = "sqlite:///:memory:"


class DataFlow:
    """A DataFlow instance: one database, a connection pool per event loop it runs I/O on (see runner.py)."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        multi_tenant: bool = False,
        pool_size: int | None = None,
        pool_max_overflow: int | None = None,
        pool_timeout: float | None = None,
        statement_timeout: float | None = None,
        echo: bool = False,
        auto_migrate: bool = True,
    ):
        url = database_url if database_url is not None else os.environ.get("DATABASE_URL") or ZERO_CONFIG_URL
        self.target = parse_database_url(url)
        _check_option("pool_size", pool_size, minimum=1)
        _check_option("pool_max_overflow", pool_max_overflow, minimum=0)
        _check_seconds("pool_timeout", pool_timeout)
        _check_seconds("statement_timeout", statement_timeout)
        self.statement_timeout = statement_timeout
        self.multi_tenant = bool(multi_tenant)
        self.auto_migrate = bool(auto_migrate)
        self.runner = Runner(
            f"dataflow-{self.target.backend}-{id(self):x}",
            home_only=self.target.is_memory,
            connection_limit=self.target.dialect.server,
        )
        self.database = Database(
            self.target,
            self.runner.home,
            pool_size=pool_size,
            pool_max_overflow=pool_max_overflow,
            pool_timeout=pool_timeout,
            echo=echo,
        )
        self.models: dict[str, ModelSpec] = {}
        self.nodes: dict[str, type] = {}
        self._stores: dict[str, ModelStore] = {}
        self.transactions = TransactionRegistry(self.runner.home)
        self.tenant_context = TenantContext(f"{id(self):x}")
        self.express = Express(self)
        self.express_sync = ExpressSync(self.express, self.runner)
        self._schema_lock = Slots(1)  # one schema change at a time, whichever loop asks
        self._define_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DataFlow({self.target.url.render_as_string(hide_password=True)!r})"

    @property
    def backend(self) -> str:
        return self.target.backend

    # -- models ------------------------------------------------------------------------------

    def model(self, cls: type) -> type:
        """Class decorator: register a model and generate its workflow nodes."""
        spec = parse_model(cls, multi_tenant_default=self.multi_tenant)
        check_identifier_lengths(spec, self.target.dialect)
        with self._define_lock:
            if spec.name in self.models:
                raise ModelDefinitionError(f"model {spec.name} is already registered on this DataFlow instance")
            clash = [m for m in self.models.values() if m.table_name == spec.table_name]
            if clash:
                raise ModelDefinitionError(
                    f"model {spec.name}: table {spec.table_name!r} is already used by {clash[0].name}"
                )
            self.models[spec.name] = spec
            self.nodes.update(generate_nodes(self, spec))
        cls.__dataflow_model__ = spec
        return cls

    # -- runtime -----------------------------------------------------------------------------

    async def store(self, model_name: str) -> ModelStore:
        """The operations of a model, with its table ready."""
        store = self._stores.get(model_name)
        if store is None:
            await self._ensure_schema()
            store = self._stores[model_name]
        return store

    async def _ensure_schema(self) -> None:
        async with self._schema_lock.held():
            pending = [spec for name, spec in self.models.items() if name not in self._stores]
            if not pending:
                return
            await self.database.engine()  # connected: the server's details decide the column types
            tables = [spec.build_table(self.database.metadata, self.database.server) for spec in pending]
            try:
                await self.database.migrate(list(zip(pending, tables, strict=True)), apply=self.auto_migrate)
            except BaseException:
                for table in tables:  # the next call plans again from scratch
                    self.database.metadata.remove(table)
                raise
            for spec, table in zip(pending, tables, strict=True):
                store = ModelStore(spec, table, self.database)
                store.bulk = BulkOperations(store)
                self._stores[spec.name] = store

    async def call_store(
        self, model_name: str, method: str, arguments: dict, *, bulk=False, scope=None, tenant=None, caller: str
    ):
        """One store operation, inside `scope` when it is open, as `tenant` (the tenant bound where the
        caller ran); a failure rolls the scope back when the scope asks for that. Shared by the nodes and
        the express API. Runs on the caller's loop (see runner.py), or on the home loop inside a scope."""
        if scope is not None and not self.runner.home.here():
            return await self.runner.home.run(
                self.call_store(model_name, method, arguments, bulk=bulk, scope=scope, tenant=tenant, caller=caller)
            )
        multi_tenant = self.models[model_name].multi_tenant
        scope_token = CURRENT.set(scope)  # an ended scope fails the operation: never a silent autocommit
        tenant_token = CURRENT_TENANT.set(tenant if multi_tenant else None)
        deadline = Deadline(self.statement_timeout) if self.statement_timeout else contextlib.nullcontext()
        try:
            if multi_tenant:
                require_tenant(model_name)  # fail closed before any work
            with deadline:
                store = await self.store(model_name)
                return await getattr(store.bulk if bulk else store, method)(**arguments)
        except Exception as exc:
            if getattr(deadline, "expired", False):
                ending = (  # a COMMIT already on its way may have taken effect
                    "the outcome is unknown: its COMMIT was sent, the transaction may have been committed"
                    if isinstance(exc, OutcomeUnknownError)
                    else "its transaction rolled back"
                )
                error = StatementTimeoutError(
                    f"{model_name}: {caller} got no answer from {self.backend} within statement_timeout="
                    f"{self.statement_timeout}s; its connection was cut and {ending}"
                )
                if scope is not None and scope.active:
                    await scope.abandon(str(error))
                raise error from exc
            # A conflict (deadlock, serialisation failure) ended the scope's whole transaction on the server.
            if scope is not None and scope.active and (scope.rollback_on_error or isinstance(exc, ConflictError)):
                await scope.rollback(f"rolled back because {caller} failed: {exc}")
            raise
        finally:
            CURRENT_TENANT.reset(tenant_token)
            CURRENT.reset(scope_token)

    def instance_for(self, model_name: str, context_instance) -> "DataFlow":
        """The instance a node should use: the one in the workflow context when it has the model."""
        if isinstance(context_instance, DataFlow) and context_instance is not self:
            if model_name not in context_instance.models:
                raise DataFlowError(f"the workflow's dataflow_instance has no model {model_name}")
            return context_instance
        return self

    # -- lifecycle ---------------------------------------------------------------------------

    async def initialize(self) -> bool:
        """Connect and create the tables of every registered model (on the caller's loop)."""
        await self.runner.run(self._ensure_schema())
        return True

    def create_tables(self) -> None:
        self.runner.run_sync(self._ensure_schema())

    def health_check(self) -> dict:
        try:
            self.runner.run_sync(self._ping())
        except Exception as exc:  # report, never raise: this is a probe
            return {"status": "unhealthy", "backend": self.backend, "error": f"{type(exc).__name__}: {exc}"}
        return {"status": "healthy", "backend": self.backend, "server_version": self.database.server_version}

    async def _ping(self) -> None:
        from sqlalchemy import text

        async with self.database.transaction(write=False) as conn:
            await conn.execute(text("select 1"))

    def close(self) -> None:
        """Roll back open scopes, close every loop's connections (each on its loop) and stop the home loop."""
        if self.runner.home.here():
            raise RuntimeError("close() was called from the DataFlow's own loop; use await close_async()")
        if _running_loop() in self.database.loops_with_engines():
            raise RuntimeError("close() was called on an event loop this instance runs I/O on; use await close_async()")
        self.runner.run_sync(self.transactions.rollback_all("the DataFlow instance was closed"))
        self.database.close_engines()
        self.runner.home.stop()
        self._forget_schema()

    async def close_async(self) -> None:
        await self.transactions.rollback_all("the DataFlow instance was closed")  # releases their connections
        await self.database.close_engines_async()
        self.runner.home.stop()
        self._forget_schema()

    def _forget_schema(self) -> None:
        """A closed instance plans its tables again if it is used again."""
        self._stores.clear()
        self.database.metadata.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    async def __aenter__(self):
        await self.initialize()
        return self

    async def __aexit__(self, *exc):
        await self.close_async()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _check_seconds(name: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")


def _check_option(name: str, value, *, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, got {value!r}")
