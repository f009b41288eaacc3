"""Where the load tests' permission check spends its time: the same five-node workflow (read the user,
find the permission, list the memberships, build the grant filter, count the grants) under LocalRuntime
and AsyncLocalRuntime, beside the same workflow shape with no-op nodes (Kailash's share), the four
express calls it makes (the reference's share, without workflows) and the four statements through the
raw async driver (the database's share).

Backends: SQLite (a temp file) always, PostgreSQL / MySQL when DFC_POSTGRESQL_URL / DFC_MYSQL_URL are
set (a scratch database of its own on each server). Usage, from the repository's root:
python -m benchmarks.permission_check [--iterations N]
"""

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kailash.nodes.base import Node, NodeParameter, register_node
from kailash.runtime.async_local import AsyncLocalRuntime
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from harness import workload
from harness.databases import configured_backends, scratch_database
from harness.dataflow_side import DataFlowAuth, check_permission_workflow, open_dataflow
from harness.rawdriver import raw_driver

logging.getLogger("kailash.runtime.execution_tracker").setLevel(logging.ERROR)  # as in the load tests
PREFIX = "perm"


@register_node()
class BenchPassNode(Node):
    """Passes a fixed output on: a stand-in for a database node, for Kailash's own share."""

    def get_parameters(self):
        return {name: NodeParameter(name=name, type=Any, required=False, default=None) for name in ("value", "other")}

    def run(self, value=None, other=None):
        return {"records": [{"id": 1, "group_id": 1}], "count": 1, "filter": {}, "is_active": True}


def no_op_shape():
    """The permission check's five nodes and three connections, every node a no-op."""
    builder = WorkflowBuilder()
    for node_id in ("user", "permission", "memberships", "grant_filter", "grants"):
        builder.add_node("BenchPassNode", node_id, {})
    builder.add_connection("memberships", "records", "grant_filter", "value")
    builder.add_connection("permission", "records", "grant_filter", "other")
    builder.add_connection("grant_filter", "filter", "grants", "value")
    return builder.build()


def median_ms(samples) -> float:
    return statistics.median(samples) * 1000


def timed(call, items) -> float:
    samples = []
    for item in items:
        start = time.perf_counter()
        call(item)
        samples.append(time.perf_counter() - start)
    return median_ms(samples)


async def timed_async(call, items) -> float:
    samples = []
    for item in items:
        start = time.perf_counter()
        await call(item)
        samples.append(time.perf_counter() - start)
    return median_ms(samples)


def checks(user_ids, iterations):
    return [
        (user_ids[i % len(user_ids)], workload.PERMISSIONS[i % len(workload.PERMISSIONS)]) for i in range(iterations)
    ]


async def express_calls(db, user_id, codename):
    """The four operations of the workflow, as express calls."""
    user = await db.express.read("User", user_id)
    permission = await db.express.list("Permission", {"codename": codename}, limit=1)
    memberships = await db.express.list("Membership", {"user_id": user_id})
    groups = [m["group_id"] for m in memberships]
    permission_id = permission[0]["id"] if permission else -1
    grants = await db.express.count("GroupPermission", {"group_id": {"$in": groups}, "permission_id": permission_id})
    return bool(user["is_active"]) and grants > 0


class Raw:
    """The same four statements through the bare driver, one connection, no transaction (harness/rawdriver.py)."""

    def __init__(self, backend: str, url: str):
        self.driver = raw_driver(backend, url, autocommit=True)

    async def open(self):
        await self.driver.open()

    async def check(self, user_id, codename):
        t, fetch = f"{PREFIX}_", self.driver.fetch
        user = await fetch(f"SELECT id, is_active FROM {t}users WHERE id = ?", user_id)
        permission = await fetch(f"SELECT id FROM {t}permissions WHERE codename = ? ORDER BY id LIMIT 1", codename)
        memberships = await fetch(f"SELECT group_id FROM {t}memberships WHERE user_id = ? ORDER BY id", user_id)
        groups = [row[0] for row in memberships] or [-1]
        marks = ", ".join("?" for _ in groups)
        permission_id = permission[0][0] if permission else -1
        grants = await fetch(
            f"SELECT count(*) FROM {t}grouppermissions WHERE group_id IN ({marks}) AND permission_id = ?",
            *groups,
            permission_id,
        )
        return bool(user[0][1]) and grants[0][0] > 0

    async def close(self):
        await self.driver.close()


def measure(backend: str, url: str, iterations: int) -> dict:
    db = open_dataflow("dataflow_reference", url, PREFIX)
    auth = DataFlowAuth(db)
    user_ids = auth.seed(200)
    work = checks(user_ids, iterations)
    found = {}
    with LocalRuntime(enable_monitoring=False) as local:
        timed(lambda c: local.execute(check_permission_workflow(*c)), work[:50])
        found["LocalRuntime workflow"] = timed(lambda c: local.execute(check_permission_workflow(*c)), work)
        found["LocalRuntime, no-op nodes"] = timed(lambda _: local.execute(no_op_shape()), work)

    async def on_a_loop():
        runtime = AsyncLocalRuntime(enable_monitoring=False)

        async def workflow(c):
            await runtime.execute_workflow_async(check_permission_workflow(*c), inputs={})

        async def no_op(_):
            await runtime.execute_workflow_async(no_op_shape(), inputs={})

        await timed_async(workflow, work[:50])
        found["AsyncLocalRuntime workflow"] = await timed_async(workflow, work)
        found["AsyncLocalRuntime, no-op nodes"] = await timed_async(no_op, work)
        found["four express calls"] = await timed_async(lambda c: express_calls(db, *c), work)
        raw = Raw(backend, url)
        await raw.open()
        found["four statements, raw driver"] = await timed_async(lambda c: raw.check(*c), work)
        await raw.close()

    asyncio.run(on_a_loop())
    auth.close()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=400)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; medians of {args.iterations}; ms per check")
    for backend in configured_backends(None):
        with tempfile.TemporaryDirectory(prefix="dfr-perm-") as scratch, scratch_database(backend, Path(scratch)) as db:
            for label, ms in measure(backend, db.url, args.iterations).items():
                print(f"| {backend} | {label} | {ms:.3f} |", flush=True)


if __name__ == "__main__":
    main()
