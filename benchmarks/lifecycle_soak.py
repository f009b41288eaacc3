"""A long run of one DataFlow instance from every call context, then close(): memory, server
connections, file descriptors and threads must come back to where they were (issue 18, clean lifecycle).

Per backend: 100,000 operations (creates, reads, updates, lists, counts, deletes, bulk writes and
transaction scopes) through LocalRuntime from plain code, LocalRuntime inside a running loop,
AsyncLocalRuntime and the async express API on one long-lived loop, and db.express_sync. Every 10% of
the run the process's resident memory, open file descriptors, threads and the server's connections to
the database (a scratch database of its own on each server) are sampled; then the instance is closed
and they are sampled once more.

Gates (generous: a leak grows with the run, noise does not): after close() no server connection, no
file descriptor and no thread more than before the instance existed; memory (after a warm-up of
`--warm-up` operations) grows by at most `--memory-mb` over the run. Exit status 1 when a gate is
breached. Linux only (/proc). Backends: SQLite (a temp file) always, PostgreSQL / MySQL when
DFC_POSTGRESQL_URL / DFC_MYSQL_URL are set. Usage, from the repository's root:
python -m benchmarks.lifecycle_soak [--operations N] [--markdown PATH]
"""

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import logging
import os
import platform
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

from dataflow_conformance.backends import Probe
from dataflow_conformance.backends.resolve import probe_url
from dataflow_reference import DataFlow
from kailash.runtime.async_local import AsyncLocalRuntime
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder
from sqlalchemy.engine import make_url

from harness.databases import configured_backends, scratch_database

# As in the load tests: Kailash warns once per workflow whose output (records hold datetimes) it cannot
# checkpoint as JSON; writing those lines to stderr is not what is measured.
logging.getLogger("kailash.runtime.execution_tracker").setLevel(logging.ERROR)

PAGE = 4096


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Sampler:
    def __init__(self, backend: str, probe: Probe):
        self.backend, self.probe = backend, probe

    def sample(self, label: str, done: int) -> dict:
        gc.collect()
        # The server's connections to this database, other than the probe's own.
        connections = self.probe.connections() if self.probe.features.server else None
        return {
            "at": label,
            "operations": done,
            "rss_mb": rss_mb(),
            "fds": open_fds(),
            "threads": threading.active_count(),
            "connections": connections,
        }


# Kailash's runtimes keep something of every workflow they run (AsyncLocalRuntime an execution plan,
# LocalRuntime validation metrics: about 0.7 MB per 1,000 workflows with kailash 2.65), so the soak
# renews its runtimes this often: what grows after that is the DataFlow instance's.
RUNTIME_LIFE = 2_000


class Runtimes:
    """A LocalRuntime and an AsyncLocalRuntime, replaced by new ones every RUNTIME_LIFE operations."""

    def __init__(self):
        self.local = LocalRuntime(enable_monitoring=False).__enter__()  # left in close(), as Kailash asks
        self.remote = AsyncLocalRuntime(enable_monitoring=False)

    def run_local(self, workflow, **options):
        return self.local.execute(workflow, **options)

    async def run_async(self, workflow, **options):
        return await self.remote.execute_workflow_async(workflow, **options)

    def renew_every(self, operations: int, before: int, done: int) -> None:
        if before // operations != done // operations:
            self.close()
            self.__init__()

    def close(self) -> None:
        self.local.__exit__(None, None, None)
        self.remote.close()


def one_node(node_type: str, params: dict):
    builder = WorkflowBuilder()
    builder.add_node(node_type, "n", params)
    return builder.build()


def scope_workflow(email: str):
    builder = WorkflowBuilder()
    builder.add_node("TransactionScopeNode", "begin", {})
    builder.add_node("ItemCreateNode", "create", {"name": "scoped", "email": email, "qty": 1})
    builder.add_node("TransactionCommitNode", "commit", {})
    builder.add_connection("begin", "transaction_id", "create", "transaction_id")
    builder.add_connection("create", "transaction_id", "commit", "transaction_id")
    return builder.build()


