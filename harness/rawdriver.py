"""The bare drivers the benchmarks set DataFlow beside: one connection of asyncpg, aiomysql or aiosqlite,
one class per backend behind one interface. Statements are written with `?` placeholders; each class
speaks its driver's own style. `load` is each driver's fastest bulk path, as the reference uses it: COPY
(asyncpg), a multi-row executemany (aiomysql), executemany in one transaction (the synchronous sqlite3
module, with no thread in between).
"""

import datetime as dt
import sqlite3

import aiomysql
import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url


class RawDriver:
    aware_timestamps = False  # the driver binds aware datetimes (else naive UTC)

    def __init__(self, url: str, *, autocommit: bool):
        self.url, self.autocommit = make_url(url), autocommit
        self.conn = None

    def now(self) -> dt.datetime:
        """The current time as the driver binds a timestamp column's value."""
        now = dt.datetime.now(dt.timezone.utc)
        return now if self.aware_timestamps else now.replace(tzinfo=None)

    async def open(self) -> "RawDriver":
        raise NotImplementedError

    async def fetch(self, sql: str, *args) -> list:
        """The rows of one statement (autocommit), as tuples."""
        raise NotImplementedError

    async def fetch_in_transaction(self, sql: str, *args, write: bool = False) -> list:
        """The rows of one statement in a transaction of its own (`write`: one that takes the write lock)."""
        raise NotImplementedError

    async def load(self, table: str, columns: list[str], rows: list[tuple], *, upsert_key=None, updated=()):
        """Insert `rows` in one transaction by the driver's fastest path; with `upsert_key`, a row whose key
        exists sets the `updated` columns instead (the database's own upsert statement)."""
        raise NotImplementedError

    async def close(self) -> None:
        await self.conn.close()


class Asyncpg(RawDriver):
    aware_timestamps = True

    async def open(self):
        u = self.url
        self.conn = await asyncpg.connect(
            user=u.username, password=u.password, host=u.host, port=u.port or 5432, database=u.database
        )
        return self

    @staticmethod
    def _numbered(sql: str, count: int) -> str:
        return sql.replace("?", "{}").format(*[f"${i + 1}" for i in range(count)])

    async def fetch(self, sql, *args):
        return await self.conn.fetch(self._numbered(sql, len(args)), *args)

    async def fetch_in_transaction(self, sql, *args, write=False):
        async with self.conn.transaction():
            return await self.conn.fetch(self._numbered(sql, len(args)), *args)

    async def load(self, table, columns, rows, *, upsert_key=None, updated=()):
        async with self.conn.transaction():
            if upsert_key is None:
                await self.conn.copy_records_to_table(table, records=rows, columns=columns)
                return
            changes = ", ".join(f"{c} = excluded.{c}" for c in updated)
            marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
            await self.conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
                f"ON CONFLICT ({upsert_key}) DO UPDATE SET {changes}",
                rows,
            )


class Aiomysql(RawDriver):
    async def open(self):
        u = self.url
        self.conn = await aiomysql.connect(
            user=u.username,
            password=u.password or "",
            host=u.host,
            port=u.port or 3306,
            db=u.database,
            autocommit=self.autocommit,
        )
        return self

    async def fetch(self, sql, *args):
        async with self.conn.cursor() as cur:
            await cur.execute(sql.replace("?", "%s"), args)
            return await cur.fetchall()

    async def fetch_in_transaction(self, sql, *args, write=False):
        rows = await self.fetch(sql, *args)
        await self.conn.commit()
        return rows

    async def load(self, table, columns, rows, *, upsert_key=None, updated=()):
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        if upsert_key is not None:
            sql += " ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = VALUES({c})" for c in updated)
        async with self.conn.cursor() as cur:
            await cur.executemany(sql, rows)
        await self.conn.commit()

    async def close(self):
        self.conn.close()


class Aiosqlite(RawDriver):
    async def open(self):
        self.conn = await aiosqlite.connect(self.url.database)
        return self

    async def fetch(self, sql, *args):
        async with self.conn.execute(sql, args) as cur:
            return await cur.fetchall()

    async def fetch_in_transaction(self, sql, *args, write=False):
        await self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        async with self.conn.execute(sql, args) as cur:
            rows = await cur.fetchall()
        await self.conn.commit()
        return rows

    async def load(self, table, columns, rows, *, upsert_key=None, updated=()):
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})"
        if upsert_key is not None:
            changes = ", ".join(f"{c} = excluded.{c}" for c in updated)
            sql += f" ON CONFLICT ({upsert_key}) DO UPDATE SET {changes}"
        as_text = [tuple(str(v) if isinstance(v, dt.datetime) else v for v in row) for row in rows]
        with sqlite3.connect(self.url.database) as conn:  # commits on success
            conn.executemany(sql, as_text)
        conn.close()


RAW_DRIVERS = {"postgresql": Asyncpg, "mysql": Aiomysql, "sqlite": Aiosqlite}


def raw_driver(backend: str, url: str, *, autocommit: bool = True) -> RawDriver:
    """A (not yet open) connection of `backend`'s bare driver to `url`."""
    return RAW_DRIVERS[backend](url, autocommit=autocommit)
