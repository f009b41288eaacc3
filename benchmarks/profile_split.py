"""Where the reference's time goes, per workload and backend: a sampling profile (py-spy, every thread of the
process) split into Kailash's runtime, the generated nodes, the reference's own code, SQL building, SQLAlchemy's
engine and async layer, the driver, the event loop, and time spent waiting (a thread blocked on the server's
answer, on another thread's hand-off or on a lock).

Each workload runs in a worker process: it sets up (tables, seed data, warm-up) with no profiler attached, then
py-spy attaches and samples only the timed loop. Samples are summed over threads, so the shares are of thread
time, not of wall time; the wall time per operation is given beside them. Not a test: run it on an idle machine.
Usage (from the checkout): python -m benchmarks.profile_split [--iterations N] [--markdown PATH]
"""

import argparse
import collections
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

RATE = 1000  # samples per second and thread
# (category, what a frame's file path matches); a sample goes to the deepest frame that matches one.
CATEGORIES = [  # py-spy names a frame `function (package/module.py:line)`
    ("waiting", r"\(selectors\.py|\(threading\.py:\d+\)$|\(queue\.py|Future\.result \(concurrent/"),
    ("Kailash runtime", r"\(kailash/"),
    ("generated nodes", r"\(dataflow_reference/(nodes|operations|transaction_nodes)\.py"),
    ("reference", r"\(dataflow_reference/"),
    ("SQL building", r"\(sqlalchemy/sql/"),
    ("SQLAlchemy engine and async layer", r"\(sqlalchemy/|\(greenlet"),
    ("driver", r"\((asyncpg|aiomysql|pymysql|aiosqlite|sqlite3)/"),
    ("event loop", r"\(asyncio/"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]
WORKLOADS = ("create", "read", "list20", "permission check", "list 25 users", "bulk create 10k")


def classify(stack: list[str]) -> str:
    for frame in reversed(stack):
        for name, pattern in COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def split(raw: Path) -> dict[str, int]:
    """Samples per category from py-spy's raw output (`frame;frame;... count`)."""
    counts: collections.Counter = collections.Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue  # a thread with no Python frame (native code): nothing to attribute it to
        frames = stack.split(";")
        if any("wait_for_the_profiler" in f for f in frames):
            continue  # the worker's own wait before the timed loop
        counts[classify(frames)] += int(count)
    return dict(counts)


# -- the worker: one workload, set up unprofiled, then timed while py-spy samples ------------------------


def worker(url: str, workload: str, iterations: int) -> None:
    """The load tests' user-management models and seed data (harness/), through LocalRuntime."""
    from harness.dataflow_side import DataFlowAuth, bulk_import_workflow, create_user_workflow, open_dataflow
    from harness.workload import PERMISSIONS, UserNames

    from .node_overhead import workflow as one_node

    auth = DataFlowAuth(open_dataflow("dataflow_reference", url, "prof"))
    auth.db.create_tables()
    user_ids = auth.seed(200)
    names = UserNames("p")
    operations = {
        "create": lambda i: auth.run(create_user_workflow(**names.next(), password_hash="x")),
        "read": lambda i: auth.run(one_node("UserReadNode", {"id": user_ids[i % len(user_ids)]})),
        "list20": lambda i: auth.run(one_node("UserListNode", {"limit": 20})),
        "permission check": lambda i: auth.has_perm(user_ids[i % len(user_ids)], PERMISSIONS[i % len(PERMISSIONS)]),
        "list 25 users": lambda i: auth.list_users(i % 8),
        "bulk create 10k": lambda i: auth.run(
            bulk_import_workflow([{**r, "password": "x"} for r in names.batch(10_000)])
        ),
    }
    operation = operations[workload]
    for i in range(max(3, iterations // 10)):  # warm-up: pools, statement caches
        operation(i)
    wait_for_the_profiler()
    start = time.perf_counter()
    for i in range(iterations):
        operation(i)
    elapsed = time.perf_counter() - start
    print(json.dumps({"ms_per_op": elapsed / iterations * 1000}), flush=True)
    auth.close()


def wait_for_the_profiler() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def profile(url: str, workload: str, iterations: int, out: Path) -> dict:
    command = [sys.executable, "-m", "benchmarks.profile_split", "--worker", url, workload, str(iterations)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{workload}: the worker did not get ready (exit {proc.wait()})")
        spy = subprocess.Popen(
            # --nonblocking: the process is not paused for each sample (that would stretch the wall times shown)
            [py_spy(), "record", "--nonblocking", "--pid", str(proc.pid), "-r", str(RATE), "-f", "raw", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attaches
        proc.stdin.write("go\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
        proc.wait(timeout=120)
        spy.wait(timeout=60)
    finally:
        proc.kill()
    return {"ms_per_op": result["ms_per_op"], "samples": split(out), "iterations": iterations}


def py_spy() -> str | None:
    """py-spy's binary: on PATH, or beside this Python (a virtual environment not activated)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def iterations_of(workload: str, base: int) -> int:
    return max(3, base // 100) if workload == "bulk create 10k" else base


def table(results: list[dict]) -> list[str]:
    names = [name for name, _ in CATEGORIES] + ["other"]
    lines = [
        "| backend | workload | ms per op | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for row in results:
        total = sum(row["samples"].values()) or 1
        shares = " | ".join(f"{row['samples'].get(name, 0) / total * 100:.0f}%" for name in names)
        lines.append(f"| {row['backend']} | {row['workload']} | {row['ms_per_op']:.2f} | {shares} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000, help="operations per workload (bulk: / 100)")
    parser.add_argument("--workload", action="append", choices=WORKLOADS, help="some workloads (default: all)")
    parser.add_argument("--markdown", help="write the table (with machine, load and versions) to this file")
    parser.add_argument("--worker", nargs=3, metavar=("URL", "WORKLOAD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        url, workload, count = args.worker
        return worker(url, workload, int(count))
    if py_spy() is None:
        parser.error("py-spy is not installed: pip install -e '.[dev]'")
    from harness.databases import configured_backends, scratch_database

    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="dfr-profile-") as scratch:
        for backend in configured_backends(None):
            for workload in args.workload or WORKLOADS:
                run_dir = Path(scratch) / f"{backend}-{workload.replace(' ', '-')}"
                run_dir.mkdir()
                with scratch_database(backend, run_dir) as database:  # a fresh database per workload
                    row = profile(database.url, workload, iterations_of(workload, args.iterations), run_dir / "raw")
                results.append({"backend": backend, "workload": workload, **row})
                print("\n".join(table(results)[-1:]), flush=True)
    lines = [
        f"Python {platform.python_version()}, kailash {version('kailash')}, sqlalchemy {version('sqlalchemy')}, "
        f"py-spy {version('py-spy')}, {os.cpu_count()} CPUs; LocalRuntime, {args.iterations} operations per "
        f"workload (bulk: {iterations_of('bulk create 10k', args.iterations)}); load average "
        f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} before, {os.getloadavg()[0]:.2f} after",
        "",
        *table(results),
    ]
    print("\n".join(lines))
    if args.markdown:
        from dataflow_conformance.report.provenance import stamp

        measured = {name: version(name) for name in ("kailash", "sqlalchemy", "py-spy")}
        title = [
            "# Where the reference's time goes",
            "",
            "Generated by `nox -s profile`; the method and what it shows:",
        ]
        title += ["[../guide/performance.md](../guide/performance.md).", ""]
        page = [stamp(measured), "", *title, *lines]
        Path(args.markdown).write_text("\n".join(page) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
