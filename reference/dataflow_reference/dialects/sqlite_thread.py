"""aiosqlite's connection with one hand-off to its thread per statement.

aiosqlite runs every call on the connection's own thread, and SQLAlchemy's adapter makes four calls per
statement (open a cursor, execute, fetch the rows, close the cursor) and one per BEGIN and COMMIT: a read
crossed between the event loop and that thread five times, a create eight, each a wake-up of both. Here a
statement, its rows and the cursor's close are one call; a BEGIN goes with the transaction's first
statement, and a commit or rollback with no transaction open (a read runs without BEGIN, see sqlite.py)
is no call: a read crosses once, a create twice (BEGIN and the INSERT, then COMMIT).

Everything else (connecting, closing, stopping the thread, isolation level, functions) is aiosqlite's.
`Connection._execute` (queue a call on the thread, await its answer) is the one private name used; it is
what aiosqlite's own cursor calls, and a self-test fails if it changes.
"""

import sqlite3

import aiosqlite


class StatementConnection(aiosqlite.Connection):
    begin: str | None = None  # a BEGIN that runs with the next statement

    def defer_begin(self, statement: str) -> None:
        """Begin the transaction with `statement` (BEGIN IMMEDIATE, say) in the same call as its first
        statement: nothing runs on the connection in between, so nothing can tell the difference."""
        self.begin = statement

    def cursor(self) -> "StatementCursor":
        return StatementCursor(self)

    async def commit(self) -> None:
        await self._end(super().commit)

    async def rollback(self) -> None:
        await self._end(super().rollback)

    async def _end(self, end) -> None:
        if self.begin is not None:  # begun and ended with no statement in between: nothing ran
            self.begin = None
        elif self._conn.in_transaction:  # sqlite3 reads this without running anything on the connection
            await end()


def connect(*args, **kwargs) -> StatementConnection:
    """Like aiosqlite.connect: `await` it to open the connection (arguments as sqlite3.connect's)."""
    return StatementConnection(lambda: sqlite3.connect(*args, **kwargs), iter_chunk_size=64)


class StatementCursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor (not a server-side one: the reference streams no
    results). `execute` runs the statement, fetches every row and closes the sqlite3 cursor in one call on the
    connection's thread; the rest answers from what that call brought back."""

    def __init__(self, connection: StatementConnection):
        self._connection = connection
        self.description = self.rowcount = self.lastrowid = None  # set by every statement, read after it
        self._rows: list = []

    async def __aenter__(self) -> "StatementCursor":
        return self

    async def execute(self, sql: str, parameters=()) -> "StatementCursor":
        await self._run(sqlite3.Cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters) -> "StatementCursor":
        await self._run(sqlite3.Cursor.executemany, sql, parameters)
        return self

    async def _run(self, method, sql, parameters) -> None:
        connection = self._connection
        begin, connection.begin = connection.begin, None
        self.description, self.rowcount, self.lastrowid, self._rows = await connection._execute(
            _statement, connection._conn, begin, method, sql, parameters
        )

    async def fetchall(self) -> list:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


def _statement(connection: sqlite3.Connection, begin: str | None, method, sql, parameters):
    """On the connection's thread: the deferred BEGIN, the statement, its rows, then the counts (a DML
    statement's rowcount is final once its RETURNING rows are read)."""
    if begin is not None:
        connection.execute(begin)
    cursor = connection.cursor()
    try:
        method(cursor, sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()
