"""NODE: generated nodes are real Kailash nodes that run under both runtimes and connect."""

import asyncio
import contextlib
import os
import threading
import time
from pathlib import Path

import pytest
from kailash.nodes.base import Node, NodeRegistry
from kailash.runtime.async_local import AsyncLocalRuntime
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from ..access.protocol import WORKFLOW_PATHS
from ..contract.operations import OPERATIONS, TRANSACTION_NODES
from .support import define_user


@pytest.mark.clause("NODE-001")
def test_nodes_registered_by_name(make_dataflow):
    define_user(make_dataflow())
    for operation in OPERATIONS:
        if not operation.bulk:
            node_class = NodeRegistry.get(operation.node_type("User"))
            assert issubclass(node_class, Node), f"{operation.node_type('User')} is not a Kailash Node"


@pytest.mark.clause("NODE-002")
@pytest.mark.paths(*WORKFLOW_PATHS)  # a node feature with no express form
def test_output_shapes(make_dataflow, probe, flow):
    define_user(make_dataflow())
    created = flow.node("UserCreateNode", {"name": "a", "email": "a@x.org"})
    assert {"id", "name", "email", "created_at", "updated_at"} <= set(created)
    assert flow.node("UserReadNode", {"id": created["id"]})["found"] is True
    assert flow.node("UserUpdateNode", {"filter": {"id": created["id"]}, "fields": {"age": 2}})["updated"] is True
    listed = flow.node("UserListNode", {"limit": 10})
    assert {"records", "count", "limit", "offset"} <= set(listed) and listed["count"] == 1
    # The paging in effect is echoed: the limit given, and with no offset given, none or 0 (the first record).
    echoed = (listed["limit"], listed["offset"] or 0)
    assert echoed == (10, 0), f"UserListNode echoed limit, offset {echoed} for limit=10 and no offset"
    assert flow.node("UserCountNode", {})["count"] == 1
    upserted = flow.node(
        "UserUpsertNode", {"where": {"email": "b@x.org"}, "create": {"name": "b"}, "update": {"age": 1}}
    )
    assert (upserted["created"], upserted["action"]) == (True, "created"), f"a new record's upsert: {upserted}"
    assert flow.node("UserDeleteNode", {"id": created["id"]})["deleted"] is True
    assert [row["email"] for row in probe.rows("users")] == ["b@x.org"]


@pytest.mark.clause("NODE-003")
@pytest.mark.paths(*WORKFLOW_PATHS)  # a node feature with no express form
def test_connections_between_nodes(make_dataflow, flow):
    define_user(make_dataflow())
    builder = WorkflowBuilder()
    builder.add_node("UserCreateNode", "create", {"name": "linked", "email": "l@x.org", "age": 7})
    builder.add_node("UserReadNode", "read", {})
    builder.add_connection("create", "id", "read", "id")
    results = flow.run(builder)
    assert results["read"]["id"] == results["create"]["id"]
    assert (results["read"]["name"], results["read"]["age"]) == ("linked", 7)


def _create(builder_name, email):
    builder = WorkflowBuilder()
    builder.add_node("UserCreateNode", "create", {"name": builder_name, "email": email})
    return builder.build()


def _count_workflow():
    builder = WorkflowBuilder()
    builder.add_node("UserCountNode", "count", {})
    return builder.build()


@pytest.mark.clause("NODE-004")
def test_one_instance_across_call_contexts(make_dataflow, probe):
    define_user(make_dataflow())
    with LocalRuntime(enable_monitoring=False) as local:
        _across_call_contexts(local, probe)


def _across_call_contexts(local, probe):
    async def inside_a_loop(round_no):
        # LocalRuntime called from a running loop runs the workflow on another thread and loop.
        local.execute(_create("local-in-loop", f"l{round_no}@x.org"))
        runtime = AsyncLocalRuntime()
        await runtime.execute_workflow_async(_create("async", f"a{round_no}@x.org"), inputs={})
        results, _ = await runtime.execute_workflow_async(_count_workflow(), inputs={})
        return results["count"]["count"]

    for round_no in range(2):  # each round uses a new event loop; the instance must survive that
        local.execute(_create("sync", f"s{round_no}@x.org"))
        assert asyncio.run(inside_a_loop(round_no)) == 3 * (round_no + 1)
    results, _ = local.execute(_count_workflow())
    assert results["count"]["count"] == 6
    assert probe.count("users") == 6


@pytest.mark.clause("NODE-005")
def test_bulk_and_transaction_nodes_registered(make_dataflow):
    define_user(make_dataflow())
    names = [o.node_type("User") for o in OPERATIONS if o.bulk] + list(TRANSACTION_NODES)
    for name in names:
        assert issubclass(NodeRegistry.get(name), Node), f"{name} is not a registered Kailash node"


