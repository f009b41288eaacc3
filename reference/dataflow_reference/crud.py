"""The single-record operations of one model: validate everything first, then one transaction.

Parameters carry the documented node inputs' names (operations.py maps nodes and the express API onto
them); results are plain values (a record or None, a count), shaped for nodes once, in operations.py.
All coroutines here run on the event loop that does the operation's I/O (see runner.py).
"""

import asyncio
import datetime as dt
import random

from sqlalchemy import String, bindparam, delete, func, insert, select
from sqlalchemy import update as sql_update

from .errors import ConflictError, DeletedRecordError, IntegrityError, RecordNotFoundError, ValidationError
from .fieldtypes import check_value
from .model import SOFT_DELETE_FIELD, TENANT_FIELD, ModelSpec
from .query import FilterCompiler
from .tenancy import require_tenant
from .transactions import CURRENT

UPSERT_RETRIES = 5
CONFLICT_BACKOFF = 0.005  # seconds: the longest first pause after a deadlock between upserts, doubled each time


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ModelStore:
    def __init__(self, spec: ModelSpec, table, database):
        self.spec, self.table, self.db = spec, table, database
        self.filters = FilterCompiler(
            spec, table, database.dialect, visible=set(spec.column_names) - {SOFT_DELETE_FIELD}
        )
        self.visible_columns = [table.c[name] for name in spec.column_names if name != SOFT_DELETE_FIELD]
        # Built once: reusing a statement object reuses its compiled form and cache key.
        by_id = table.c.id == bindparam("record_id")
        self._by_id = self.select_visible().where(by_id)
        self._insert_returning = insert(table).returning(*self.visible_columns)
        if spec.soft_delete:
            self._delete_by_id = self.visible(sql_update(table).where(by_id))
        else:
            self._delete_by_id = self.visible(delete(table).where(by_id))

    # -- validation --------------------------------------------------------------------------

    def fail(self, field, problem):
        raise ValidationError(self.spec.name, field, problem)

    def check_id(self, value, *, where="id"):
        if value is None:
            self.fail(where, "is required")
        if problem := check_value(self.spec.id_kind, value):
            self.fail(where, problem)
        return value

    def check_fields(self, data, *, where: str, partial: bool) -> dict:
        """Validate user field values; `partial` (updates) allows omitting required fields."""
        if not isinstance(data, dict):
            self.fail(where, f"must be a dict of field values, got {type(data).__name__}")
        allowed = set(self.spec.fields) | ({"id"} if self.spec.id_supplied and not partial else set())
        for name in data:
            if name not in allowed:
                if name in ("id", "created_at", "updated_at", SOFT_DELETE_FIELD, TENANT_FIELD):
                    self.fail(name, f"is managed by DataFlow and cannot be set in {where}")
                self.fail(name, f"unknown field in {where}; fields: {sorted(allowed)}")
        values = {}
        if "id" in allowed:
            values["id"] = self.check_id(data.get("id"))
        for name, spec in self.spec.fields.items():
            if name not in data:
                if partial:
                    continue
                if spec.required:
                    self.fail(name, "is required")
                values[name] = spec.default_value()
                continue
            value = data[name]
            if value is None:
                if not spec.nullable:
                    self.fail(name, "cannot be None (the field is not Optional)")
            elif problem := check_value(spec.kind, value, indexed=spec.indexed):
                self.fail(name, problem)
            values[name] = value
        return values

    def check_page(self, limit, offset):
        for name, value in (("limit", limit), ("offset", offset)):
            if value is None and name == "limit":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self.fail(name, f"must be a non-negative integer, got {value!r}")

    # -- statements --------------------------------------------------------------------------

    def transaction(self, *, write: bool):
        return self.db.transaction(write=write, describe=lambda message: f"{self.spec.name}: {self.violation(message)}")

    def violation(self, message: str) -> str:
        """A database's constraint message told in terms of the model: which unique fields clashed."""
        table = self.table.name
        for index in self.spec.indexes:
            fields = index["fields"]
            if index["unique"] and (index["name"] in message or all(f"{table}.{f}" in message for f in fields)):
                return f"another record already has this {', '.join(fields)} ({message})"
        if any(mark in message for mark in (f"{table}_pkey", "PRIMARY", f"{table}.id")):
            return f"another record already has this id ({message})"
        return f"constraint violated ({message})"

    def visible(self, stmt):
        """Restrict a SELECT / UPDATE / DELETE to the rows this operation may see: not soft-deleted,
        and of the bound tenant."""
        if self.spec.soft_delete:
            stmt = stmt.where(self.table.c[SOFT_DELETE_FIELD].is_(None))
        return self.of_tenant(stmt)

    def of_tenant(self, stmt):
        """Restrict a statement to the bound tenant's rows (read when the statement runs, so prebuilt
        statements stay correct)."""
        if self.spec.multi_tenant:
            tenant = bindparam("dfr_tenant", callable_=self.tenant, type_=String())
            stmt = stmt.where(self.table.c[TENANT_FIELD] == tenant)
        return stmt

    def in_scope(self) -> bool:
        scope = CURRENT.get()
        return scope is not None and scope.database is self.db

    def tenant(self) -> str:
        return require_tenant(self.spec.name)

    def stamped(self, values: dict, now) -> dict:
        """A row to insert: the values plus timestamps, and the bound tenant on a multi-tenant model."""
        row = {**values, "created_at": now, "updated_at": now}
        if self.spec.multi_tenant:
            row[TENANT_FIELD] = self.tenant()
        return row

    def record(self, row) -> dict:
        return dict(row._mapping)

    @staticmethod
    def records_of(result) -> list[dict]:
        """Every row of a result as a record, its keys looked up once (a row's mapping is built per row)."""
        keys = tuple(result.keys())
        return [dict(zip(keys, row, strict=True)) for row in result]

    def select_visible(self):
        """SELECT of the record fields of the rows this operation may see."""
        return self.visible(select(*self.visible_columns))

    async def fetch(self, conn, record_id):
        row = (await conn.execute(self._by_id, {"record_id": record_id})).first()
        return None if row is None else self.record(row)

    async def _insert(self, conn, values: dict) -> dict:
        return await self.insert_row(conn, self.stamped(values, utc_now()))

    async def insert_row(self, conn, row: dict) -> dict:
        """Insert a row that carries its timestamps (and tenant); return the stored record."""
        if conn.dialect.insert_returning:
            return self.record((await conn.execute(self._insert_returning, row)).one())
        result = await conn.execute(insert(self.table), row)
        record_id = row.get("id", result.inserted_primary_key[0])
        return await self.fetch(conn, record_id)

    # -- operations --------------------------------------------------------------------------

    async def create(self, data: dict) -> dict:
        values = self.check_fields(data, where="create", partial=False)
        async with self.transaction(write=True) as conn:
            return await self._insert(conn, values)

    async def read(self, id, raise_on_not_found=True) -> dict | None:  # noqa: A002 - the documented name
        self.check_id(id)
        if not isinstance(raise_on_not_found, bool):
            self.fail("raise_on_not_found", f"must be true or false, got {raise_on_not_found!r}")
        async with self.transaction(write=False) as conn:
            found = await self.fetch(conn, id)
        if found is None and raise_on_not_found:
            raise RecordNotFoundError(f"{self.spec.name}: no record with id {id!r}")
        return found

    async def update(self, filter, fields) -> dict | None:  # noqa: A002 - the documented name
        """The updated record, or None when no record matches every key of the filter."""
        if not isinstance(filter, dict) or "id" not in filter:
            self.fail("filter", "must identify the record with an 'id' key (plus optional guard keys)")
        record_id = self.check_id(filter["id"], where="filter.id")
        where = self.filters.compile(filter)
        values = self.check_fields(fields, where="fields", partial=True)
        if not values:
            self.fail("fields", "names no field to update")
        values["updated_at"] = utc_now()
        async with self.transaction(write=True) as conn:
            result = await conn.execute(self.visible(sql_update(self.table).where(where)).values(values))
            if result.rowcount == 0:
                return None
            return await self.fetch(conn, record_id)

    async def delete(self, id) -> bool:  # noqa: A002 - the documented name
        self.check_id(id)
        params = {"record_id": id} | ({SOFT_DELETE_FIELD: utc_now()} if self.spec.soft_delete else {})
        async with self.transaction(write=True) as conn:
            result = await conn.execute(self._delete_by_id, params)
        return result.rowcount > 0

    async def list(self, filter=None, order_by=None, limit=None, offset=0) -> list[dict]:  # noqa: A002
        where = self.filters.compile(filter)
        ordering = self.filters.order_by(order_by)
        self.check_page(limit, offset)
        stmt = self.select_visible().where(where).order_by(*ordering)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        async with self.transaction(write=False) as conn:
            return self.records_of(await conn.execute(stmt))

    async def count(self, filter=None) -> int:  # noqa: A002 - the documented name
        where = self.filters.compile(filter)
        stmt = self.visible(select(func.count()).select_from(self.table).where(where))
        async with self.transaction(write=False) as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def upsert(self, where, create=None, update=None, conflict_on=None) -> tuple[bool, dict]:
        """(created, the record): insert `where` + `create`, or set `update` on the record matching
        `conflict_on` (default: the keys of `where`)."""
        if not isinstance(where, dict) or not where:
            self.fail("where", "must be a non-empty dict of field values that identify the record")
        conflict_on = list(where) if conflict_on is None else conflict_on
        self._check_conflict_target(conflict_on, where)
        create_values = self.check_fields({**where, **(create or {})}, where="create", partial=False)
        update_values = self.check_fields(update or {}, where="update", partial=True)
        match = self.filters.compile({name: where[name] for name in conflict_on}, where="where")
        for attempt in range(UPSERT_RETRIES):
            try:
                return await self._upsert_once(match, create_values, update_values)
            except DeletedRecordError:
                raise
            except (IntegrityError, ConflictError) as exc:
                # A concurrent writer inserted the same key between our read and insert (or the
                # server broke a deadlock between two such writers): the next attempt finds the row.
                # Not inside a scope after a conflict: the server rolled back the scope's whole
                # transaction, and a retry would commit this upsert without the scope's earlier writes.
                if attempt == UPSERT_RETRIES - 1 or isinstance(exc, ConflictError) and self.in_scope():
                    raise
                if isinstance(exc, ConflictError):
                    # InnoDB's deadlock between upserts of one new key (their lookups' gap locks): the winner
                    # inserts once the losers stand back, and a loser that came straight back would take a
                    # gap lock again before that insert. A random pause, longer each time, lets it through.
                    await asyncio.sleep(random.uniform(0, CONFLICT_BACKOFF * 2**attempt))

    async def _upsert_once(self, match, create_values, update_values):
        async with self.transaction(write=True) as conn:
            # Soft-deleted records too; locked (a database without row locks holds its write lock instead).
            stmt = self.of_tenant(select(*self.table.c).where(match)).with_for_update()
            existing = (await conn.execute(stmt)).first()
            if existing is None:
                return True, await self._insert(conn, create_values)
            if self.spec.soft_delete and existing._mapping[SOFT_DELETE_FIELD] is not None:
                raise DeletedRecordError(
                    f"{self.spec.name}: the record matching where was deleted (soft delete keeps its key); "
                    "it is neither revived nor duplicated"
                )
            record_id = existing._mapping["id"]
            if update_values:
                values = {**update_values, "updated_at": utc_now()}
                await conn.execute(
                    self.visible(sql_update(self.table).where(self.table.c.id == record_id)).values(values)
                )
            return False, await self.fetch(conn, record_id)

    def _check_conflict_target(self, conflict_on, where):
        if not isinstance(conflict_on, list) or not conflict_on:
            self.fail("conflict_on", "must be a non-empty list of field names")
        missing = [name for name in conflict_on if name not in where]
        if missing:
            self.fail("conflict_on", f"field(s) {missing} must also appear in where")
        unique_sets = [{"id"}] + [set(ix["fields"]) for ix in self.spec.indexes if ix["unique"]]
        if set(conflict_on) not in unique_sets:
            self.fail(
                "conflict_on",
                f"{sorted(conflict_on)} is not backed by a unique index; upserts need one to be atomic "
                f"(declare it in __dataflow__['indexes'])",
            )
