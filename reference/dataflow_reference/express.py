"""The express API: direct calls with the nodes' validation and semantics, no workflow.

`db.express` is async; `db.express_sync` offers the same calls for synchronous code. Single-record
shapes follow the published DataFlow express API (records as dicts or None, `count` an int, `delete` a
bool); bulk calls take the bulk nodes' inputs and return their counts. A call given
`transaction_id=...` (a scope opened by TransactionScopeNode) runs inside that scope.
"""


class Express:
    def __init__(self, dataflow):
        self._db = dataflow

    async def _call(self, model: str, method: str, *, bulk=False, transaction_id=None, **arguments):
        db = self._db
        if not isinstance(model, str) or model not in db.models:
            from .errors import ValidationError

            raise ValidationError(str(model), None, f"unknown model; registered: {sorted(db.models)}")
        scope = db.transactions.get(transaction_id, f"run express {method}") if transaction_id else None
        tenant = db.tenant_context.get_current_tenant()
        return await db.runner.run(
            db.call_store(model, method, arguments, bulk=bulk, scope=scope, tenant=tenant, caller=f"express {method}")
        )

    async def create(self, model, data, **options):
        return await self._call(model, "create", data=data, **options)

    async def read(self, model, id, raise_on_not_found=False, **options):  # noqa: A002 - the documented name
        found = await self._call(model, "read", record_id=id, raise_on_not_found=raise_on_not_found, **options)
        return _without(found, "found") if found.get("found") else None

    async def update(self, model, id, fields, **options):  # noqa: A002
        result = await self._call(model, "update", filter_spec={"id": id}, fields=fields, **options)
        return _without(result, "updated") if result.get("updated") else None

    async def delete(self, model, id, **options):  # noqa: A002
        return (await self._call(model, "delete", record_id=id, **options))["deleted"]

    async def list(self, model, filter=None, limit=None, offset=0, order_by=None, **options):  # noqa: A002
        result = await self._call(
            model, "list", filter_spec=filter, order_by=order_by, limit=limit, offset=offset, **options
        )
        return result["records"]

    async def find_one(self, model, filter=None, order_by=None, **options):  # noqa: A002
        records = await self.list(model, filter, limit=1, order_by=order_by, **options)
        return records[0] if records else None

    async def count(self, model, filter=None, **options):  # noqa: A002
        return (await self._call(model, "count", filter_spec=filter, **options))["count"]

    async def upsert(self, model, data, conflict_on=None, **options):
        """Insert `data`, or update the record with the same `conflict_on` values (default: id)."""
        keys = conflict_on or ["id"]
        if not isinstance(data, dict):
            return await self._call(
                model, "upsert", where=data, conflict_on=keys, **options
            )  # rejected with a clear error
        where = {k: data[k] for k in keys if k in data}
        update = {k: v for k, v in data.items() if k not in keys}
        return await self.upsert_advanced(model, where, create=data, update=update, conflict_on=keys, **options)

    async def upsert_advanced(self, model, where, create=None, update=None, conflict_on=None, **options):
        """The UpsertNode's form: separate `where`, `create` and `update`."""
        return await self._call(
            model, "upsert", where=where, create=create, update_fields=update, conflict_on=conflict_on, **options
        )

    async def bulk_create(self, model, records, batch_size=None, **options):
        return await self._call(model, "bulk_create", bulk=True, data=records, batch_size=batch_size, **options)

    async def bulk_update(self, model, filter, fields, confirmed=None, **options):  # noqa: A002
        return await self._call(
            model, "bulk_update", bulk=True, filter_spec=filter, fields=fields, confirmed=confirmed, **options
        )

    async def bulk_delete(self, model, filter, confirmed=None, **options):  # noqa: A002
        return await self._call(model, "bulk_delete", bulk=True, filter_spec=filter, confirmed=confirmed, **options)

    async def bulk_upsert(
        self, model, records, conflict_on=None, conflict_resolution="update", batch_size=None, **options
    ):
        return await self._call(
            model,
            "bulk_upsert",
            bulk=True,
            data=records,
            conflict_on=conflict_on,
            conflict_resolution=conflict_resolution,
            batch_size=batch_size,
            **options,
        )


class ExpressSync:
    """The express API for synchronous code: each call blocks until the database answers."""

    def __init__(self, express: Express, runner):
        self._express, self._runner = express, runner

    def __getattr__(self, name):
        call = getattr(self._express, name)
        if name.startswith("_") or not callable(call):
            raise AttributeError(name)

        def blocking(*args, **kwargs):
            return self._runner.run_sync(call(*args, **kwargs))

        blocking.__name__ = name
        return blocking


def _without(record: dict, key: str) -> dict:
    return {k: v for k, v in record.items() if k != key}
