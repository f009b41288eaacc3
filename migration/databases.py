"""Plain synchronous connections to either side, for reading rows independently of any DataFlow
implementation: Django's tables (the source) and the tables DataFlow wrote (checked by `verify`)."""

import contextlib

from dataflow_conformance.backends.resolve import probe_engine, probe_url
from sqlalchemy import text
from sqlalchemy.engine import make_url

from .schema import Table, canonical


@contextlib.contextmanager
def connect(url: str):
    """A connection through the kit's own driver for the backend (the registry's probe_driver): never the
    one a DataFlow implementation uses to write."""
    parsed = make_url(url)
    engine = probe_engine(probe_url(parsed, parsed.database))
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def source_rows(connection, table: Table) -> dict[int, tuple]:
    """Django's rows of `table`, canonical, by Django id."""
    return _rows(connection, table, table.source_sql)


def target_rows(connection, table: Table, prefix: str) -> dict[int, tuple]:
    """The rows a DataFlow implementation stored for `table`, canonical, by Django id."""
    return _rows(connection, table, f"SELECT {', '.join(table.columns)} FROM {table_name(table, prefix)}")


def table_name(table: Table, prefix: str) -> str:
    return f"{prefix}_{table.name}"


def _rows(connection, table: Table, sql: str) -> dict[int, tuple]:
    rows = {}
    for values in connection.execute(text(sql)):
        row = canonical(table, values)
        rows[row[0]] = row
    return rows
