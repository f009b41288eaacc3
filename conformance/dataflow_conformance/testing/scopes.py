"""Workflows whose nodes run in order inside one transaction scope (TXN, and the tests that need a scope
held open: POOL, FAULT, CONSIST), with checkpoints that read the database mid-scope."""

from kailash.workflow.builder import WorkflowBuilder

from . import checkpoint


class Scope:
    """Builds a workflow whose nodes run in order inside one transaction scope."""

    def __init__(self, **scope_params):
        self.builder = WorkflowBuilder()
        self.builder.add_node("TransactionScopeNode", "begin", scope_params)
        self.last = "begin"
        self.count = 0

    def then(self, node_type, params=None, node_id=None):
        self.count += 1
        node_id = node_id or f"step{self.count}"
        self.builder.add_node(node_type, node_id, params or {})
        self.builder.add_connection(self.last, "transaction_id", node_id, "transaction_id")
        self.last = node_id
        return self

    def check(self, callback):
        return self.then(
            "ConformanceCheckpointNode", {"key": checkpoint.register(callback)}, node_id=f"check{self.count}"
        )
