"""NODE: generated nodes are real Kailash nodes that run under both runtimes and connect."""

import asyncio

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
    assert {"records", "count"} <= set(listed) and listed["count"] == 1
    assert flow.node("UserCountNode", {})["count"] == 1
    upserted = flow.node(
        "UserUpsertNode", {"where": {"email": "b@x.org"}, "create": {"name": "b"}, "update": {"age": 1}}
    )
    assert {"created", "action", "record"} <= set(upserted)
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