@pytest.mark.clause("NODE-004")
def test_one_instance_from_two_long_lived_loops_at_once(make_dataflow, probe):
    """Two event loops on two threads (the loops of two server workers, say) run workflows on one
    instance at the same time, under AsyncLocalRuntime, many at once on each loop."""
    define_user(make_dataflow())
    both_running, both_written = threading.Barrier(2, timeout=120), threading.Barrier(2, timeout=120)
    counted, errors = {}, []

    async def serve(tag):
        runtime = AsyncLocalRuntime()
        await asyncio.to_thread(both_running.wait)  # neither loop writes before both are up
        for batch in range(LOOP_BATCHES):
            emails = [f"{tag}{batch}-{i}@x.org" for i in range(LOOP_BATCH_SIZE)]
            await asyncio.gather(*(runtime.execute_workflow_async(_create(tag, e), inputs={}) for e in emails))
            await asyncio.sleep(0.01)  # the other loop runs meanwhile: the two interleave for the whole run
        await asyncio.to_thread(both_written.wait)  # the other loop has written everything too
        results, _ = await runtime.execute_workflow_async(_count_workflow(), inputs={})
        counted[tag] = results["count"]["count"]

    def thread(tag):
        try:
            asyncio.run(serve(tag))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
            both_running.abort()
            both_written.abort()

    threads = [threading.Thread(target=thread, args=(tag,)) for tag in ("a", "b")]
    for each in threads:
        each.start()
    for each in threads:
        each.join(timeout=300)
    assert not any(each.is_alive() for each in threads), "a loop's workflows did not finish in 300 s"
    assert not errors, f"a loop failed: {errors[0]!r}"
    total = 2 * LOOP_BATCHES * LOOP_BATCH_SIZE
    assert counted == {"a": total, "b": total}, f"each loop must count every record of both: {counted}"
    expected = sorted(f"{t}{b}-{i}@x.org" for t in "ab" for b in range(LOOP_BATCHES) for i in range(LOOP_BATCH_SIZE))
    assert sorted(row["email"] for row in probe.rows("users")) == expected, "a record was lost or stored twice"


LOOP_BATCHES, LOOP_BATCH_SIZE = 10, 10


@pytest.mark.clause("NODE-004", "CONF-007")
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counting open file descriptors needs Linux /proc")
def test_close_leaves_nothing_behind(dataflow_impl, backend, database_url, probe):
    """After use from every call context, close() leaves no thread, no task on the caller's loop, no
    server connection and no open file descriptor of the instance behind."""
    with asyncio.Runner() as caller:  # an application's long-lived loop, which outlives the instance
        caller.get_loop()
        probe.count("users")  # the probe's own pooled connection is open before the baseline, not counted after
        threads, fds = set(threading.enumerate()), _open_fds()
        db = dataflow_impl.DataFlow(database_url)
        define_user(db)
        with LocalRuntime(enable_monitoring=False) as local:
            local.execute(_create("plain", "plain@x.org"))  # plain synchronous code
            caller.run(_from_a_running_loop(local, db))  # LocalRuntime inside it, AsyncLocalRuntime, express
        if getattr(db, "express_sync", None) is not None:
            db.express_sync.count("User")
        db.close()
        assert probe.count("users") >= 3, "the operations before close() did not all run"
        left = _left_behind(threads, fds, caller.get_loop())
        assert not left, f"close() left {'; '.join(left)}"
        assert probe.connections_after_close() == 0, "server connections are still open after close()"


async def _from_a_running_loop(local, db):
    local.execute(_create("in-loop", "in-loop@x.org"))
    runtime = AsyncLocalRuntime(enable_monitoring=False)
    await runtime.execute_workflow_async(_create("async", "async@x.org"), inputs={})
    if getattr(db, "express", None) is not None:
        await db.express.count("User")


def _open_fds() -> dict[int, str]:
    found = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used is gone already
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return found


def _left_behind(threads, fds, loop, grace: float = 10.0) -> list[str]:
    """What is still there after close() (threads ending and sockets closing get `grace` seconds)."""
    deadline = time.monotonic() + grace
    while True:
        new_threads = [t.name for t in threading.enumerate() if t not in threads and t.is_alive()]
        new_fds = [f"fd {fd} -> {target}" for fd, target in _open_fds().items() if fds.get(fd) != target]
        tasks = [repr(task) for task in asyncio.all_tasks(loop)]
        left = [f"{len(new_threads)} thread(s) {new_threads}"] if new_threads else []
        left += [f"{len(new_fds)} file descriptor(s) {new_fds}"] if new_fds else []
        left += [f"{len(tasks)} task(s) on the caller's loop {tasks}"] if tasks else []
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
