"""Transaction scopes that span several workflow nodes.

A scope checks out one connection and begins a transaction on the instance's home loop.
Database nodes that run while it is open (same workflow context, same DataFlow instance) use
that connection. The scope ends with commit or rollback; it is rolled back by itself when a
database node inside it fails (rollback_on_error), when its timeout passes, or when the
workflow context that held it is garbage collected without ending it.
"""

import asyncio
import contextvars
import itertools
import weakref

from .errors import TransactionError

# The transaction the current home-loop task runs in (set per node execution).
CURRENT = contextvars.ContextVar("dataflow_reference_transaction", default=None)
CONTEXT_KEY = "dataflow_transaction"
_ids = itertools.count(1)


class ActiveTransaction:
    """Lives on the home loop; owns one connection until commit or rollback."""

    def __init__(self, database, *, rollback_on_error: bool, timeout: float):
        self.database = database
        self.id = f"tx-{next(_ids)}"
        self.rollback_on_error = rollback_on_error
        self.timeout = timeout
        self.state = "new"  # new -> active -> committed | rolled_back
        self.reason = ""
        self.connection = None
        self._root = None
        self._savepoints: dict[str, object] = {}
        self._lock = None
        self._timer = None

    @property
    def active(self) -> bool:
        return self.state == "active"

    async def begin(self) -> None:
        await self.database.connect()
        self._lock = self.database.sqlite_lock  # SQLite: hold the single-writer lock for the whole scope
        if self._lock is not None:
            await asyncio.wait_for(self._lock.acquire(), timeout=self.timeout)
        try:
            self.connection = await self.database.engine.connect()
            if self.database.backend == "sqlite":
                await self.connection.execution_options(dfr_begin="IMMEDIATE")
            self._root = await self.connection.begin()
        except BaseException:
            await self._release()
            raise
        self.state = "active"
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.timeout, lambda: loop.create_task(self.rollback(f"timed out after {self.timeout}s")))

    def require_active(self, action: str) -> None:
        if not self.active:
            detail = f" ({self.reason})" if self.reason else ""
            raise TransactionError(f"cannot {action}: transaction {self.id} is {self.state.replace('_', ' ')}{detail}")

    async def commit(self) -> None:
        self.require_active("commit")
        try:
            await self._root.commit()
            self.state = "committed"
        finally:
            if self.state != "committed":
                self.state, self.reason = "rolled_back", "commit failed"
            await self._release()

    async def rollback(self, reason: str = "rolled back") -> bool:
        """Roll back if still open; returns whether anything was rolled back."""
        if not self.active:
            return False
        self.state, self.reason = "rolled_back", reason
        try:
            await self._root.rollback()
        finally:
            await self._release()
        return True

    async def savepoint(self, name: str) -> None:
        self.require_active(f"create savepoint {name!r}")
        if name in self._savepoints:
            raise TransactionError(f"savepoint {name!r} already exists in transaction {self.id}")
        self._savepoints[name] = await self.connection.begin_nested()

    async def rollback_to(self, name: str) -> None:
        self.require_active(f"roll back to savepoint {name!r}")
        if name not in self._savepoints:
            raise TransactionError(f"no savepoint {name!r} in transaction {self.id}; known: {sorted(self._savepoints)}")
        names = list(self._savepoints)
        for later in names[names.index(name) + 1:]:  # savepoints made after it are undone with it
            del self._savepoints[later]
        await self._savepoints.pop(name).rollback()

    async def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            if self.connection is not None:
                await self.connection.close()
        finally:
            self.connection = None
            if self._lock is not None and self._lock.locked():
                self._lock.release()
            self._lock = None


class TransactionHandle:
    """What the workflow context holds: rolls the transaction back if dropped while still open."""

    def __init__(self, dataflow, transaction: ActiveTransaction):
        self.dataflow = dataflow
        self.transaction = transaction
        self._finalizer = weakref.finalize(self, _rollback_abandoned, dataflow.runner, transaction)

    @property
    def id(self) -> str:
        return self.transaction.id


def _rollback_abandoned(runner, transaction: ActiveTransaction) -> None:
    if transaction.active:
        loop = runner.loop_if_running()
        if loop is not None:
            asyncio.run_coroutine_threadsafe(transaction.rollback("abandoned: the workflow ended without commit"), loop)
