"""Run workflows the way a DataFlow user does: WorkflowBuilder plus a real Kailash runtime."""

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

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
        # Entered as a context manager (as Kailash asks), left in close().
        self._local = LocalRuntime(enable_monitoring=False).__enter__() if runtime == "local" else None
        self._loop_runner = asyncio.Runner() if runtime == "async" else None
        self._async = None

    def close(self) -> None:
        if self._local is not None:
            self._local.__exit__(None, None, None)
        if self._loop_runner is not None:
            self._loop_runner.close()

    def run(self, builder: WorkflowBuilder, *, db=None) -> dict:
        """Execute the workflow; return results by node id or raise WorkflowFailed."""
        workflow = builder.build()
        context = {"workflow_context": {"dataflow_instance": db}} if db is not None else None
        if self._local is None:
            # In a copy of the caller's context, as `await` in the caller's own code would run it
            # (context variables such as a bound tenant travel with it).
            return self._loop_runner.run(self._run_async(workflow, db), context=contextvars.copy_context())
        try:
            results, _ = self._local.execute(workflow, parameters=context)
        except Exception as exc:
            raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc
        return _checked(results)

    async def _run_async(self, workflow, db):
        if self._async is None:
            self._async = AsyncLocalRuntime()
        # AsyncLocalRuntime has no workflow context; this input reaches every node (see docs/contract/txn.md).
        inputs = {"workflow_context": {"dataflow_instance": db}} if db is not None else {}
        try:
            results, _ = await self._async.execute_workflow_async(workflow, inputs=inputs)
        except Exception as exc:
            raise WorkflowFailed(f"{type(exc).__name__}: {exc}") from exc
        return _checked(results)

    def node(self, node_type: str, params: dict, *, db=None) -> dict:
        """Run a one-node workflow and return that node's output."""
        return _output(self.run(_one_node(node_type, params), db=db), node_type)

    def concurrently(self, calls: list[tuple[str, dict]], *, db, threads: int = 32) -> list:
        """Run one-node workflows all at once: concurrent tasks on one loop under AsyncLocalRuntime,
        a pool of threads (one LocalRuntime each) under LocalRuntime. Returns each output or exception."""
        if self._local is None:

            async def one(node_type, params):
                return _output(await self._run_async(_one_node(node_type, params).build(), db), node_type)

            async def every():
                return await asyncio.gather(*(one(*call) for call in calls), return_exceptions=True)

            return self._loop_runner.run(every(), context=contextvars.copy_context())
        return in_threads(lambda: Flow("local"), calls, db=db, threads=threads)


def in_threads(make_runner, calls, *, db, threads: int) -> list:
    """`runner.node(*call, db=db)` for every call on a pool of threads, one runner per thread."""
    local, runners, lock = threading.local(), [], threading.Lock()

    def one(call):
        if not hasattr(local, "runner"):
            local.runner = make_runner()
            with lock:
                runners.append(local.runner)
        try:
            return local.runner.node(*call, db=db)
        except Exception as exc:  # returned, like asyncio.gather(return_exceptions=True)
            return exc

    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, calls))
    finally:
        for runner in runners:
            runner.close()


def _one_node(node_type: str, params: dict) -> WorkflowBuilder:
    builder = WorkflowBuilder()
    builder.add_node(node_type, "node", params)
    return builder


def _output(results: dict, node_type: str) -> dict:
    if "node" not in results:
        raise WorkflowFailed(f"{node_type} produced no result (results: {sorted(results)})")
    return results["node"]


def _checked(results) -> dict:
    """The results, or WorkflowFailed when a node failed (LocalRuntime reports some failures as results)."""
    for node_id, output in (results or {}).items():
        if isinstance(output, dict) and output.get("failed") and "error" in output:
            raise WorkflowFailed(f"node {node_id!r} failed: {output['error']}") from output.get("_exception")
    return results