class Operations:
    """The mix every call context runs: each call is one operation; the instance's table stays small."""

    def __init__(self, tag: str):
        self.tag, self.serial = tag, itertools.count()

    def next(self) -> tuple[str, dict]:
        n = next(self.serial)
        email = f"{self.tag}-{n}@example.com"
        kind = n % 10
        if kind in (0, 1, 2):
            return "ItemCreateNode", {"name": self.tag, "email": email, "qty": n % 50}
        if kind == 3:
            return "ItemListNode", {"filter": {"name": self.tag}, "limit": 20, "order_by": ["-id"]}
        if kind == 4:
            return "ItemCountNode", {"filter": {"qty": {"$gte": 10}}}
        if kind == 5:
            return "ItemBulkCreateNode", {
                "data": [{"name": self.tag, "email": f"{email}-{i}", "qty": i} for i in range(20)]
            }
        if kind == 6:
            return "ItemBulkUpdateNode", {"filter": {"name": self.tag, "qty": {"$lt": 5}}, "fields": {"qty": 5}}
        if kind == 7:
            return "scope", {"email": email}
        # keep the table small: delete what this context wrote
        return "ItemBulkDeleteNode", {"filter": {"name": self.tag}, "confirmed": True}


def workflow_for(call):
    node_type, params = call
    return scope_workflow(params["email"]) if node_type == "scope" else one_node(node_type, params)


def express_steps(call):
    """The operation as documented express calls: yields (method, args), receives each answer. One
    order_by field; writes of many records by their ids (the express API has no update or delete by
    filter: the records are listed first); a scope needs a workflow, so the express paths create instead."""
    node_type, params = call
    if node_type == "ItemListNode":
        (order_by,) = params["order_by"]
        yield "list", ("Item", params["filter"]), {"limit": params["limit"], "order_by": order_by}
    elif node_type == "ItemCountNode":
        yield "count", ("Item", params["filter"]), {}
    elif node_type == "ItemBulkCreateNode":
        yield "bulk_create", ("Item", params["data"]), {}
    elif node_type in ("ItemBulkUpdateNode", "ItemBulkDeleteNode"):
        ids = [record["id"] for record in (yield "list", ("Item", params["filter"]), {"limit": 1000})]
        if node_type == "ItemBulkDeleteNode":
            yield "bulk_delete", ("Item", ids), {}
        else:
            yield "bulk_update", ("Item", [{"id": i, **params["fields"]} for i in ids]), {}
    elif node_type == "ItemCreateNode":
        yield "create", ("Item", params), {}
    else:
        yield "create", ("Item", {"name": "scoped", "email": params["email"], "qty": 1}), {}


async def express_call(db, call):
    steps, answer = express_steps(call), None
    while (step := next_step(steps, answer)) is not None:
        method, args, kwargs = step
        answer = await getattr(db.express, method)(*args, **kwargs)
    return answer


def next_step(steps, answer):
    """The next (method, args, kwargs) of `steps`, given the answer to the one before; None at the end."""
    try:
        return steps.send(answer)
    except StopIteration:
        return None


def checked(results: dict) -> dict:
    for node_id, output in results.items():
        if isinstance(output, dict) and output.get("failed"):
            raise RuntimeError(f"node {node_id} failed: {output.get('error')}")
    return results


