"""The workflow access paths: WorkflowBuilder plus a real Kailash runtime, as a DataFlow user runs them."""

import contextvars

from kailash.runtime.async_local import AsyncLocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from ..contract.operations import CONTEXT_INPUT, TRANSACTION_NODES
from ..sdk import close_local_runtime, open_local_runtime
from .callerloop import CallerLoop
from .concurrency import in_tasks, in_threads
from .protocol import WORKFLOW_PATHS, WorkflowFailed, implements


@implements(*WORKFLOW_PATHS)
class WorkflowPath:
    """LocalRuntime called from plain code ("local"), or AsyncLocalRuntime on an event loop ("async")."""

    runs_workflows = True

    def __init__(self, name: str):
        if name not in WORKFLOW_PATHS:
            raise ValueError(f"unknown workflow path {name!r}; known: {WORKFLOW_PATHS}")
        self.name = name
        self.db = None
        # Entered as a context manager (as Kailash asks), left in close().
        self._local = open_local_runtime() if name == "local" else None
        self._loop = CallerLoop() if name == "async" else None
        self._async: AsyncLocalRuntime | None = None

    def bind(self, db) -> None:
        self.db = db

    def close(self) -> None:
        if self._local is not None:
            close_local_runtime(self._local)
        if self._async is not None:
            self._async.close()  # its thread pool and pools
        if self._loop is not None:
            self._loop.close()

    def run(self, builder: WorkflowBuilder, *, db=None) -> dict:
        """Execute the workflow; return results by node id or raise WorkflowFailed. A workflow with
        transaction nodes gets the instance in its workflow context (the documented way to hand them their
        DataFlow), as does one run for another instance (`db=`); other workflows run as users run them."""
        if db is None and _has_transaction_nodes(builder):
            db = self.db
        return self._execute(builder.build(), db)

    def node(self, node_type: str, params: dict, *, db=None) -> dict:
        """A one-node workflow. Its node class knows its instance; a context is passed only for another
        instance than the one that registered the node last (`db=`)."""
        return _output(self._execute(_one_node(node_type, params).build(), db), node_type)

    def concurrently(self, calls: list, *, db=None, tenants=None, threads: int = 32) -> list:
        """Operations (node type, params) or whole workflows (builders) all at once, each with its tenant
        bound when `tenants` is given: concurrent tasks on one loop under AsyncLocalRuntime, a pool of
        threads (one LocalRuntime each) under LocalRuntime."""
        if self._loop is None:
            return in_threads(
                lambda: bound(WorkflowPath(self.name), self.db), calls, run_one=lambda path, call: _run_call(path, call, db),
                db=db, tenants=tenants,
                threads=threads,
            )  # fmt: skip

        async def one(call):
            if isinstance(call, WorkflowBuilder):
                context_db = db or (self.db if _has_transaction_nodes(call) else None)
                return await self._run_async(call.build(), context_db)
            node_type, params = call
            return _output(await self._run_async(_one_node(node_type, params).build(), db), node_type)

        every = in_tasks(calls, run_one=one, db=db or self.db, tenants=tenants)
        return self._loop.run(every, context=contextvars.copy_context())

    def _execute(self, workflow, db) -> dict:
        if self._loop is not None:
            # In a copy of the caller's context, as `await` in the caller's own code would run it
            # (context variables such as a bound tenant travel with it).
            return self._loop.run(self._run_async(workflow, db), context=contextvars.copy_context())
        parameters = {CONTEXT_INPUT: {"dataflow_instance": db}} if db is not None else None
        try:
            results, _ = self._local.execute(workflow, parameters=parameters)
        except Exception as exc:
            raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc
        return _checked(results)

    async def _run_async(self, workflow, db):
        if self._async is None:
            self._async = AsyncLocalRuntime()
        # AsyncLocalRuntime has no workflow context; this input reaches every node (see docs/contract/txn.md).
        inputs = {CONTEXT_INPUT: {"dataflow_instance": db}} if db is not None else {}
        try:
            results, _ = await self._async.execute_workflow_async(workflow, inputs=inputs)
        except Exception as exc:
            raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc
        return _checked(results)


def bound(path, db):
    path.bind(db)
    return path


def _run_call(path, call, db):
    """One call of in_threads: a workflow builder or a (node type, params) pair."""
    return path.run(call, db=db) if isinstance(call, WorkflowBuilder) else path.node(*call, db=db)


def _has_transaction_nodes(builder: WorkflowBuilder) -> bool:
    return any(node.get("type") in TRANSACTION_NODES for node in builder.nodes.values())


def _one_node(node_type: str, params: dict) -> WorkflowBuilder:
    builder = WorkflowBuilder()
    builder.add_node(node_type, "node", params)
    return builder


def _output(results: dict, node_type: str) -> dict:
    if "node" not in results:
        raise WorkflowFailed(f"{node_type} produced no result (results: {sorted(results)})")
    return results["node"]


def _checked(results) -> dict:
    """The results, or WorkflowFailed when a node failed. Runtimes report some failures as results
    (`failed: True`), and a node may report its own failure as data (`success: False`)."""
    for node_id, output in (results or {}).items():
        if not isinstance(output, dict) or "error" not in output:
            continue
        if output.get("failed") or output.get("success") is False:
            raise WorkflowFailed(f"node {node_id!r} failed: {output['error']}") from output.get("_exception")
    return results
