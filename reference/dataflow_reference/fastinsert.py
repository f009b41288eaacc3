"""The fastest insert path each backend offers, for bulk create (and bulk upsert's statement).

Values are converted with SQLAlchemy's own bind processors for each column (so they are
stored exactly as a normal insert would store them), then handed to the driver in one call
per batch: COPY where the dialect has it (PostgreSQL: asyncpg `copy_records_to_table`; not for tables
under row-level security, which COPY FROM does not support: asyncpg's pipelined executemany), else the
driver's `executemany` inside the open transaction (aiomysql rewrites it into multi-row statements within
`max_allowed_packet`). An INSERT with an ON CONFLICT / ON DUPLICATE KEY clause goes the same way
(`statement`), without COPY.
"""

from operator import itemgetter

from sqlalchemy import insert


class FastInserter:
    def __init__(self, table, dialect, columns: list[str], *, backend, copy: bool = True, statement=None):
        """`dialect`: SQLAlchemy's, which compiles; `backend`: the reference's (dialects/), which may COPY."""
        self.table, self.columns, self.backend = table, columns, backend
        self.copy = copy and statement is None and backend.bulk_copy
        processors = {}
        for name in columns:
            column_type = table.c[name].type
            processors[name] = column_type.dialect_impl(dialect).bind_processor(dialect)
        compiled = (insert(table) if statement is None else statement).compile(dialect=dialect, column_keys=columns)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup) if compiled.positiontup else columns
        self._processors = [processors[name] for name in self.order]
        self._getter = itemgetter(*self.order)

    def encode(self, rows: list[dict], constants: dict) -> list[tuple]:
        """Driver values in statement order; `constants` (same value in every row) are encoded once, and so
        is a value that is the very same object as the row before's (the call's timestamps, its tenant)."""
        fixed = [
            (i, self._processors[i](constants[name]) if self._processors[i] else constants[name])
            for i, name in enumerate(self.order)
            if name in constants
        ]
        varying = [
            (i, process)
            for i, (name, process) in enumerate(zip(self.order, self._processors, strict=True))
            if process is not None and name not in constants
        ]
        getter, single = self._getter, len(self.order) == 1
        if not varying and not fixed:  # nothing to convert: the driver takes the values as they are
            return [(getter(row),) for row in rows] if single else [getter(row) for row in rows]
        last = [(None, None)] * len(self.order)  # (the value, its encoding) of the row before
        records = []
        for row in rows:
            values = [getter(row)] if single else list(getter(row))
            for i, process in varying:
                value = values[i]
                if value is not None:
                    seen, encoded = last[i]
                    if value is not seen:
                        encoded = process(value)
                        last[i] = (value, encoded)
                    values[i] = encoded
            for i, value in fixed:
                values[i] = value
            records.append(tuple(values))
        return records

    async def insert(self, conn, records: list[tuple]) -> int:
        if self.copy:
            await self.backend.copy_records(conn, self.table, records, self.order)
        else:
            await conn.exec_driver_sql(self.sql, records)
        return len(records)

    async def execute(self, conn, records: list[tuple]) -> int:
        """Run the statement for every record (executemany); returns the rows it affected."""
        return max((await conn.exec_driver_sql(self.sql, records)).rowcount, 0)
