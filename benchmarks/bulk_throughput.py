"""Bulk create (1k / 10k / 100k rows) and bulk upsert (10k rows, half new) throughput, side by side:
the reference through a workflow, the raw driver's fastest path, and the published kailash-dataflow
package when it is installed. Every cell runs `--repeat` times (the published package, much slower,
`--upstream-repeat` times); the table shows the median rate and the spread (slowest - fastest run),
and ratios of medians. Kailash's own share is measured on its own: the same records handed to a node
that does nothing (the SDK resolves templates in every input value it passes on), so the table can
say what the reference reaches apart from the SDK. `--markdown PATH` also writes the table.

LocalRuntime runs with enable_monitoring=False. Backends: SQLite (temp file) always; PostgreSQL
and MySQL when DFC_POSTGRESQL_URL / DFC_MYSQL_URL are set. Usage (from the checkout):
python -m benchmarks.bulk_throughput [--repeat N] [--markdown PATH]
"""

import argparse
import asyncio
import datetime as dt
import importlib.util
import logging
import os
import platform
import statistics
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import dataflow_reference
from kailash.nodes.base import NodeParameter, NodeRegistry
from kailash.nodes.base_async import AsyncNode
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from harness.databases import configured_urls
from harness.rawdriver import raw_driver

# As in the load tests: Kailash warns once per workflow whose output (records hold datetimes) it cannot
# checkpoint as JSON; writing those lines to stderr is not what is measured.
logging.getLogger("kailash.runtime.execution_tracker").setLevel(logging.ERROR)

SIZES = (1_000, 10_000, 100_000)
UPSERT_SIZE = 10_000
RAW_TABLE = "bench_rawitems"  # the table define() makes for the "RawItem" model


class BenchSinkNode(AsyncNode):
    """Takes the records a bulk node would take and does nothing with them: Kailash's own cost."""

    def get_parameters(self):
        return {"data": NodeParameter(name="data", type=list, required=True)}

    async def async_run(self, **inputs):
        return {"received": len(inputs["data"])}


NodeRegistry.register(BenchSinkNode, alias="BenchSinkNode", allow_override=True)


class KailashAlone:
    """The workflow of a bulk node without the database: a node that receives the records."""

    def __init__(self):
        self.runtime = LocalRuntime(enable_monitoring=False).__enter__()  # left in close(), as Kailash asks

    def bulk_create(self, data):
        results, _ = self.runtime.execute(workflow("BenchSinkNode", {"data": data}))
        if results["n"]["received"] != len(data):
            raise RuntimeError(f"the sink node received {results['n']['received']} of {len(data)} records")

    bulk_upsert = bulk_create

    def close(self):
        self.runtime.__exit__(None, None, None)


def rows(count, start=0):
    return [{"sku": f"sku-{i}", "qty": i, "price": i / 4} for i in range(start, start + count)]


def workflow(node, params):
    builder = WorkflowBuilder()
    builder.add_node(node, "n", params)
    return builder.build()


def define(db, name):
    """One model per implementation (node names are global in Kailash's registry)."""
    table = f"bench_{name.lower()}s"
    db.model(
        type(
            name,
            (),
            {
                "__annotations__": {"sku": str, "qty": int, "price": float},
                "__tablename__": table,
                "__dataflow__": {"indexes": [{"name": f"uq_{table}_sku", "fields": ["sku"], "unique": True}]},
            },
        )
    )
    return table


class Implementation:
    """Runs BulkCreate / BulkUpsert workflows of one DataFlow implementation."""

    def __init__(self, module, url, model):
        self.db = module.DataFlow(url)
        self.model = model
        self.table = define(self.db, model)
        self.runtime = LocalRuntime(enable_monitoring=False).__enter__()  # left in close(), as Kailash asks

    def bulk_create(self, data):
        results, _ = self.runtime.execute(workflow(f"{self.model}BulkCreateNode", {"data": data, "batch_size": 1000}))
        return self._checked(results["n"], "inserted", len(data))

    def bulk_upsert(self, data):
        results, _ = self.runtime.execute(
            workflow(f"{self.model}BulkUpsertNode", {"data": data, "conflict_on": ["sku"]})
        )
        return self._checked(results["n"], "processed", len(data))

    @staticmethod
    def _checked(output, key, expected):
        if output.get("failed") or output.get(key) != expected:
            raise RuntimeError(str(output.get("error") or output)[:120])

    def close(self):
        self.runtime.__exit__(None, None, None)
        self.db.close()


