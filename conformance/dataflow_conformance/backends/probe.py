"""An independent view of the database: a synchronous SQLAlchemy connection through a
different driver than the implementation's, used to arrange data and to check what was really written."""

import datetime as dt
import os
import time
from pathlib import Path

from sqlalchemy import MetaData, Table, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool

from .registry import BY_NAME, backend_of_scheme
from .resolve import probe_engine

# (database URL, table) -> (the columns it was reflected with, the reflected Table), for every probe of the process
_REFLECTED: dict[tuple[str, str], tuple[tuple, Table]] = {}


class Probe:
    """`Probe(url)`: a URL through the kit's own driver (postgresql+psycopg, mysql+pymysql, sqlite)."""

    def __init__(self, url):
        url = make_url(url)
        self.features = BY_NAME[backend_of_scheme(url.get_backend_name())]  # the backend's registry entry
        if self.features.server:
            # One pooled connection serves the reads: a new server connection is a process PostgreSQL forks and
            # warms up, and a test reads through the probe dozens of times. `connections()` runs on that
            # connection and so leaves it out; pre-ping replaces it when a test ended it (FAULT ends every
            # other session). Reads from other threads meanwhile get connections of their own, closed after.
            pool = {"poolclass": QueuePool, "pool_size": 1, "max_overflow": -1, "pool_pre_ping": True}
        else:
            pool = {"poolclass": NullPool}  # an open handle on the file would count as the implementation's
        self.engine = probe_engine(url, isolation_level="AUTOCOMMIT", **pool)
        self._database = url.render_as_string()  # its part of the reflection cache's keys

    def close(self) -> None:
        self.engine.dispose()

    # Each method reads on one connection (reflection included), checked out for that read only.

    def tables(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(inspect(conn).get_table_names())

    def columns(self, table: str) -> dict[str, dict]:
        with self.engine.connect() as conn:
            return {c["name"]: c for c in inspect(conn).get_columns(table)}

    def indexes(self, table: str) -> list[dict]:
        with self.engine.connect() as conn:
            inspector = inspect(conn)
            found = list(inspector.get_indexes(table))
            # Some backends report unique constraints separately from unique indexes.
            for constraint in inspector.get_unique_constraints(table):
                found.append({"name": constraint["name"], "column_names": constraint["column_names"], "unique": True})
        return found

    def _columns(self, conn, name: str) -> tuple:
        """The table's columns as one catalog query sees them (none when the table does not exist)."""
        return tuple(tuple(row) for row in conn.execute(text(self.features.columns_sql), {"table": name}))

    def _table(self, conn, name: str, columns: tuple | None = None) -> Table:
        """The table as the database has it now. Reflecting it cost most of a test's probing on a server (dozens
        of catalog queries built by SQLAlchemy); tests drop and make the same tables again and again, so a table
        is reflected again only when the database's columns differ from those it was reflected with."""
        columns = self._columns(conn, name) if columns is None else columns
        key = (self._database, name)
        known = _REFLECTED.get(key)
        if known is None or known[0] != columns:
            known = _REFLECTED[key] = (columns, Table(name, MetaData(), autoload_with=conn))
        return known[1]

    def rows(self, table: str, *, where: str | None = None, **params) -> list[dict]:
        """Every row of `table` ordered by id, as dicts of the raw driver's values."""
        with self.engine.connect() as conn:
            t = self._table(conn, table)
            stmt = select(t).order_by(t.c.id)
            if where:
                stmt = stmt.where(text(where)).params(**params)
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def count(self, table: str) -> int:
        """Rows in `table`; 0 when the table does not exist (nothing was ever written)."""
        with self.engine.connect() as conn:
            columns = self._columns(conn, table)
            if not columns:
                return 0
            t = self._table(conn, table, columns)
            return conn.execute(select(func.count()).select_from(t)).scalar_one()

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def query(self, sql: str, **params) -> list[dict]:
        """Rows of a query as dicts (no reflection: for hot loops such as state-machine checks)."""
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]

    def column(self, sql: str, **params) -> list:
        """The first column of every row the query returns."""
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).scalars())

    def execute(self, sql: str, **params) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(sql), params)

    def insert(self, table: str, rows: list[dict]) -> list[int]:
        """Insert rows one by one (so ids follow their order), with `created_at` / `updated_at` set to now
        unless given; returns their primary keys. A column that stores time zones gets an aware UTC
        datetime, any other a naive one (UTC, as the contract stores every timestamp)."""
        now = dt.datetime.now(dt.timezone.utc)
        ids = []
        with self.engine.connect() as conn:
            t = self._table(conn, table)
            stamps = {}
            for name in ("created_at", "updated_at"):
                if name in t.c:
                    stamps[name] = now if getattr(t.c[name].type, "timezone", False) else now.replace(tzinfo=None)
            for row in rows:
                result = conn.execute(t.insert(), {**stamps, **row})
                ids.append(row.get("id", result.inserted_primary_key[0]))
        return ids

    def snapshot(self, table: str) -> list[tuple]:
        """A comparable picture of a table, to prove that a failed operation changed nothing."""
        return [tuple(sorted((k, repr(v)) for k, v in row.items())) for row in self.rows(table)]

    def connections_after_close(self, grace: float = 2.0) -> int:
        """`connections()` once the server has ended the sessions whose sockets a close() just closed: a server
        ends a session a moment after it reads its client's end, so the count is read again for up to `grace`
        seconds while it is not 0 (short: a connection left open stays open, and no garbage collector is awaited)."""
        deadline = time.monotonic() + grace
        while (count := self.connections()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return count

    def connections(self, *, busy: bool = False) -> int:
        """Connections to this database other than the probe's own: sessions on a server (`busy`: only
        those running a statement), this process's open file handles on an embedded database file."""
        if self.features.server:
            return self.scalar(self.features.count_sessions_sql(busy=busy))
        database = self.engine.url.database
        fds = Path("/proc/self/fd")
        if not database or not fds.exists():
            raise RuntimeError("counting SQLite file handles needs a database file and Linux /proc")
        path = os.path.realpath(database)
        return sum(1 for fd in fds.iterdir() if os.path.realpath(fd).startswith(path))
