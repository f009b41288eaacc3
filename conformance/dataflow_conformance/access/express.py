"""The express access paths: the documented direct API (`db.express`, `db.express_sync`).

`ExpressPath.node("UserCreateNode", params)` makes the documented express call for that operation
(`db.express.create("User", params)`) and reports the answer in the node's shape, so one conformance test
checks a clause through workflows and through the express API alike. Only documented express forms are
called (docs/contract/api.md): a node input the express API has no form for (guard keys in an update
filter, a bulk update by filter, `batch_size` on a bulk create) raises NotOnThisPath, a defect of the test,
which must then name the paths it applies to.
"""

import contextvars

from ..contract.operations import parse_node_type
from ..exceptions import blocked_by
from .callerloop import CallerLoop
from .concurrency import in_tasks, in_threads
from .protocol import EXPRESS_PATHS, NotOnThisPath, WorkflowFailed, implements
from .workflow import bound

# Operations whose node form (by filter) has no documented express form: the express API updates and
# deletes bulk records by key (`bulk_update(model, records)`, `bulk_delete(model, ids)`).
NODE_ONLY_OPERATIONS = frozenset({"bulk_update", "bulk_delete"})


@implements(*EXPRESS_PATHS)
class ExpressPath:
    runs_workflows = False

    def __init__(self, name: str):
        if name not in EXPRESS_PATHS:
            raise ValueError(f"unknown express path {name!r}; known: {EXPRESS_PATHS}")
        self.name = name  # "express": the async API awaited on an event loop; "express_sync"
        self.db = None
        self._loop = CallerLoop() if name == "express" else None

    def bind(self, db) -> None:
        self.db = db

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()

    def run(self, builder, *, db=None):
        raise NotOnThisPath("workflows are not an express operation")

    def node(self, node_type: str, params: dict, *, db=None) -> dict:
        call, shape = _express_form(node_type, params)
        api = self._api(db)
        try:
            answer = self._await(call(api))
        except Exception as exc:
            raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc
        return shape(answer)

    def call(self, method: str, *args, db=None, **kwargs):
        """A documented express call that has no node form (`bulk_delete(model, ids)`), made as this path's
        users make it (awaited, or called synchronously); its answer is returned as it is."""
        return self._await(getattr(self._api(db), method)(*args, **kwargs))

    def concurrently(self, calls: list[tuple[str, dict]], *, db=None, tenants=None, threads: int = 32) -> list:
        """Concurrent tasks on one loop (express) or a pool of threads (express_sync), each with its tenant
        bound when `tenants` is given."""
        if self._loop is None:
            return in_threads(
                lambda: bound(ExpressPath(self.name), self.db), calls, run_one=lambda path, call: path.node(*call, db=db),
                db=db, tenants=tenants, threads=threads,
            )  # fmt: skip
        api = self._api(db)

        async def one(call):
            express_call, shape = _express_form(*call)
            try:
                answer = await express_call(api)
            except Exception as exc:
                raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc
            return shape(answer)

        every = in_tasks(calls, run_one=one, db=db or self.db, tenants=tenants)
        return self._loop.run(every, context=contextvars.copy_context())

    def _api(self, db):
        target = db or self.db
        if target is None:
            raise NotOnThisPath("no DataFlow instance is bound to the express path (make_dataflow binds one)")
        api = getattr(target, "express" if self.name == "express" else "express_sync", None)
        if api is None:
            raise WorkflowFailed(f"the implementation has no db.{self.name} API")
        return api

    def _await(self, result):
        if self._loop is not None:  # awaited in a copy of the caller's context, like the caller's own await
            return self._loop.run(result, context=contextvars.copy_context())
        return result


def _express_form(node_type: str, params: dict):
    parsed = parse_node_type(node_type)
    if parsed is None:
        raise NotOnThisPath(f"{node_type} is no model operation: the express API has no form for it")
    model, operation = parsed
    return EXPRESS_FORMS[operation.name](model, dict(params))


# -- node form -> documented express form ----------------------------------------------------------
# Each entry: (model, node params) -> (call(api) -> the express answer, shape(answer) -> node output).


def _unexpected(params: dict, operation: str, accepted: set[str]) -> None:
    extra = sorted(set(params) - accepted)
    if extra:
        raise NotOnThisPath(f"express {operation} has no form for {extra}")


def _create(model, p):
    return (lambda api: api.create(model, p)), _record


def _read(model, p):
    _unexpected(p, "read", {"id", "raise_on_not_found"})
    record_id, raise_missing = p.get("id"), p.get("raise_on_not_found", True)

    def shape(record):
        if record is None:
            if raise_missing:
                raise WorkflowFailed(f"{model}: no record with id {record_id!r} (express read returned None)")
            return {"id": record_id, "found": False}
        return {**_record(record), "found": True}

    return (lambda api: api.read(model, record_id)), shape


