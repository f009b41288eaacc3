"""SQLite (aiosqlite): an embedded database in a file, or in memory on one shared connection.

One writer at a time (the instance serialises its writers across loops), transactions begun by
SQLAlchemy (`BEGIN IMMEDIATE` for writes, none for a read: one statement needs none), LIKE made
case-sensitive, and Decimal stored as fixed-scale text (SQLite's NUMERIC is a float) that compares and
sorts by an exact key function registered on every connection.
"""

import asyncio
from decimal import Decimal

import aiosqlite
from sqlalchemy import Integer, String, event, func
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..fieldtypes import DECIMAL_PRECISION, DECIMAL_SCALE, WIDE_CONTEXT, quantize
from . import sqlite_thread
from .base import Dialect, ExactDecimal, UpsertDialect

DECIMAL_KEY = "dfr_decimal_key"  # the key function's name in SQL
_DECIMAL_WIDTH = DECIMAL_PRECISION + 1  # digits and the point
_NINES = str.maketrans("0123456789", "9876543210")


def decimal_key(value) -> str | None:
    """Text whose order is the numeric order of fixed-scale decimals: how SQLite compares and sorts
    Decimal fields exactly (a REAL cast would round past 15 significant digits)."""
    if value is None:
        return None
    number = quantize(Decimal(value))
    digits = f"{number.copy_abs():0{_DECIMAL_WIDTH}.{DECIMAL_SCALE}f}"  # exact (abs() rounds to 28 digits)
    return "1" + digits if number >= 0 else "0" + digits.translate(_NINES)


class TextDecimal(ExactDecimal):
    """Fixed-scale text: every Decimal of the field's range, exactly."""

    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(String(DECIMAL_PRECISION + 2))

    def process_bind_param(self, value, dialect):
        if value is None or not isinstance(value, (Decimal, int)):
            return value
        return (
            f"{WIDE_CONTEXT.plus(quantize(Decimal(value))):f}"  # plus(): one text for zero ("-0" is 0, as on servers)
        )


async def connect(*args, **kwargs) -> aiosqlite.Connection:
    """A connection with one hand-off to its thread per statement (sqlite_thread.py), awaited on the
    running loop, except that a connect that fails (or is cancelled) returns only once aiosqlite's worker
    thread has ended.

    aiosqlite then stops its thread without awaiting the stop (`Connection._connect` calls `stop()` and
    drops the future it returns); the thread's last act answers that future on this loop. Left to itself,
    the answer may come after the loop has closed (the home loop of a health check that failed to connect
    is closed by the `close()` that follows at once): `RuntimeError: Event loop is closed` in the thread.
    """
    connection = sqlite_thread.connect(*args, **kwargs)
    worker = connection._thread
    worker.daemon = True  # as SQLAlchemy's adapter makes it: a connection left open does not hold up exit
    try:
        return await connection
    except BaseException:
        if worker.ident is not None:  # started (aiosqlite starts it before it connects)
            await _ended(worker)
        raise


async def _ended(thread) -> None:
    """Wait until `thread` has ended, through cancellations (re-raised after it)."""
    joined = asyncio.get_running_loop().run_in_executor(None, thread.join)
    cancelled = False
    while not joined.done():
        try:
            await asyncio.shield(joined)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


class SQLiteUpsert(UpsertDialect):
    """The write lock is held, so counting the existing keys first is exact."""

    def statement(self, table, keys, resolution, changing):
        stmt = sqlite_insert(table)
        if resolution == "skip":
            return stmt.on_conflict_do_nothing(index_elements=keys)
        return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in changing})


class SQLiteDialect(Dialect):
    name = "sqlite"
    label = "SQLite"
    schemes = ("sqlite", "sqlite+aiosqlite")
    async_driver = "sqlite+aiosqlite"
    server = False
    single_writer = True  # one writer; serialising writers here (across loops) avoids lock-upgrade failures
    loop_bound = False  # aiosqlite: each connection works on a thread of its own and answers any loop's calls
    version_query = "select sqlite_version()"
    upsert = SQLiteUpsert()

    def check_url(self, url, shown):
        return None  # a file path, or memory

    def is_memory(self, url) -> bool:
        return url.database in (None, "", ":memory:")

    def connect_arguments(self, url):
        # async_creator_fn: SQLAlchemy's aiosqlite adapter connects with it instead of aiosqlite.connect.
        return url, {"timeout": 30, "async_creator_fn": connect}

    def configure_engine(self, engine, *, in_memory: bool) -> None:
        @event.listens_for(engine.sync_engine, "connect")
        def on_connect(dbapi_connection, _record):
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA case_sensitive_like = ON")  # LIKE is case-sensitive on every backend
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 30000")
            dbapi_connection.create_function(DECIMAL_KEY, 1, decimal_key, deterministic=True)
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def on_begin(conn):
            mode = conn.get_execution_options().get("dfr_begin", "")
            if mode != "NONE":  # run with the transaction's first statement (sqlite_thread.py)
                conn.connection.driver_connection.defer_begin(f"BEGIN {mode}".strip())

    def transaction_options(self, *, write, tenant):
        # A read is one statement: SQLite just skips BEGIN. A write takes the write lock at once.
        return {"dfr_begin": "IMMEDIATE" if write else "NONE"}

    def decimal_type(self):
        return TextDecimal()

    def generated_id_type(self):
        return Integer()  # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY

    def comparable(self, column, kind):
        return getattr(func, DECIMAL_KEY)(column) if kind == "decimal" else column

    def comparable_value(self, kind, value):
        return decimal_key(value) if kind == "decimal" else value

    def require_not_null(self, conn, table, column) -> None:
        pass  # SQLite cannot alter a column; the model keeps NULL out
