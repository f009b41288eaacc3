"""Transaction scopes that span several workflow nodes.

A scope checks out one connection and begins a transaction on the instance's home loop, where it
lives until it ends: its nodes may run on any loop (the scope's methods and the operations inside it
go to the home loop), and its timeout fires whether or not a caller's loop is running.
Database nodes chained to it (by its `transaction_id`, or through LocalRuntime's workflow
context) use that connection, one operation at a time (parallel branches of a workflow take
turns). The scope ends with commit or rollback; it is rolled back by itself when a database node
inside it fails (rollback_on_error) or when its timeout passes (a workflow that never reaches its
commit node). With rollback_on_error=False each operation runs under a savepoint instead, so a
failing node undoes only its own writes.
"""

import asyncio
import contextlib
import contextvars
import itertools

from sqlalchemy.exc import DBAPIError

from .driver_errors import commit
from .errors import TransactionError
from .runner import on_home

# The transaction the current home-loop task runs in (set per operation).
CURRENT = contextvars.ContextVar("dataflow_reference_transaction", default=None)
CONTEXT_KEY = "dataflow_transaction_id"
_ids = itertools.count(1)


class ActiveTransaction:
    """Lives on the home loop; owns one connection until commit or rollback."""

    def __init__(self, database, *, rollback_on_error: bool, timeout: float):
        self.database = database
        self.home = database.home
        self.id = f"tx-{next(_ids)}"
        self.rollback_on_error = rollback_on_error
        self.timeout = timeout
        self.state = "new"  # new -> active -> committed | rolled_back
        self.reason = ""
        self.connection = None
        self._root = None
        self._savepoints: dict[str, object] = {}
        self._writer = None  # a single-writer database's slot, held for the whole scope
        self._busy: asyncio.Lock | None = None  # one operation at a time on the connection
        self._timer = None
        self._expiry: asyncio.Task | None = None  # kept: the loop holds tasks only weakly
        self.on_end = None  # set by the registry

    @property
    def active(self) -> bool:
        return self.state == "active"

    @on_home
    async def begin(self) -> None:
        self._busy = asyncio.Lock()
        engine = await self.database.engine()
        if self.database.writer is not None:  # a single-writer database: hold the writer's slot for the whole scope
            try:
                await self.database.writer.acquire(timeout=self.timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"cannot begin a transaction scope: {self.database.dialect.label}'s single writer stayed busy for "
                    f"its timeout of {self.timeout}s"
                ) from None
            self._writer = self.database.writer
        try:
            self.connection = await engine.connect()
            options = self.database.dialect.transaction_options(write=True, tenant=None)
            if options:
                await self.connection.execution_options(**options)
            self._root = await self.connection.begin()
        except BaseException:
            await self._release()
            raise
        self.state = "active"
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self._expire)

    def _expire(self) -> None:
        self._expiry = asyncio.get_running_loop().create_task(self.rollback(f"timed out after {self.timeout}s"))

    @contextlib.asynccontextmanager
    async def operation(self, action: str):
        """The scope's connection for one operation, once the operations before it have finished.
        Without rollback_on_error the operation runs under a savepoint that undoes it if it fails."""
        async with self._busy:
            self.require_active(action)
            if self.rollback_on_error:
                yield self.connection
                return
            savepoint = await self.connection.begin_nested()
            try:
                yield self.connection
            except BaseException as exc:
                # A conflict (deadlock, serialisation failure) may have ended the whole transaction on the server,
                # savepoint included (InnoDB's does): the conflict itself goes up, and the scope is rolled back.
                conflict = isinstance(exc, DBAPIError) and self.database.dialect.is_conflict(exc)
                if savepoint.is_active and not self.connection.invalidated and not conflict:
                    await savepoint.rollback()
                raise
            await savepoint.commit()

    def require_active(self, action: str) -> None:
        if not self.active:
            detail = f" ({self.reason})" if self.reason else ""
            raise TransactionError(f"cannot {action}: transaction {self.id} is {self.state.replace('_', ' ')}{detail}")

    @on_home
    async def commit(self) -> None:
        async with self._busy:
            self.require_active("commit")
            try:
                await commit(self.connection, self._root, self.database.dialect)
                self.state = "committed"
            finally:
                if self.state != "committed":
                    self.state, self.reason = "rolled_back", "commit failed"
                await self._release()

    @on_home
    async def rollback(self, reason: str = "rolled back") -> bool:
        """Roll back if still open (after the running operation); returns whether it rolled back."""
        async with self._busy:
            if not self.active:
                return False
            self.state, self.reason = "rolled_back", reason
            try:
                await self._root.rollback()
            finally:
                await self._release()
            return True

    @on_home
    async def abandon(self, reason: str) -> None:
        """End the scope without talking to the server (its connection is stuck mid-statement):
        the connection is discarded, and the server rolls the transaction back when it goes."""
        async with self._busy:
            if not self.active:
                return
            self.state, self.reason = "rolled_back", reason
            try:
                await self.connection.invalidate()
            finally:
                await self._release()

    @on_home
    async def savepoint(self, name: str) -> None:
        async with self._busy:
            self.require_active(f"create savepoint {name!r}")
            if name in self._savepoints:
                raise TransactionError(f"savepoint {name!r} already exists in transaction {self.id}")
            self._savepoints[name] = await self.connection.begin_nested()

    @on_home
    async def rollback_to(self, name: str) -> None:
        async with self._busy:
            self.require_active(f"roll back to savepoint {name!r}")
            if name not in self._savepoints:
                known = sorted(self._savepoints)
                raise TransactionError(f"no savepoint {name!r} in transaction {self.id}; known: {known}")
            names = list(self._savepoints)
            for later in names[names.index(name) + 1 :]:  # savepoints made after it are undone with it
                del self._savepoints[later]
            await self._savepoints.pop(name).rollback()

    async def _release(self) -> None:
        if self.on_end is not None:
            self.on_end(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            if self.connection is not None:
                await self.connection.close()
        finally:
            self.connection = None
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.release()


class TransactionRegistry:
    """The scopes of one DataFlow instance by id: how nodes find the scope they were chained to
    (AsyncLocalRuntime gives nodes no shared context, only their connected inputs)."""

    KEEP_ENDED = 200  # ended scopes kept to explain "not open" errors

    def __init__(self, home):
        self.home = home
        self._open: dict[str, ActiveTransaction] = {}
        self._ended: dict[str, ActiveTransaction] = {}

    @on_home
    async def begin(self, transaction: ActiveTransaction) -> None:
        """Register and begin `transaction` (on the home loop, where it also ends). Registered while it
        waits to begin (close() ends it too); forgotten if it never begins."""
        self._open[transaction.id] = transaction
        transaction.on_end = self._ended_callback
        try:
            await transaction.begin()
        except BaseException:
            self._open.pop(transaction.id, None)
            raise

    def _ended_callback(self, transaction: ActiveTransaction) -> None:
        self._open.pop(transaction.id, None)
        self._ended[transaction.id] = transaction
        while len(self._ended) > self.KEEP_ENDED:
            self._ended.pop(next(iter(self._ended)))

    def get(self, transaction_id: str, action: str) -> ActiveTransaction:
        transaction = self._open.get(transaction_id) or self._ended.get(transaction_id)
        if transaction is None:
            raise TransactionError(
                f"cannot {action}: no transaction scope {transaction_id!r} on this DataFlow instance"
            )
        transaction.require_active(action)
        return transaction

    async def rollback_all(self, reason: str) -> None:
        if self._open:
            await self._rollback_open(reason)

    @on_home
    async def _rollback_open(self, reason: str) -> None:
        for transaction in list(self._open.values()):
            await transaction.rollback(reason)
