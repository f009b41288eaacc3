"""The eleven documented operations of a DataFlow model, spelled once.

Each operation has a generated workflow node (`<Model><node>Node`) with documented inputs and output keys,
and a form in the direct (express) API. The kit's access paths translate a node call into the express form
from this table, tests iterate over it, and the reference implementation generates its nodes and express
API from it. Pure data: importing it costs nothing.
"""

import re
from dataclasses import dataclass

CONTEXT_INPUT = "workflow_context"  # how AsyncLocalRuntime callers hand the instance to nodes
TRANSACTION_INPUT = "transaction_id"  # orders the nodes of a transaction scope


@dataclass(frozen=True)
class Operation:
    name: str  # the contract's word and the express method: "create", "bulk_upsert"
    node: str  # the node kind: "Create" -> UserCreateNode
    inputs: tuple[str, ...]  # documented node inputs ("create" takes the model's fields instead)
    outputs: tuple[str, ...]  # keys every successful node output has
    bulk: bool = False
    writes: bool = True

    def node_type(self, model: str) -> str:
        return f"{model}{self.node}Node"


OPERATIONS = (
    Operation("create", "Create", (), ("id", "created_at", "updated_at")),
    Operation("read", "Read", ("id", "raise_on_not_found"), ("id", "found"), writes=False),
    Operation("update", "Update", ("filter", "fields"), ("id", "updated")),
    Operation("delete", "Delete", ("id",), ("id", "deleted")),
    Operation("list", "List", ("filter", "order_by", "limit", "offset"), ("records", "count"), writes=False),
    Operation("count", "Count", ("filter",), ("count",), writes=False),
    Operation("upsert", "Upsert", ("where", "create", "update", "conflict_on"), ("created", "action", "record")),
    Operation("bulk_create", "BulkCreate", ("data", "batch_size"), ("processed", "inserted", "success"), bulk=True),
    Operation(
        "bulk_update", "BulkUpdate", ("filter", "fields", "confirmed"), ("processed", "updated", "success"), bulk=True
    ),
    Operation("bulk_delete", "BulkDelete", ("filter", "confirmed"), ("processed", "deleted", "success"), bulk=True),
    Operation(
        "bulk_upsert",
        "BulkUpsert",
        ("data", "conflict_on", "conflict_resolution", "batch_size"),
        ("processed", "inserted", "updated", "skipped", "success"),
        bulk=True,
    ),
)
BY_NAME = {operation.name: operation for operation in OPERATIONS}
BY_NODE = {operation.node: operation for operation in OPERATIONS}
# The transaction nodes shared by every model.
TRANSACTION_NODES = (
    "TransactionScopeNode",
    "TransactionCommitNode",
    "TransactionRollbackNode",
    "TransactionSavepointNode",
    "TransactionRollbackToSavepointNode",
)

_NODE_TYPE = re.compile(rf"^(?P<model>\w+?)(?P<node>{'|'.join(sorted(BY_NODE, key=len, reverse=True))})Node$")


def parse_node_type(node_type: str) -> tuple[str, Operation] | None:
    """("User", create) for "UserCreateNode"; None for a name that is no generated model node."""
    match = _NODE_TYPE.match(node_type)
    return None if match is None else (match["model"], BY_NODE[match["node"]])
