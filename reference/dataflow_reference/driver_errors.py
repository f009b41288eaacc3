"""How the driver's and SQLAlchemy's errors become the reference's own (errors.py), and the one place a
lost connection can leave an outcome unknown: COMMIT. The dialect says what a conflict is and whether a
driver's connection is closed; the messages name the backend."""

import contextlib

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import greenlet_spawn

from .errors import (
    ConflictError,
    ConnectionLostError,
    DatabaseError,
    IntegrityError,
    OutcomeUnknownError,
    PoolTimeoutError,
)


@contextlib.contextmanager
def translated_errors(dialect, describe=None):
    """Raise the reference's error for a failure of the database; `describe(message)` tells a constraint
    violation in terms of the model."""
    backend = dialect.name
    try:
        yield
    except sa_exc.IntegrityError as exc:
        message = driver_message(exc)
        raise IntegrityError(describe(message) if describe else f"constraint violated: {message}") from None
    except sa_exc.TimeoutError as exc:  # the pool had no free connection within pool_timeout
        raise PoolTimeoutError(f"{backend}: no database connection became free in time ({exc})") from None
    except sa_exc.DBAPIError as exc:
        if dialect.is_conflict(exc):
            raise ConflictError(f"{backend} aborted the transaction: {driver_message(exc)}") from None
        if exc.connection_invalidated:
            raise ConnectionLostError(
                f"lost the connection to {backend} ({driver_message(exc)}); the server rolls back a transaction left open"
            ) from exc
        raise DatabaseError(f"{backend} error: {driver_message(exc)}") from exc


async def commit(conn: AsyncConnection, root, dialect, *, close: bool = False) -> None:
    """Commit `root` (and with `close`, give `conn` back to its pool in the same switch into SQLAlchemy's
    greenlet). A connection lost while the COMMIT may have reached the server leaves the outcome unknown,
    and the error says so; one already lost before it never sent it (the server rolls back)."""
    backend = dialect.name
    if conn.invalidated or dialect.driver_closed(conn.sync_connection.connection.driver_connection):
        raise ConnectionLostError(
            f"lost the connection to {backend} before COMMIT; the server rolls back a transaction left open"
        )
    transaction, connection = root.sync_transaction, conn.sync_connection

    def commit_and_close() -> None:
        transaction.commit()
        if close:
            connection.close()

    try:
        await greenlet_spawn(commit_and_close)
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


async def connection_broken(conn, exc, dialect) -> bool:
    """Whether `exc` left `conn` unusable (nothing more can run on it)."""
    if conn.invalidated or getattr(exc, "connection_invalidated", False):
        return True
    return dialect.driver_closed((await conn.get_raw_connection()).driver_connection)


def is_integrity_error(exc, dialect) -> bool:
    """A constraint violation, raised through SQLAlchemy or by the driver itself (COPY)."""
    return isinstance(exc, sa_exc.IntegrityError) or dialect.is_integrity_error(exc)
