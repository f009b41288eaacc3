"""Many operations at once, as each path's users run them: tasks on one event loop (async paths) or a pool
of threads with a path each (sync paths); optionally each with its own tenant bound around it."""

import asyncio
import contextlib
import queue
import threading


def in_threads(open_path, calls: list, *, run_one, db, tenants=None, threads: int = 32) -> list:
    """`run_one(path, call)` for every call on a pool of threads (one path per thread); each output, or the
    exception it raised, in order.

    Daemon threads rather than a ThreadPoolExecutor: an executor joins its threads when the `with` block
    ends, even on the test's timeout, and again at interpreter exit, so a thread deadlocked inside an
    implementation would hang the test and then its xdist worker for good (kailash-dataflow 2.20.1 did,
    in POOL-004). Here the join is interrupted by the timeout, and stuck threads are left behind."""
    local, paths, lock = threading.local(), [], threading.Lock()
    tenants = tenants or [None] * len(calls)
    jobs: queue.SimpleQueue = queue.SimpleQueue()
    for index, job in enumerate(zip(calls, tenants, strict=True)):
        jobs.put((index, job))
    results: list = [None] * len(calls)

    def one(call, tenant):
        if not hasattr(local, "path"):
            local.path = open_path()
            with lock:
                paths.append(local.path)
        try:
            with _as_tenant(db or local.path.db, tenant):
                return run_one(local.path, call)
        except Exception as exc:  # returned, like asyncio.gather(return_exceptions=True)
            return exc

    def work():
        while True:
            try:
                index, (call, tenant) = jobs.get_nowait()
            except queue.Empty:
                return
            results[index] = one(call, tenant)

    workers = [
        threading.Thread(target=work, daemon=True, name=f"dfc-caller-{n}") for n in range(min(threads, len(calls)))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()  # a signal (the test's timeout) interrupts it: the paths of stuck threads stay open
    for path in paths:
        path.close()
    return results


async def in_tasks(calls: list, *, run_one, db, tenants=None) -> list:
    """`await run_one(call)` for every call as concurrent tasks on the running loop."""
    tenants = tenants or [None] * len(calls)

    async def one(call, tenant):
        async with _as_tenant_async(db, tenant):
            await asyncio.sleep(0)  # let the other tasks start: the calls interleave
            return await run_one(call)

    return await asyncio.gather(*(one(c, t) for c, t in zip(calls, tenants, strict=True)), return_exceptions=True)


def _as_tenant(db, tenant):
    return db.tenant_context.switch(tenant) if tenant is not None else contextlib.nullcontext()


def _as_tenant_async(db, tenant):
    return db.tenant_context.aswitch(tenant) if tenant is not None else contextlib.nullcontext()
