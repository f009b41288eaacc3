"""A Kailash node that runs a test's callback in the middle of a workflow: how the pack looks
at the database (through its own connection) while a transaction scope is still open."""

import itertools
from typing import Any

from kailash.nodes.base import NodeParameter
from kailash.nodes.base_async import AsyncNode

from ..sdk import register_node

_callbacks: dict[str, Any] = {}
_keys = itertools.count()


def register(callback) -> str:
    """Register a zero-argument callable; returns the key to give the node."""
    key = f"checkpoint-{next(_keys)}"
    _callbacks[key] = callback
    return key


class ConformanceCheckpointNode(AsyncNode):
    def get_parameters(self):
        return {
            "key": NodeParameter(name="key", type=str, required=True, description="registered callback"),
            "transaction_id": NodeParameter(
                name="transaction_id",
                type=Any,
                required=False,
                default=None,
                description="passed through, to keep the node inside a scope's chain",
            ),
        }

    async def async_run(self, **inputs):
        observed = _callbacks.pop(inputs["key"])()
        return {"observed": observed, "transaction_id": inputs.get("transaction_id")}


register_node(ConformanceCheckpointNode, "ConformanceCheckpointNode")
