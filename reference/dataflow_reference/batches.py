"""Bulk writes in batches, all or nothing: every batch runs under one savepoint; when the database
refuses one, the batches are replayed under another savepoint, the failing one row by row, to name the
first record that fails, and everything is undone."""

from dataclasses import dataclass

from .driver_errors import connection_broken, driver_message, is_integrity_error
from .errors import ConnectionLostError, DatabaseError, IntegrityError


@dataclass
class Batch:
    """Rows written by one statement: `await execute(conn, rows)` returns its tally."""

    execute: object
    rows: list
    positions: list[int]  # each row's index in the caller's data


def batched(execute, rows, positions, size) -> list[Batch]:
    return [Batch(execute, rows[i : i + size], positions[i : i + size]) for i in range(0, len(rows), size)]


async def write_all(conn, store, batches: list[Batch]) -> int:
    """Every batch, all or nothing; returns the sum of their tallies. `store` (crud.ModelStore) names the
    model and tells a constraint violation in its terms."""
    name, dialect = store.spec.name, store.db.dialect
    savepoint = await conn.begin_nested()
    total, failed_at = 0, 0
    try:
        for failed_at in range(len(batches)):
            total += await batches[failed_at].execute(conn, batches[failed_at].rows)
    except Exception as exc:  # the driver's own error (COPY bypasses SQLAlchemy) or SQLAlchemy's
        if await connection_broken(conn, exc, dialect):  # no record to blame, and nothing left to replay on
            raise ConnectionLostError(
                f"{name}: lost the connection to {dialect.name} during the bulk write "
                f"({driver_message(exc)}); nothing was written"
            ) from None
        await savepoint.rollback()
        culprit = await _first_failing_record(conn, batches, failed_at)
        who = f"{name}: record data[{culprit}]" if culprit is not None else f"{name}: a batch"
        if is_integrity_error(exc, dialect):
            raise IntegrityError(
                f"{who} was refused: {store.violation(driver_message(exc))}; nothing was written"
            ) from None
        raise DatabaseError(f"{who} was refused: {driver_message(exc)}; nothing was written") from None
    await savepoint.commit()
    return total


async def _first_failing_record(conn, batches, failed_at) -> int | None:
    """Replay the batches before the failing one, then its rows one by one; undo it all.
    None when every row passes alone (the batch failed as a whole)."""
    savepoint = await conn.begin_nested()
    try:
        for batch in batches[:failed_at]:
            await batch.execute(conn, batch.rows)
        failing = batches[failed_at]
        for row, position in zip(failing.rows, failing.positions, strict=True):
            try:
                await failing.execute(conn, [row])
            except Exception:
                return position
        return None
    finally:
        await savepoint.rollback()