def soak(backend: str, url: str, probe: Probe, operations: int, warm_up: int) -> list[dict]:
    sampler = Sampler(backend, probe)
    samples = [sampler.sample("before the instance", 0)]
    db = DataFlow(url, pool_size=5, pool_max_overflow=5)
    db.model(
        type(
            "Item",
            (),
            {"__annotations__": {"name": str, "email": str, "qty": int}, "__tablename__": "soak_items"},
        )
    )

    def context():  # fresh each call: the runtimes keep and change what they are given
        return {"workflow_context": {"dataflow_instance": db}}

    contexts = ["local", "async", "express", "express_sync", "local", "async", "express_sync", "in_loop"]
    mixes = {name: Operations(f"{name}{i}") for i, name in enumerate(contexts)}
    done, every = 0, max(1, operations // 10)
    runtimes = Runtimes()
    with asyncio.Runner() as loop:  # an application's long-lived loop

        async def on_the_loop(name, count):
            for _ in range(count):
                call = mixes[name].next()
                if name == "express":
                    await express_call(db, call)
                else:
                    results, _ = await runtimes.run_async(workflow_for(call), inputs=context())
                    checked(results)

        async def local_in_a_loop(count):
            for _ in range(count):
                checked(runtimes.run_local(workflow_for(mixes["in_loop"].next()), parameters=context())[0])

        while done < operations:
            for name in contexts:
                count = min(50 if name != "in_loop" else 5, operations - done)
                if name in ("async", "express"):
                    loop.run(on_the_loop(name, count))
                elif name == "in_loop":  # a fresh thread and loop per workflow: the slowest context
                    loop.run(local_in_a_loop(count))
                elif name == "express_sync":
                    for _ in range(count):
                        _express_sync(db, mixes[name].next())
                else:
                    for _ in range(count):
                        checked(runtimes.run_local(workflow_for(mixes[name].next()), parameters=context())[0])
                before, done = done, done + count
                runtimes.renew_every(RUNTIME_LIFE, before, done)
                if before < warm_up <= done:
                    samples.append(sampler.sample("after the warm-up", done))
                if before // every != done // every:
                    samples.append(sampler.sample(f"{done:,} operations", done))
                if done >= operations:
                    break
        runtimes.close()
        db.close()
    samples.append(sampler.sample("after close()", done))
    return samples


def _express_sync(db, call):
    steps, answer = express_steps(call), None
    while (step := next_step(steps, answer)) is not None:
        method, args, kwargs = step
        answer = getattr(db.express_sync, method)(*args, **kwargs)
    return answer


def verdicts(samples: list[dict], memory_mb: float) -> list[str]:
    """The breached gates (empty: every gate holds)."""
    before, warm, after = samples[0], next(s for s in samples if s["at"] == "after the warm-up"), samples[-1]
    breached = []
    if after["connections"] not in (None, 0):
        breached.append(f"{after['connections']} server connection(s) left after close()")
    if after["fds"] > before["fds"]:
        breached.append(f"{after['fds'] - before['fds']} file descriptor(s) more after close() than before")
    if after["threads"] > before["threads"]:
        breached.append(f"{after['threads'] - before['threads']} thread(s) more after close() than before")
    if after["rss_mb"] - warm["rss_mb"] > memory_mb:
        breached.append(f"memory grew {after['rss_mb'] - warm['rss_mb']:.1f} MB after the warm-up (gate {memory_mb})")
    return breached


def probe_for(url: str) -> Probe:
    """The kit's independent view of the database, through its own driver."""
    parsed = make_url(url)
    return Probe(probe_url(parsed, parsed.database))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--warm-up", type=int, default=5_000, help="operations before the memory baseline")
    parser.add_argument("--memory-mb", type=float, default=50.0, help="memory growth allowed after the warm-up")
    parser.add_argument("--markdown", help="also write the report to this file")
    args = parser.parse_args()
    load = os.getloadavg()
    lines, failures = [], []
    for backend in configured_backends(None):
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="dfr-soak-") as scratch, scratch_database(backend, Path(scratch)) as db:
            probe = probe_for(db.url)
            try:
                samples = soak(backend, db.url, probe, args.operations, args.warm_up)
            finally:
                probe.close()
        minutes = (time.monotonic() - started) / 60
        breached = verdicts(samples, args.memory_mb)
        failures += [f"{backend}: {problem}" for problem in breached]
        lines += [f"### {backend}", "", f"{args.operations:,} operations in {minutes:.1f} min.", ""]
        lines += ["| when | resident memory (MB) | open file descriptors | threads | server connections |"]
        lines += ["|---|---|---|---|---|"]
        for s in samples:
            connections = "-" if s["connections"] is None else s["connections"]
            lines.append(f"| {s['at']} | {s['rss_mb']:.1f} | {s['fds']} | {s['threads']} | {connections} |")
        lines += ["", "Gates: " + ("; ".join(breached) if breached else "all hold") + ".", ""]
        print("\n".join(lines[-len(samples) - 6 :]), flush=True)
    if args.markdown:
        from dataflow_conformance.report.provenance import stamp

        page = [
            stamp({name: version(name) for name in ("kailash", "sqlalchemy")}),
            "",
            "# Lifecycle soak",
            "",
            f"Generated by `benchmarks/lifecycle_soak.py` on {dt.date.today()}: {platform.platform()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, kailash {version('kailash')}, "
            f"sqlalchemy {version('sqlalchemy')}; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
            "before the run.",
            "",
            "One instance per backend (pool_size=5, pool_max_overflow=5) runs the operations from every call "
            "context in turn: LocalRuntime from plain code, AsyncLocalRuntime and the async express API on one "
            "long-lived loop (an asyncio.Runner), db.express_sync, and LocalRuntime inside that loop (a fresh "
            "thread and loop per workflow). Samples after a garbage collection. Gates: after close() no server "
            f"connection, file descriptor or thread more than before the instance; memory growth after the "
            f"warm-up ({args.warm_up:,} operations) at most {args.memory_mb:g} MB.",
            "",
            *lines,
        ]
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write("\n".join(page))
    for failure in failures:
        print(f"GATE BREACHED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
