"""Per-operation cost of the reference's Create / Read / List(20) workflows, side by side with
(a) a one-node no-op workflow on the same runtime, (b) a workflow whose node returns the reference's
own output without touching the database (echo) and (c) the same SQL through the raw async driver.

overhead  = reference - (no-op workflow + raw driver); the target is at most 0.5 ms per operation.
of which:   SDK output = echo - no-op (Kailash's handling of the node's output, records included)
            reference  = reference - (echo + raw driver) (what the reference adds around the SQL)
Kailash's own cost is also shown on its own: the no-op workflow (per workflow) and, from echo
workflows returning 0, 25 and 100 records, the cost per returned record; and the hand-off a
LocalRuntime node pays to reach the instance's home loop (see reference/dataflow_reference/runner.py).

Both runtimes run with enable_monitoring=False (no run-tracking database), as in the load tests.
Backends: SQLite (a temp file) always, PostgreSQL / MySQL when DFC_POSTGRESQL_URL / DFC_MYSQL_URL are
set. Usage (from the checkout): python -m benchmarks.node_overhead [--iterations N] [--markdown PATH]
"""

import argparse
import asyncio
import datetime as dt
import logging
import os
import platform
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from dataflow_reference import DataFlow
from kailash.nodes.base import NodeParameter, NodeRegistry
from kailash.nodes.base_async import AsyncNode
from kailash.runtime.async_local import AsyncLocalRuntime
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from harness.databases import configured_urls
from harness.rawdriver import raw_driver

# As in the load tests: Kailash warns once per workflow whose output (records hold datetimes) it cannot
# checkpoint as JSON; writing those lines to stderr is not what is measured.
logging.getLogger("kailash.runtime.execution_tracker").setLevel(logging.ERROR)

TARGET_MS = 0.5
COLUMNS = "id, name, email, age, created_at, updated_at"
OPERATIONS = ("create", "read", "list20")
RECORD_COUNTS = (0, 25, 100)  # echo workflows that return this many records: Kailash's cost per record


class BenchNoOpNode(AsyncNode):
    def get_parameters(self):
        return {"x": NodeParameter(name="x", type=int, required=False, default=0)}

    async def async_run(self, **inputs):
        return {"x": inputs.get("x", 0)}


class BenchEchoNode(AsyncNode):
    """Returns a canned output (the reference's own result for the same operation, or `records`
    records shaped like the reference's): what Kailash spends on handling such an output, apart
    from any database work."""

    payloads: dict = {}

    def get_parameters(self):
        return {"op": NodeParameter(name="op", type=str, required=True)}

    def validate_outputs(self, outputs):
        return outputs  # like the reference's nodes: records carry datetime values

    async def async_run(self, **inputs):
        return dict(self.payloads[inputs["op"]])


NodeRegistry.register(BenchNoOpNode, alias="BenchNoOpNode", allow_override=True)
NodeRegistry.register(BenchEchoNode, alias="BenchEchoNode", allow_override=True)


def _records_payload(count: int) -> dict:
    now = dt.datetime.now(dt.timezone.utc)
    records = [
        {"id": i, "name": f"user {i}", "email": f"user{i}@example.com", "age": i, "created_at": now, "updated_at": now}
        for i in range(count)
    ]
    return {"records": records, "count": count, "limit": count, "offset": 0}


for _count in RECORD_COUNTS:
    BenchEchoNode.payloads[f"records-{_count}"] = _records_payload(_count)


def workflow(node_type, params):
    builder = WorkflowBuilder()
    builder.add_node(node_type, "n", params)
    return builder.build()


def median_ms(samples):
    return statistics.median(samples) * 1000


class RawDriver:
    """The same statements as the reference issues, each in a transaction, through the bare async driver
    (harness/rawdriver.py)."""

    def __init__(self, backend, url, table, read_id):
        self.driver, self.table, self.read_id = raw_driver(backend, url, autocommit=False), table, read_id

    async def open(self):
        await self.driver.open()

    async def close(self):
        await self.driver.close()

    async def fetch(self, sql, *args, write=False):
        return await self.driver.fetch_in_transaction(sql, *args, write=write)

    async def create(self, i):
        now = time.time()
        sql = f"INSERT INTO {self.table} (name, email, age, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING {COLUMNS}"
        stamp = dt.datetime.fromtimestamp(now)
        return await self.fetch(sql, "raw", f"raw{i}-{now}@x.org", 1, stamp, stamp, write=True)

    async def read(self, record_id):
        return await self.fetch(f"SELECT {COLUMNS} FROM {self.table} WHERE id = ?", record_id)

    async def list20(self):
        return await self.fetch(f"SELECT {COLUMNS} FROM {self.table} ORDER BY id LIMIT ?", 20)


