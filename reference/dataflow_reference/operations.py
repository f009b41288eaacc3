"""How the reference runs each documented operation (the contract's table,
dataflow_conformance.contract.operations): the store coroutine that does it, and the node's output, shaped
once from the store's plain answer. nodes.py generates the workflow nodes from this table; express.py
calls the same store coroutines with the express API's arguments."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataflow_conformance.contract.operations import OPERATIONS, Operation


@dataclass(frozen=True)
class Binding:
    operation: Operation
    method: str  # the ModelStore coroutine, or the BulkOperations one for bulk operations
    node_output: Callable[[Any, dict], dict]  # (store answer, the node's arguments) -> node output

    @property
    def bulk(self) -> bool:
        return self.operation.bulk

    def arguments(self, inputs: dict) -> dict:
        """The store's keyword arguments from a node's inputs: Create takes the fields as its record; every
        other node passes its documented inputs by name (those not given keep the store's defaults)."""
        if self.operation.name == "create":
            return {"data": inputs}
        return {name: inputs[name] for name in self.operation.inputs if inputs.get(name) is not None}


def _read(record, args):
    return {"id": args.get("id"), "found": False} if record is None else {**record, "found": True}


def _update(record, args):
    record_id = (args.get("filter") or {}).get("id")
    return {"id": record_id, "updated": False} if record is None else {**record, "updated": True}


def _list(records, args):
    return {"records": records, "count": len(records), "limit": args.get("limit"), "offset": args.get("offset", 0)}


def _upsert(answer, args):
    created, record = answer
    return {"created": created, "action": "created" if created else "updated", "record": record}


def _bulk(verb):
    def shape(count, args):
        return {"processed": count, verb: count, "success": True}

    return shape


def _bulk_upsert(counts, args):
    return {"processed": sum(counts.values()), **counts, "success": True}


_NODE_OUTPUTS = {
    "create": lambda record, args: record,
    "read": _read,
    "update": _update,
    "delete": lambda deleted, args: {"id": args.get("id"), "deleted": deleted},
    "list": _list,
    "count": lambda count, args: {"count": count},
    "upsert": _upsert,
    "bulk_create": _bulk("inserted"),
    "bulk_update": _bulk("updated"),
    "bulk_delete": _bulk("deleted"),
    "bulk_upsert": _bulk_upsert,
}

BINDINGS = {op.name: Binding(op, op.name, _NODE_OUTPUTS[op.name]) for op in OPERATIONS}