class Raw:
    """The driver's fastest path, on one connection, in one transaction (harness/rawdriver.py)."""

    COLUMNS = ["sku", "qty", "price", "created_at", "updated_at"]

    def __init__(self, backend, url):
        self.driver = raw_driver(backend, url, autocommit=False)

    def _tuples(self, data):
        now = self.driver.now()
        return [(r["sku"], r["qty"], r["price"], now, now) for r in data]

    def bulk_create(self, data):
        asyncio.run(self._load(self._tuples(data)))

    def bulk_upsert(self, data):
        asyncio.run(self._load(self._tuples(data), upsert_key="sku", updated=["qty", "price", "updated_at"]))

    async def _load(self, rows, **upsert):
        await self.driver.open()
        try:
            await self.driver.load(RAW_TABLE, self.COLUMNS, rows, **upsert)
        finally:
            await self.driver.close()


def timed(call, data):
    start = time.perf_counter()
    call(data)
    return time.perf_counter() - start


def clear(reference, tables):
    from sqlalchemy import text

    async def run():
        async with reference.db.database.transaction(write=True) as conn:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))

    reference.db.runner.run_sync(run())


def measure(backend, url, upstream_module, repeat, upstream_repeat):
    reference = Implementation(dataflow_reference, url, "RefItem")
    define(reference.db, "RawItem")  # the raw driver's table, created by the reference
    tables = [reference.table, RAW_TABLE]
    reference.db.runner.run_sync(_drop(reference, tables + ["bench_pubitems"]))
    reference.db.create_tables()
    reference.bulk_create(rows(10))  # warm-up: imports and caches of the first workflow
    raw, alone = Raw(backend, url), KailashAlone()
    upstream = upstream_module if isinstance(upstream_module, str) else None
    if upstream_module is not None and not isinstance(upstream_module, str):
        try:
            upstream = Implementation(upstream_module, url, "PubItem")
            tables.append(upstream.table)
        except Exception as exc:  # reported, not fatal: the published package may fail here
            upstream = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
    results = []
    cases = [("bulk create", size) for size in SIZES] + [("bulk upsert (half new)", UPSERT_SIZE)]
    for label, size in cases:
        line = {"backend": backend, "operation": label, "rows": size}
        sides = (("reference", reference), ("raw", raw), ("kailash", alone), ("upstream", upstream))
        for name, impl in sides:
            if impl is None or isinstance(impl, str):
                line[name] = impl
                continue
            line[name] = _repeated(
                reference, tables, name, impl, label, size, upstream_repeat if name == "upstream" else repeat
            )
        results.append(line)
        print(format_line(line), flush=True)
    reference.db.runner.run_sync(_drop(reference, tables))
    server = reference.db.database.server_version
    reference.close()
    alone.close()
    if isinstance(upstream, Implementation):
        upstream.close()
    return results, server


def _repeated(reference, tables, name, impl, label, size, times):
    """Seconds of each of `times` runs of one cell (each on an empty table), or why it failed."""
    seconds = []
    for _ in range(times):
        clear(reference, [t for t in tables if t in _existing(reference)])
        try:
            if label.startswith("bulk upsert") and name != "kailash":
                impl.bulk_create(rows(size // 2))  # the first half exists, the second half is new
                took = timed(impl.bulk_upsert, rows(size))
            else:
                took = timed(impl.bulk_create, rows(size))
            if name != "kailash":
                table = RAW_TABLE if name == "raw" else impl.table
                stored = _count(reference, table)  # believe the table, not the reported count
                if stored != size:
                    return f"wrong: {stored} rows stored, {size} expected"
        except Exception as exc:
            return f"failed: {type(exc).__name__}: {str(exc)[:80]}"
        seconds.append(took)
    return seconds


async def _drop(reference, tables):
    from sqlalchemy import text

    async with reference.db.database.transaction(write=True) as conn:
        for table in tables:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))


def _count(reference, table):
    from sqlalchemy import text

    async def run():
        async with reference.db.database.transaction(write=False) as conn:
            return (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()

    return reference.db.runner.run_sync(run())


def _existing(reference):
    from sqlalchemy import inspect

    async def run():
        async with reference.db.database.transaction(write=False) as conn:
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())

    return set(reference.db.runner.run_sync(run()))