async def time_raw(raw, iterations):
    await raw.open()
    results = {}
    for name, call in (
        ("create", raw.create),
        ("read", lambda i: raw.read(raw.read_id)),
        ("list20", lambda i: raw.list20()),
    ):
        samples = []
        for i in range(iterations):
            start = time.perf_counter()
            await call(i)
            samples.append(time.perf_counter() - start)
        results[name] = median_ms(samples)
    await raw.close()
    return results


def reference_workflows(tag, read_id):
    counter = iter(range(10**9))
    return {
        "create": lambda: workflow("UserCreateNode", {"name": "ref", "email": f"{tag}{next(counter)}@x.org", "age": 1}),
        "read": lambda: workflow("UserReadNode", {"id": read_id}),
        "list20": lambda: workflow("UserListNode", {"limit": 20}),
    }


def _sdk_workflows():
    """The no-op workflow and the echo workflows of 0 / 25 / 100 records (Kailash's own costs)."""
    return {"noop": workflow("BenchNoOpNode", {})} | {
        f"records-{count}": workflow("BenchEchoNode", {"op": f"records-{count}"}) for count in RECORD_COUNTS
    }


def time_local(iterations, tag, read_id):
    results = {}
    with LocalRuntime(enable_monitoring=False) as runtime:
        for name, wf in _sdk_workflows().items():
            for _ in range(20):
                runtime.execute(wf)
            results[name] = median_ms(_timed_each(runtime.execute, [wf] * iterations))
        for name, make in reference_workflows(f"l{tag}", read_id).items():
            flows = [make() for _ in range(iterations)]  # built ahead: building is Kailash's cost, not DataFlow's
            BenchEchoNode.payloads[name] = runtime.execute(make())[0]["n"]
            results[name] = median_ms(_timed_each(runtime.execute, flows))
            echo = workflow("BenchEchoNode", {"op": name})
            results[f"echo-{name}"] = median_ms(_timed_each(runtime.execute, [echo] * iterations))
    return results


async def time_async(iterations, tag, read_id):
    runtime = AsyncLocalRuntime(enable_monitoring=False)
    results = {}

    async def timed(flows):
        samples = []
        for wf in flows:
            start = time.perf_counter()
            await runtime.execute_workflow_async(wf, inputs={})
            samples.append(time.perf_counter() - start)
        return median_ms(samples)

    for name, wf in _sdk_workflows().items():
        await timed([wf] * 20)
        results[name] = await timed([wf] * iterations)
    for name, make in reference_workflows(f"a{tag}", read_id).items():
        results[name] = await timed([make() for _ in range(iterations)])
        results[f"echo-{name}"] = await timed([workflow("BenchEchoNode", {"op": name})] * iterations)
    return results


async def time_hand_off(db, iterations):
    """A no-op coroutine's round trip from a caller's loop to the instance's home loop and back."""

    async def nothing():
        return None

    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        await db.runner.home.run(nothing())
        samples.append(time.perf_counter() - start)
    return median_ms(samples)


def _timed_each(call, items):
    samples = []
    for item in items:
        start = time.perf_counter()
        call(item)
        samples.append(time.perf_counter() - start)
    return samples


def backends():
    return configured_urls(Path(tempfile.mkdtemp(prefix="dfr-bench-")))


