"""Many operations at once, as each path's users run them: tasks on one event loop (async paths) or a pool
of threads with a path each (sync paths); optionally each with its own tenant bound around it."""

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor


def in_threads(open_path, calls: list, *, run_one, db, tenants=None, threads: int = 32) -> list:
    """`run_one(path, call)` for every call on a pool of threads (one path per thread); each output, or the
    exception it raised, in order."""
    local, paths, lock = threading.local(), [], threading.Lock()
    tenants = tenants or [None] * len(calls)

    def one(job):
        call, tenant = job
        if not hasattr(local, "path"):
            local.path = open_path()
            with lock:
                paths.append(local.path)
        try:
            with _as_tenant(db or local.path.db, tenant):
                return run_one(local.path, call)
        except Exception as exc:  # returned, like asyncio.gather(return_exceptions=True)
            return exc

    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, zip(calls, tenants, strict=True)))
    finally:
        for path in paths:
            path.close()


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
