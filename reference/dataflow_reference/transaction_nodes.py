"""The transaction nodes every model shares: TransactionScopeNode opens a scope (transactions.py) that the
nodes chained to it run in, until TransactionCommitNode or TransactionRollbackNode ends it; savepoints in
between. Registered with Kailash when the package is imported."""

from .core import DataFlow
from .errors import TransactionError
from .nodes import TXN_INPUT, StrictNode, register
from .transactions import CONTEXT_KEY, ActiveTransaction


class TransactionNode(StrictNode):
    subject = "transaction"
    ends_scope = False

    def dataflow_from(self, context):
        db = context.get("dataflow_instance")
        if not isinstance(db, DataFlow):
            raise TransactionError(
                f"{type(self).__name__} needs the DataFlow instance: run the workflow with "
                "parameters={'workflow_context': {'dataflow_instance': db}} (LocalRuntime) or "
                "inputs={'workflow_context': {'dataflow_instance': db}} (AsyncLocalRuntime)"
            )
        return db

    async def async_run(self, **inputs):
        context = self.shared_context(inputs)
        db = self.dataflow_from(context)
        scope = self.find_scope(db, context, inputs, required=True)
        output = await db.runner.run(self.act(scope, inputs))
        if self.ends_scope and context.get(CONTEXT_KEY) == scope.id:
            del context[CONTEXT_KEY]  # nodes after the scope's end run outside it
        return {**output, "transaction_id": scope.id}


class TransactionScopeNode(TransactionNode):
    parameters = {
        "isolation_level": "accepted for compatibility; the server default is used",
        "timeout": "seconds before an unfinished scope is rolled back (default 30)",
        "rollback_on_error": "roll back when a database node in the scope fails (default true)",
    }

    async def async_run(self, **inputs):
        context = self.shared_context(inputs)
        db = self.dataflow_from(context)
        inputs.pop(TXN_INPUT, None)
        timeout = 30 if inputs.get("timeout") is None else inputs["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise TransactionError(f"timeout must be a positive number of seconds, got {timeout!r}")
        rollback_on_error = inputs.get("rollback_on_error")
        if rollback_on_error is not None and not isinstance(rollback_on_error, bool):
            raise TransactionError(f"rollback_on_error must be true or false, got {rollback_on_error!r}")
        transaction = ActiveTransaction(db.database, rollback_on_error=rollback_on_error is not False, timeout=timeout)
        await db.runner.run(db.transactions.begin(transaction))
        context[CONTEXT_KEY] = transaction.id  # LocalRuntime: later nodes also find it without a connection
        return {
            "status": "started",
            "transaction_id": transaction.id,
            "rollback_on_error": transaction.rollback_on_error,
        }


class TransactionCommitNode(TransactionNode):
    ends_scope = True

    async def act(self, scope, inputs):
        await scope.commit()
        return {"status": "committed"}


class TransactionRollbackNode(TransactionNode):
    ends_scope = True
    parameters = {"reason": "why (kept in the result)"}

    async def act(self, scope, inputs):
        await scope.rollback(inputs.get("reason") or "rolled back by TransactionRollbackNode")
        return {"status": "rolled_back"}


class TransactionSavepointNode(TransactionNode):
    parameters = {"name": "savepoint name"}

    async def act(self, scope, inputs):
        name = inputs.get("name")
        if not isinstance(name, str) or not name:
            raise TransactionError(f"savepoint name must be a non-empty string, got {name!r}")
        await scope.savepoint(name)
        return {"status": "created", "savepoint": name}


class TransactionRollbackToSavepointNode(TransactionNode):
    parameters = {"savepoint": "savepoint name"}

    async def act(self, scope, inputs):
        await scope.rollback_to(inputs.get("savepoint"))
        return {"status": "rolled_back_to_savepoint", "savepoint": inputs.get("savepoint")}


for _node in (
    TransactionScopeNode,
    TransactionCommitNode,
    TransactionRollbackNode,
    TransactionSavepointNode,
    TransactionRollbackToSavepointNode,
):
    register(_node, _node.__name__)