def _rate(seconds, rows):
    """Median rows/s and the spread of the runs (slowest - fastest), or the failure's text."""
    if not isinstance(seconds, list):
        return seconds or "not installed"
    rates = sorted(rows / s for s in seconds)
    median = statistics.median(rates)
    if len(rates) == 1:
        return f"{median:,.0f}"
    return f"{median:,.0f} ({rates[0]:,.0f} - {rates[-1]:,.0f})"


def _median_rate(seconds, rows):
    return rows / statistics.median(seconds) if isinstance(seconds, list) else None


def _ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b is not None else "-"


def format_line(line):
    size = line["rows"]
    reference, raw = _median_rate(line["reference"], size), _median_rate(line["raw"], size)
    upstream = _median_rate(line["upstream"], size)
    sdk = statistics.median(line["kailash"]) if isinstance(line["kailash"], list) else None
    own = None  # the reference's rate without Kailash's share of its time
    if reference is not None and sdk is not None and size / reference > sdk:
        own = size / (size / reference - sdk)
    share = f"{sdk / (size / reference):.0%}" if reference is not None and sdk is not None else "-"
    return (
        f"| {line['backend']} | {line['operation']} | {size:,} | {_rate(line['reference'], size)} "
        f"| {_rate(line['raw'], size)} | {_ratio(reference, raw)} | {share} | {_ratio(own, raw)} "
        f"| {_rate(line['upstream'], size)} | {_ratio(reference, upstream)} |"
    )


HEADER = (
    "| backend | operation | rows | reference rows/s (spread) | raw driver rows/s (spread) | reference / raw "
    "| Kailash's share of the reference's time | reference / raw without that share "
    "| kailash-dataflow rows/s (spread) | reference / kailash-dataflow |\n|---|---|---|---|---|---|---|---|---|---|"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", help="also write the table (with machine and versions) to this file")
    parser.add_argument("--repeat", type=int, default=5, help="runs per cell (default: %(default)s)")
    parser.add_argument(
        "--upstream-repeat", type=int, default=3, help="runs per cell of kailash-dataflow (default: %(default)s)"
    )
    parser.add_argument("--no-upstream", action="store_true", help="leave out the published kailash-dataflow")
    args = parser.parse_args()
    load_before = os.getloadavg()
    upstream = importlib.import_module("dataflow") if importlib.util.find_spec("dataflow") else None
    upstream = "left out (--no-upstream)" if args.no_upstream else upstream
    backends = configured_urls(Path(tempfile.mkdtemp(prefix="dfr-bulk-")))
    versions = {}
    for name in ("kailash", "kailash-dataflow", "sqlalchemy", "asyncpg", "aiomysql", "aiosqlite"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    print(HEADER)
    lines, servers = [], {}
    for backend, url in backends:
        found, servers[backend] = measure(backend, url, upstream, args.repeat, args.upstream_repeat)
        lines += found
    if args.markdown:
        from dataflow_conformance.report.provenance import stamp

        text = [
            stamp(versions),
            "",
            "# Bulk throughput",
            "",
            f"Generated by `benchmarks/bulk_throughput.py` on {dt.date.today()}: {platform.platform()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; LocalRuntime(enable_monitoring=False); "
            f"load average {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} before the run, "
            f"{os.getloadavg()[0]:.2f} after.",
            "",
            "Servers: " + "; ".join(f"{k}: {v}" for k, v in servers.items()),
            "",
            "Packages: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
            "",
            "Raw driver: asyncpg `copy_records_to_table` (PostgreSQL), aiomysql multi-row `executemany` (MySQL), "
            "sqlite3 `executemany` in one transaction (SQLite); upserts use each server's native upsert statement. "
            f"Each cell: the median of {args.repeat} runs ({args.upstream_repeat} for kailash-dataflow), each on an "
            "empty table, and in brackets the slowest and the fastest run. Kailash's share: a workflow whose node "
            "receives the same records and does nothing (the SDK's own per-record work); the column after it is "
            "the reference's rate without that share, against the raw driver.",
            "",
            HEADER,
            *[format_line(line) for line in lines],
            "",
        ]
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write("\n".join(text))


if __name__ == "__main__":
    main()
