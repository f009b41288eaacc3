"""Run workflows the way a DataFlow user does: WorkflowBuilder plus a real Kailash runtime."""

import asyncio
import contextvars

from kailash.runtime.async_local import AsyncLocalRuntime
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

RUNTIMES = ("local", "async")


class WorkflowFailed(Exception):
    """A workflow did not complete; the message is the runtime's error text."""


class Flow:
    """One access path: LocalRuntime called from plain code, or AsyncLocalRuntime on a loop."""

    def __init__(self, runtime: str):
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}")
        self.runtime = runtime
        self._local = LocalRuntime(enable_monitoring=False) if runtime == "local" else None
        self._loop_runner = asyncio.Runner() if runtime == "async" else None
        self._async = None

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
        if self._loop_runner is not None:
            self._loop_runner.close()

    def run(self, builder: WorkflowBuilder, *, db=None) -> dict:
        """Execute the workflow; return results by node id or raise WorkflowFailed."""
        workflow = builder.build()
        context = {"workflow_context": {"dataflow_instance": db}} if db is not None else None
        try:
            if self._local is not None:
                results, _ = self._local.execute(workflow, parameters=context)
            else:
                # In a copy of the caller's context, as `await` in the caller's own code would run it
                # (context variables such as a bound tenant travel with it).
                results, _ = self._loop_runner.run(self._run_async(workflow, db), context=contextvars.copy_context())
        except Exception as exc:
            raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc
        for node_id, output in (results or {}).items():
            if isinstance(output, dict) and output.get("failed") and "error" in output:
                raise WorkflowFailed(f"node {node_id!r} failed: {output['error']}") from output.get("_exception")
        return results

    async def _run_async(self, workflow, db):
        if self._async is None:
            self._async = AsyncLocalRuntime()
        # AsyncLocalRuntime has no workflow context; this input reaches every node (see docs/contract/txn.md).
        inputs = {"workflow_context": {"dataflow_instance": db}} if db is not None else {}
        return await self._async.execute_workflow_async(workflow, inputs=inputs)

    def node(self, node_type: str, params: dict, *, db=None) -> dict:
        """Run a one-node workflow and return that node's output."""
        builder = WorkflowBuilder()
        builder.add_node(node_type, "node", params)
        results = self.run(builder, db=db)
        if "node" not in results:
            raise WorkflowFailed(f"{node_type} produced no result (results: {sorted(results)})")
        return results["node"]
