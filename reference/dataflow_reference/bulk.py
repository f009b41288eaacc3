"""Bulk operations of one model: all-or-nothing, with exact counts.

A bulk write runs in one transaction (or inside the open scope, under a savepoint), so a
failure part-way leaves the table as it was; batches.py names the first record the database refuses.
Each backend's upsert statement and its counts come from its dialect (dialects/).
"""

from sqlalchemy import and_, bindparam, insert, select, tuple_, update
from sqlalchemy import delete as sql_delete

from .batches import batched, write_all
from .crud import ModelStore, utc_now
from .dialects import RESOLUTIONS
from .errors import DeletedRecordError, RecordNotFoundError, ValidationError
from .fastinsert import FastInserter
from .model import SOFT_DELETE_FIELD, TENANT_FIELD

DEFAULT_BATCH_SIZE = 1000
_NEVER_UPDATED = ("id", "created_at", TENANT_FIELD)


class BulkOperations:
    def __init__(self, store: ModelStore):
        self.store, self.spec, self.table, self.db = store, store.spec, store.table, store.db
        self.dialect = store.db.dialect
        self.upserts = self.dialect.upsert

    # -- validation --------------------------------------------------------------------------

    def records(self, data) -> list[dict]:
        if not isinstance(data, list):
            self.store.fail("data", f"must be a list of records, got {type(data).__name__}")
        checked = []
        for index, record in enumerate(data):
            try:
                checked.append(self.store.check_fields(record, where="create", partial=False))
            except ValidationError as exc:
                raise ValidationError(self.spec.name, exc.field, f"data[{index}]: {exc.problem}") from None
        return checked

    def batch_size(self, value) -> int:
        value = DEFAULT_BATCH_SIZE if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.store.fail("batch_size", f"must be a positive integer, got {value!r}")
        # Stay under the server's bind-parameter limit whatever batch size was asked for.
        return min(value, max(1, self.dialect.max_bind_parameters // len(self.table.columns)))

    def stamp(self) -> dict:
        """Values every new row of this call gets: timestamps, and the bound tenant."""
        return self.store.stamped({}, utc_now())

    def where(self, filter, confirmed):  # noqa: A002 - the documented name
        if not filter and confirmed is not True:
            self.store.fail("filter", "is empty: this would touch every row; pass confirmed=True to mean it")
        if confirmed is not None and not isinstance(confirmed, bool):
            self.store.fail("confirmed", f"must be true or false, got {confirmed!r}")
        return self.store.filters.compile(filter or {})

    # -- operations (counts; the records where the express API returns them) ----------------------

    async def bulk_create(self, data, batch_size=None, *, returning=False) -> int | list[dict]:
        """Insert every record or none; the number inserted, or with `returning` the stored records."""
        rows = self.records(data)
        size = self.batch_size(batch_size)
        stamp = self.stamp()
        for row in rows:
            row.update(stamp)
        if not rows:
            return [] if returning else 0
        async with self.store.transaction(write=True) as conn:
            if returning:
                return await self._create_returning(conn, rows, size)
            inserter = self._inserter(conn, list(rows[0]), copy=not self.spec.multi_tenant)
            records = inserter.encode(rows, stamp)
            return await write_all(conn, self.store, batched(inserter.insert, records, list(range(len(rows))), size))

    async def _create_returning(self, conn, rows, size) -> list[dict]:
        """Inserts that hand back the stored records: one INSERT ... RETURNING per batch where the driver
        can return rows from an executemany, else one insert per record."""
        created: list[dict] = []
        if conn.dialect.insert_executemany_returning_sort_by_parameter_order:
            statement = insert(self.table).returning(*self.store.visible_columns, sort_by_parameter_order=True)

            async def execute(connection, batch):
                created.extend(self.store.records_of(await connection.execute(statement, batch)))
                return len(batch)

            size = size if len(rows) > 1 else 1
        else:

            async def execute(connection, batch):
                for row in batch:
                    created.append(await self.store.insert_row(connection, row))
                return len(batch)

        await write_all(conn, self.store, batched(execute, rows, list(range(len(rows))), size))
        return created

    async def update_by_key(self, records, key_field="id") -> list[dict]:
        """The express API's bulk update: each record names its key and the fields to set; every record
        must match one visible record, or nothing is written. Returns the updated records."""
        if not isinstance(records, list):
            self.store.fail("records", f"must be a list of records, got {type(records).__name__}")
        if key_field not in (
            "id",
            *[ix["fields"][0] for ix in self.spec.indexes if ix["unique"] and len(ix["fields"]) == 1],
        ):
            self.store.fail("key_field", f"{key_field!r} is not the id or a unique field")
        changes = []
        for index, record in enumerate(records):
            if not isinstance(record, dict) or key_field not in record:
                self.store.fail("records", f"records[{index}] must be a dict that names {key_field!r}")
            fields = {k: v for k, v in record.items() if k != key_field}
            try:
                values = self.store.check_fields(fields, where="fields", partial=True)
            except ValidationError as exc:
                raise ValidationError(self.spec.name, exc.field, f"records[{index}]: {exc.problem}") from None
            changes.append((record[key_field], values))
        updated = []
        async with self.store.transaction(write=True) as conn:
            for index, (key, values) in enumerate(changes):
                match = self.store.filters.compile({key_field: key}, where=f"records[{index}]")
                stmt = self.store.visible(select(self.table.c.id).where(match)).with_for_update()
                found = (await conn.execute(stmt)).scalars().all()
                if len(found) != 1:
                    raise RecordNotFoundError(
                        f"{self.spec.name}: records[{index}]: no record with {key_field} {key!r}; nothing was written"
                    )
                if values:
                    values["updated_at"] = utc_now()
                    await conn.execute(
                        self.store.visible(update(self.table).where(self.table.c.id == found[0])).values(values)
                    )
                updated.append(await self.store.fetch(conn, found[0]))
        return updated

    async def delete_by_ids(self, ids) -> int:
        """The express API's bulk delete: the visible records with these ids; returns how many."""
        if not isinstance(ids, list):
            self.store.fail("ids", f"must be a list of ids, got {type(ids).__name__}")
        for index, value in enumerate(ids):
            self.store.check_id(value, where=f"ids[{index}]")
        if not ids:
            return 0
        return await self.bulk_delete({"id": {"$in": ids}})

    async def bulk_update(self, filter=None, fields=None, confirmed=None) -> int:  # noqa: A002
        where = self.where(filter, confirmed)
        values = self.store.check_fields(fields, where="fields", partial=True)
        if not values:
            self.store.fail("fields", "names no field to update")
        values["updated_at"] = utc_now()
        async with self.store.transaction(write=True) as conn:
            result = await conn.execute(self.store.visible(update(self.table).where(where)).values(values))
        return result.rowcount

    async def bulk_delete(self, filter=None, confirmed=None) -> int:  # noqa: A002 - the documented name
        where = self.where(filter, confirmed)
        if self.spec.soft_delete:
            stmt = self.store.visible(update(self.table).where(where)).values({SOFT_DELETE_FIELD: utc_now()})
        else:
            stmt = self.store.visible(sql_delete(self.table).where(where))
        async with self.store.transaction(write=True) as conn:
            result = await conn.execute(stmt)
        return result.rowcount

    async def bulk_upsert(
        self, data, conflict_on=None, conflict_resolution="update", batch_size=None, *, returning=False
    ) -> dict:
        """Insert new records; for existing ones (matched on `conflict_on`) set the fields each record
        names (`update`) or leave them alone (`skip`). Fields a record omits keep their stored values.
        Returns the counts (inserted, updated, skipped) and, with `returning`, the records as stored."""
        if conflict_resolution not in RESOLUTIONS:
            self.store.fail("conflict_resolution", f"must be one of {list(RESOLUTIONS)}, got {conflict_resolution!r}")
        rows = self.records(data)
        keys = self._conflict_keys(conflict_on, rows)
        named = [set(record) for record in data]  # the fields each record names (rows add defaults)
        size = self.batch_size(batch_size)
        stamp = self.stamp()
        for row in rows:
            row.update(stamp)
        counts = {"inserted": 0, "updated": 0, "skipped": 0}
        if rows:
            async with self.store.transaction(write=True) as conn:
                await self._refuse_deleted_keys(conn, keys, rows)
                if self._needs_split_upsert(keys):
                    counts = await self._split_upsert(conn, keys, rows, named, conflict_resolution, size)
                else:
                    counts = await self._native_upsert(conn, keys, rows, named, conflict_resolution, size)
                # Again after writing: a record soft-deleted by another transaction since the first check
                # was updated (and so locked) by this one, and is seen here; the whole upsert rolls back.
                await self._refuse_deleted_keys(conn, keys, rows)
                if returning:
                    counts["records"] = await self._records_by_keys(conn, keys, rows)
        elif returning:
            counts["records"] = []
        return counts

    # -- upsert paths --------------------------------------------------------------------------

    async def _native_upsert(self, conn, keys, rows, named, resolution, size) -> dict:
        """One INSERT ... ON CONFLICT / ON DUPLICATE KEY statement per batch of records that name the
        same fields (so each updates exactly the fields its records name)."""
        existing = await self._count_existing(conn, keys, rows, resolution)
        batches = []
        for fields, positions in _group_by(named).items():
            statement = self._upsert_statement(keys, resolution, self._updated_columns(fields, keys))

            if self.upserts.returns_inserted:  # RETURNING tells inserted rows from updated ones

                async def execute(connection, batch, statement=statement):
                    return self.upserts.tally(await connection.execute(statement, batch))

            else:  # affected rows tell enough: the driver's executemany, with values encoded once
                inserter = self._inserter(conn, list(rows[0]), statement=statement)

                async def execute(connection, batch, inserter=inserter):
                    return await inserter.execute(connection, inserter.encode(batch, {}))

            batches += batched(execute, [rows[i] for i in positions], positions, size)
        affected = await write_all(conn, self.store, batches)
        return self.upserts.counts(len(rows), existing, affected, resolution)

    async def _split_upsert(self, conn, keys, rows, named, resolution, size) -> dict:
        """Where the upsert statement fires on any unique key, not just `conflict_on` (the dialect's
        conflicts_on_any_unique_key), it could update a different record of a model with other unique keys.
        Here existing records (locked) are updated by their key and new ones plainly inserted, so a clash on
        another unique key is an error."""
        found = await self._existing_keys(conn, keys, rows, lock=True)
        old = [i for i, row in enumerate(rows) if tuple(row[k] for k in keys) in found]
        new = sorted(set(range(len(rows))) - set(old))
        inserter = self._inserter(conn, list(rows[0]), copy=False)
        batches = batched(inserter.insert, inserter.encode([rows[i] for i in new], {}), new, size)
        if resolution == "update":
            for fields, positions in _group_by([named[i] for i in old]).items():
                statement = self._update_by_key(keys, self._updated_columns(fields, keys))

                async def execute(connection, batch, statement=statement):
                    await connection.execute(statement, batch)
                    return 0

                group = [old[p] for p in positions]
                batches += batched(execute, [_key_params(rows[i], keys) for i in group], group, size)
        await write_all(conn, self.store, batches)
        updated = len(old) if resolution == "update" else 0
        return {"inserted": len(new), "updated": updated, "skipped": len(old) - updated}

    def _inserter(self, conn, columns, **options) -> FastInserter:
        return FastInserter(self.table, conn.dialect, columns, backend=self.dialect, **options)

    def _needs_split_upsert(self, keys) -> bool:
        if not self.upserts.conflicts_on_any_unique_key:
            return False
        unique = [set(ix["fields"]) for ix in self.spec.indexes if ix["unique"]]
        unique += [{"id"}] if self.spec.id_supplied else []
        return any(fields != set(keys) for fields in unique)

    def _updated_columns(self, fields, keys) -> list[str]:
        return [c for c in fields if c not in keys and c not in _NEVER_UPDATED] + ["updated_at"]

    def _upsert_statement(self, keys, resolution, changing):
        keys = [TENANT_FIELD, *keys] if self.spec.multi_tenant else keys  # unique indexes lead with the tenant
        return self.upserts.statement(self.table, keys, resolution, changing)

    def _update_by_key(self, keys, changing):
        match = and_(*(self.table.c[k] == bindparam(f"key_{k}") for k in keys))
        return self.store.visible(update(self.table).where(match)).values({c: bindparam(c) for c in changing})

    def _conflict_keys(self, conflict_on, rows) -> list[str]:
        keys = conflict_on if conflict_on is not None else (["id"] if self.spec.id_supplied else None)
        if not isinstance(keys, list) or not keys:
            self.store.fail("conflict_on", "must be a non-empty list of the unique fields that identify a record")
        self.store._check_conflict_target(keys, {k: None for k in keys})
        seen = {}
        for index, row in enumerate(rows):
            key = tuple(row.get(k) for k in keys)
            if key in seen:
                self.store.fail("data", f"records data[{seen[key]}] and data[{index}] have the same {keys} {list(key)}")
            seen[key] = index
        return keys

    # -- existing keys -----------------------------------------------------------------------

    async def _refuse_deleted_keys(self, conn, keys, rows) -> None:
        """A soft-deleted record keeps its unique key: a record naming that key is refused (neither
        revived nor silently updated while staying deleted)."""
        if not self.spec.soft_delete:
            return
        deleted = await self._existing_keys(conn, keys, rows, deleted=True)
        for index, row in enumerate(rows):
            key = tuple(row[k] for k in keys)
            if key in deleted:
                raise DeletedRecordError(
                    f"{self.spec.name}: record data[{index}] has the {keys} {list(key)} of a deleted record "
                    "(soft delete keeps its key); nothing was written"
                )

    async def _count_existing(self, conn, keys, rows, resolution) -> int:
        """Records whose key already exists, where the server's own result cannot tell (see the
        UpsertDialect of the backend)."""
        if resolution not in self.upserts.count_existing_for:
            return 0
        return len(await self._existing_keys(conn, keys, rows, lock=self.upserts.lock_existing_count))

    async def _records_by_keys(self, conn, keys, rows) -> list[dict]:
        """The visible records holding the keys of `rows`, in the order of `rows`."""
        by_key = {}
        for start in range(0, len(rows), 900 // len(keys)):
            chunk = rows[start : start + 900 // len(keys)]
            stmt = self.store.select_visible().where(self._key_filter(keys, chunk))
            for record in self.store.records_of(await conn.execute(stmt)):
                by_key[tuple(record[k] for k in keys)] = record
        return [by_key[tuple(row[k] for k in keys)] for row in rows]

    def _key_filter(self, keys, rows):
        columns = [self.table.c[k] for k in keys]
        values = [tuple(row[k] for k in keys) for row in rows]
        return tuple_(*columns).in_(values) if len(keys) > 1 else columns[0].in_([v[0] for v in values])

    async def _existing_keys(self, conn, keys, rows, *, lock=False, deleted=False) -> set[tuple]:
        """The keys of `rows` held by visible records (or, with `deleted`, by soft-deleted ones)."""
        columns = [self.table.c[k] for k in keys]
        found = set()
        chunk = max(1, 900 // len(keys))
        for start in range(0, len(rows), chunk):
            stmt = select(*columns).where(self._key_filter(keys, rows[start : start + chunk]))
            if deleted:
                stmt = self.store.of_tenant(stmt).where(self.table.c[SOFT_DELETE_FIELD].is_not(None))
            else:
                stmt = self.store.visible(stmt)
            stmt = stmt.with_for_update() if lock else stmt
            found.update(tuple(row) for row in (await conn.execute(stmt)).all())
        return found


def _group_by(named: list[set]) -> dict[tuple, list[int]]:
    """Positions of the records, grouped by the set of fields they name (in first-seen order)."""
    groups: dict[tuple, list[int]] = {}
    for position, fields in enumerate(named):
        groups.setdefault(tuple(sorted(fields)), []).append(position)
    return groups


def _key_params(row: dict, keys: list[str]) -> dict:
    return {**row, **{f"key_{k}": row[k] for k in keys}}
