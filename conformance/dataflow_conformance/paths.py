"""The express access paths: the same operations as the generated nodes, called directly.

`ExpressPath.node("UserCreateNode", params)` calls `db.express.create("User", params)` (or
`db.express_sync`) and returns what the node would return, so one conformance test checks a
clause through workflows and through the express API alike.
"""

import asyncio
import contextvars
import re

from .flow import WorkflowFailed, in_threads

_NODE = re.compile(
    r"^(?P<model>\w+?)(?P<op>Create|Read|Update|Delete|List|Count|Upsert|BulkCreate|BulkUpdate|BulkDelete|BulkUpsert)Node$"
)


class NotOnThisPath(Exception):
    """The test used something the express API does not have: mark the test `workflow_only`."""


class ExpressPath:
    def __init__(self, runtime: str):
        self.runtime = runtime  # "express" (async API on an event loop) or "express_sync"
        self.db = None  # the test's DataFlow instance (set by make_dataflow)
        self._loop_runner = asyncio.Runner() if runtime == "express" else None

    def close(self) -> None:
        if self._loop_runner is not None:
            self._loop_runner.close()

    def run(self, builder, *, db=None):
        raise NotOnThisPath("workflows are not an express operation")

    def node(self, node_type: str, params: dict, *, db=None) -> dict:
        match = _NODE.match(node_type)
        if match is None:
            raise WorkflowFailed(f"{node_type}: no such node (express path)")
        target = db or self.db
        if target is None:
            raise NotOnThisPath("no DataFlow instance to call express on")
        api = getattr(target, "express" if self.runtime == "express" else "express_sync", None)
        if api is None:
            raise WorkflowFailed(f"the implementation has no db.{self.runtime} API")
        model, op = match["model"], match["op"]
        try:
            return _TRANSLATE[op](self, api, model, dict(params))
        except (NotOnThisPath, WorkflowFailed):
            raise
        except Exception as exc:
            raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc

    def concurrently(self, calls: list[tuple[str, dict]], *, db, threads: int = 32) -> list:
        """Run calls all at once: concurrent tasks (express) or a pool of threads (express_sync).
        The async form covers creates, which is what the concurrency clauses need."""
        if self.runtime == "express_sync":
            return in_threads(lambda: ExpressPath("express_sync"), calls, db=db, threads=threads)
        matches = [_NODE.match(node_type) for node_type, _ in calls]
        if any(m is None or m["op"] != "Create" for m in matches):
            raise NotOnThisPath("concurrent express calls are creates in this harness")

        async def every():
            creates = (
                db.express.create(m["model"], dict(params)) for m, (_, params) in zip(matches, calls, strict=True)
            )
            return await asyncio.gather(*creates, return_exceptions=True)

        return self._loop_runner.run(every(), context=contextvars.copy_context())

    def call(self, api, name, *args, **kwargs):
        result = getattr(api, name)(*args, **kwargs)
        if self.runtime == "express":  # awaited in a copy of the caller's context, like the caller's own await
            return self._loop_runner.run(result, context=contextvars.copy_context())
        return result


def _create(path, api, model, p):
    return path.call(api, "create", model, p)


def _read(path, api, model, p):
    raise_missing = p.pop("raise_on_not_found", True)
    record_id = p.pop("id", None)
    record = path.call(api, "read", model, record_id, **p)
    if record is None:
        if raise_missing:
            raise WorkflowFailed(f"{model}: no record with id {record_id!r} (express read returned None)")
        return {"id": record_id, "found": False}
    return {**record, "found": True}


def _update(path, api, model, p):
    filter_spec = p.get("filter") or {}
    if set(filter_spec) - {"id"}:
        raise NotOnThisPath("guard keys in an update filter are a node feature; express.update takes an id")
    record = path.call(api, "update", model, filter_spec.get("id"), p.get("fields"))
    return {"id": filter_spec.get("id"), "updated": False} if record is None else {**record, "updated": True}


def _delete(path, api, model, p):
    return {"id": p.get("id"), "deleted": path.call(api, "delete", model, p.get("id"))}


def _list(path, api, model, p):
    kwargs = {k: p[k] for k in ("filter", "limit", "offset", "order_by") if k in p}
    records = path.call(api, "list", model, **kwargs)
    return {"records": records, "count": len(records), "limit": p.get("limit"), "offset": p.get("offset", 0)}


def _count(path, api, model, p):
    return {"count": path.call(api, "count", model, p.get("filter"))}


def _upsert(path, api, model, p):
    return path.call(
        api, "upsert_advanced", model, p.get("where"), p.get("create"), p.get("update"), p.get("conflict_on")
    )


def _bulk(name):
    def call(path, api, model, p):
        if "data" in p:
            p["records"] = p.pop("data")
        if name in ("bulk_update", "bulk_delete"):
            p.setdefault("filter", None)
        return path.call(api, name, model, **p)

    return call


_TRANSLATE = {
    "Create": _create,
    "Read": _read,
    "Update": _update,
    "Delete": _delete,
    "List": _list,
    "Count": _count,
    "Upsert": _upsert,
    "BulkCreate": _bulk("bulk_create"),
    "BulkUpdate": _bulk("bulk_update"),
    "BulkDelete": _bulk("bulk_delete"),
    "BulkUpsert": _bulk("bulk_upsert"),
}
