"""The express API: the documented direct calls (docs/contract/api.md), no workflow.

`db.express` is async; `db.express_sync` offers the same calls for synchronous code. Each call validates
like the nodes and runs the same store operation (operations.py); the answers take the documented express
shapes: records as dicts or None, `count` an int, `delete` a bool, `list` a list. A call given
`transaction_id=...` (a scope opened by TransactionScopeNode) runs inside that scope.
"""

from .errors import ValidationError


class Express:
    def __init__(self, dataflow):
        self._db = dataflow

    async def _call(self, model: str, method: str, *, bulk=False, transaction_id=None, **arguments):
        db = self._db
        if not isinstance(model, str) or model not in db.models:
            raise ValidationError(str(model), None, f"unknown model; registered: {sorted(db.models)}")
        scope = db.transactions.get(transaction_id, f"run express {method}") if transaction_id else None
        tenant = db.tenant_context.get_current_tenant()
        return await db.runner.run(
            db.call_store(model, method, arguments, bulk=bulk, scope=scope, tenant=tenant, caller=f"express {method}")
        )

    async def create(self, model, data, *, transaction_id=None):
        return await self._call(model, "create", data=data, transaction_id=transaction_id)

    async def read(self, model, id, *, transaction_id=None):  # noqa: A002 - the documented name
        """The record, or None."""
        return await self._call(model, "read", id=id, raise_on_not_found=False, transaction_id=transaction_id)

    async def update(self, model, id, fields, *, transaction_id=None):  # noqa: A002
        """The updated record, or None when no record has this id."""
        return await self._call(model, "update", filter={"id": id}, fields=fields, transaction_id=transaction_id)

    async def delete(self, model, id, *, transaction_id=None):  # noqa: A002
        """True when a record was deleted."""
        return await self._call(model, "delete", id=id, transaction_id=transaction_id)

    async def list(self, model, filter=None, limit=100, offset=0, order_by=None, *, transaction_id=None):  # noqa: A002
        """A page of records; `order_by` is one field name, `-` in front for descending."""
        if order_by is not None and not isinstance(order_by, str):
            raise ValidationError(model, "order_by", f"must be a field name ('age', '-age'), got {order_by!r}")
        return await self._call(
            model,
            "list",
            filter=filter,
            order_by=None if order_by is None else [order_by],
            limit=limit,
            offset=offset,
            transaction_id=transaction_id,
        )

    async def find_one(self, model, filter, *, transaction_id=None):  # noqa: A002
        """The first record matching the filter in the default order (by id), or None."""
        records = await self.list(model, filter, limit=1, transaction_id=transaction_id)
        return records[0] if records else None

    async def count(self, model, filter=None, *, transaction_id=None):  # noqa: A002
        return await self._call(model, "count", filter=filter, transaction_id=transaction_id)

    async def upsert(self, model, data, conflict_on=None, *, transaction_id=None):
        """Insert `data`, or set its other fields on the record with the same `conflict_on` values (default:
        id); returns the record."""
        keys = ["id"] if conflict_on is None else conflict_on
        if not isinstance(data, dict):
            raise ValidationError(model, "data", f"must be a dict of field values, got {type(data).__name__}")
        if not isinstance(keys, list):
            raise ValidationError(model, "conflict_on", f"must be a list of field names, got {keys!r}")
        where = {k: data[k] for k in keys if k in data}
        update = {k: v for k, v in data.items() if k not in keys}
        answer = await self.upsert_advanced(model, where, data, update, keys, transaction_id=transaction_id)
        return answer["record"]

    async def upsert_advanced(self, model, where, create, update=None, conflict_on=None, *, transaction_id=None):
        """The UpsertNode's form: {"created", "action", "record"}; `update` defaults to `create`."""
        if update is None and isinstance(create, dict) and isinstance(where, dict):
            update = {k: v for k, v in create.items() if k not in where}
        created, record = await self._call(
            model,
            "upsert",
            where=where,
            create=create,
            update=update,
            conflict_on=conflict_on,
            transaction_id=transaction_id,
        )
        return {"created": created, "action": "created" if created else "updated", "record": record}

    async def bulk_create(self, model, records, *, transaction_id=None):
        """Every record or none; returns the stored records."""
        return await self._call(
            model, "bulk_create", bulk=True, data=records, returning=True, transaction_id=transaction_id
        )

    async def bulk_update(self, model, records, key_field="id", *, transaction_id=None):
        """Each record names its key (`key_field`) and the fields to set; every record must exist, or
        nothing is written. Returns the updated records."""
        return await self._call(
            model, "update_by_key", bulk=True, records=records, key_field=key_field, transaction_id=transaction_id
        )

    async def bulk_delete(self, model, ids, *, transaction_id=None):
        """Delete the records with these ids; True when the call succeeded."""
        await self._call(model, "delete_by_ids", bulk=True, ids=ids, transaction_id=transaction_id)
        return True

    async def bulk_upsert(self, model, records, conflict_on=None, batch_size=1000, *, transaction_id=None):
        """{"records", "created", "updated", "total"}: new records inserted, existing ones (matched on
        `conflict_on`, default id) given the fields each names."""
        answer = await self._call(
            model,
            "bulk_upsert",
            bulk=True,
            data=records,
            conflict_on=conflict_on,
            batch_size=batch_size,
            returning=True,
            transaction_id=transaction_id,
        )
        total = answer["inserted"] + answer["updated"] + answer["skipped"]
        return {
            "records": answer["records"],
            "created": answer["inserted"],
            "updated": answer["updated"],
            "total": total,
        }


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