def _update(model, p):
    _unexpected(p, "update", {"filter", "fields"})
    filter_spec = p.get("filter") or {}
    if set(filter_spec) != {"id"}:
        raise NotOnThisPath("express.update takes an id: guard keys in an update filter are a node feature")
    record_id = filter_spec["id"]

    def shape(record):
        return {"id": record_id, "updated": False} if record is None else {**_record(record), "updated": True}

    return (lambda api: api.update(model, record_id, p.get("fields"))), shape


def _delete(model, p):
    _unexpected(p, "delete", {"id"})
    return (lambda api: api.delete(model, p.get("id"))), lambda deleted: {"id": p.get("id"), "deleted": deleted}


def _order_by(order_by):
    """A node's order_by as the express API's one-field string ("age", "-age")."""
    if order_by is None:
        return None
    keys = order_by if isinstance(order_by, list) else [order_by]
    if len(keys) != 1:
        raise NotOnThisPath("express.list orders by one field: a multi-key order_by is a node feature")
    (key,) = keys
    if isinstance(key, dict) and len(key) == 1:
        ((field, direction),) = key.items()
        return field if direction == 1 else f"-{field}"
    if isinstance(key, str):
        return key
    raise NotOnThisPath(f"express.list has no form for order_by={order_by!r}")


def _list(model, p):
    _unexpected(p, "list", {"filter", "order_by", "limit", "offset"})
    kwargs = {k: p[k] for k in ("filter", "limit", "offset") if p.get(k) is not None}
    if p.get("order_by") is not None:
        kwargs["order_by"] = _order_by(p["order_by"])

    def shape(records):
        _check_type(records, list, "express.list")
        return {"records": [_record(r) for r in records], "count": len(records), "limit": p.get("limit"),
                "offset": p.get("offset", 0)}  # fmt: skip

    return (lambda api: api.list(model, **kwargs)), shape


def _count(model, p):
    _unexpected(p, "count", {"filter"})
    kwargs = {"filter": p["filter"]} if p.get("filter") is not None else {}

    def shape(count):
        _check_type(count, int, "express.count")
        return {"count": count}

    return (lambda api: api.count(model, **kwargs)), shape


def _upsert(model, p):
    _unexpected(p, "upsert", {"where", "create", "update", "conflict_on"})

    def call(api):
        # The node changes nothing on an existing record unless told to; upsert_advanced defaults update to create.
        return api.upsert_advanced(model, p.get("where"), p.get("create"), p.get("update", {}), p.get("conflict_on"))

    return call, lambda result: _check_type(result, dict, "express.upsert_advanced")


def _bulk_create(model, p):
    _unexpected(p, "bulk_create", {"data"})

    def shape(records):
        # The write is done; an answer of another shape than the documented list is BULK-012's to judge: a
        # test of another clause that writes through it is blocked, not failed (it cannot read the answer).
        with blocked_by("BULK-012"):
            _check_type(records, list, "express.bulk_create")
        return {"processed": len(records), "inserted": len(records), "success": True}

    return (lambda api: api.bulk_create(model, p.get("data"))), shape


def _bulk_update(model, p):
    raise NotOnThisPath("express.bulk_update takes records by key: an update by filter is a node feature")


def _bulk_delete(model, p):
    raise NotOnThisPath("express.bulk_delete takes ids and answers true/false: a delete by filter is a node feature")


def _bulk_upsert(model, p):
    _unexpected(p, "bulk_upsert", {"data", "conflict_on", "conflict_resolution", "batch_size"})
    if p.get("conflict_resolution", "update") != "update":
        raise NotOnThisPath("express.bulk_upsert always updates: conflict_resolution='skip' is a node feature")

    def shape(result):
        _check_type(result, dict, "express.bulk_upsert")
        if result.get("success") is False:  # a failure reported as data
            raise WorkflowFailed(f"express.bulk_upsert failed: {result.get('error')}")
        created, updated = result.get("created"), result.get("updated")
        return {"processed": result.get("total"), "inserted": created, "updated": updated, "skipped": 0,
                "success": True}  # fmt: skip

    options = {k: p[k] for k in ("conflict_on", "batch_size") if p.get(k) is not None}
    return (lambda api: api.bulk_upsert(model, p.get("data"), **options)), shape


def _record(record):
    return _check_type(record, dict, "the express API")


def _check_type(value, expected: type, what: str):
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise WorkflowFailed(f"{what} returned {type(value).__name__} {value!r:.200}, documented: {expected.__name__}")
    return value


EXPRESS_FORMS = {
    "create": _create,
    "read": _read,
    "update": _update,
    "delete": _delete,
    "list": _list,
    "count": _count,
    "upsert": _upsert,
    "bulk_create": _bulk_create,
    "bulk_update": _bulk_update,
    "bulk_delete": _bulk_delete,
    "bulk_upsert": _bulk_upsert,
}