def run_backend(name, url, iterations):
    db = DataFlow(url)

    @db.model
    class User:
        name: str
        email: str
        age: int = 0

    db.runner.run_sync(_drop_users(db))  # a table left by an interrupted run
    db.create_tables()
    with LocalRuntime(enable_monitoring=False) as runtime:
        seeded = [
            runtime.execute(workflow("UserCreateNode", {"name": "seed", "email": f"seed{i}@x.org"}))[0]["n"]
            for i in range(20)
        ]
    read_id = seeded[0]["id"]
    local = time_local(iterations, name, read_id)
    remote = asyncio.run(time_async(iterations, name, read_id))
    raw = asyncio.run(time_raw(RawDriver(name, url, "users", read_id), iterations))
    hand_off = asyncio.run(time_hand_off(db, iterations))
    version_text = db.database.server_version
    db.runner.run_sync(_drop_users(db))
    db.close()
    return {"local": local, "async": remote}, raw, hand_off, version_text


async def _drop_users(db):
    from sqlalchemy import text

    async with db.database.transaction(write=True) as conn:
        await conn.execute(text("DROP TABLE IF EXISTS users"))


def per_record_us(measured) -> float:
    """Least-squares slope of the echo workflows' times over the records they return, in microseconds."""
    xs = list(RECORD_COUNTS)
    ys = [measured[f"records-{count}"] for count in RECORD_COUNTS]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
    return slope * 1000


HEADER = (
    "| runtime | backend | operation | reference | no-op wf | echo wf | raw driver | overhead | of which SDK output "
    "| of which reference | target (0.5 ms) |\n|---|---|---|---|---|---|---|---|---|---|---|"
)
SDK_HEADER = (
    "| runtime | backend | no-op workflow (ms) | per returned record (µs) | hand-off to the home loop (ms) |\n"
    "|---|---|---|---|---|"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--markdown", help="also write the tables (with machine, load and versions) to this file")
    args = parser.parse_args()
    load_before = os.getloadavg()
    lines, sdk_lines, servers, missed = [], [], {}, 0
    for name, url in backends():
        measured, raw, hand_off, servers[name] = run_backend(name, url, args.iterations)
        for runtime in ("local", "async"):
            cell = measured[runtime]
            for op in OPERATIONS:
                overhead = cell[op] - (cell["noop"] + raw[op])
                sdk_output = cell[f"echo-{op}"] - cell["noop"]
                own = cell[op] - (cell[f"echo-{op}"] + raw[op])
                ok = overhead <= TARGET_MS
                missed += not ok
                lines.append(
                    f"| {runtime} | {name} | {op} | {cell[op]:.3f} | {cell['noop']:.3f} | {cell[f'echo-{op}']:.3f} "
                    f"| {raw[op]:.3f} | {overhead:.3f} | {sdk_output:.3f} | {own:.3f} | {'met' if ok else 'MISSED'} |"
                )
            hand = f"{hand_off:.3f}" if runtime == "local" else "none (I/O on the caller's loop)"
            sdk_lines.append(f"| {runtime} | {name} | {cell['noop']:.3f} | {per_record_us(cell):.1f} | {hand} |")
        print("\n".join(lines[-6:]), flush=True)
    summary = f"{missed} of {len(lines)} cells over the {TARGET_MS} ms target"
    text = [
        f"Python {platform.python_version()}, kailash {version('kailash')}, sqlalchemy {version('sqlalchemy')}, "
        f"{os.cpu_count()} CPUs; medians of {args.iterations} runs; times in ms per workflow; load average "
        f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after",
        "",
        HEADER,
        *lines,
        "",
        summary,
        "",
        "Kailash's own cost (the SDK's share, whatever the DataFlow implementation):",
        "",
        SDK_HEADER,
        *sdk_lines,
    ]
    print("\n".join(text))
    if args.markdown:
        from dataflow_conformance.report.provenance import stamp

        page = [
            stamp({name: version(name) for name in ("kailash", "sqlalchemy")}),
            "",
            "# Per-operation overhead",
            "",
            f"Generated by `benchmarks/node_overhead.py` on {dt.date.today()}: {platform.platform()}. "
            "Servers: " + "; ".join(f"{k}: {v}" for k, v in servers.items()) + ".",
            "",
            "overhead = reference - (no-op workflow + raw driver); of which SDK output = echo workflow - no-op "
            "workflow (Kailash handling the same output); of which reference = reference - (echo workflow + raw "
            "driver). Both runtimes with enable_monitoring=False.",
            "",
            *text,
            "",
        ]
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write("\n".join(page))


if __name__ == "__main__":
    main()
