"""POOL: connection pooling and concurrency, measured on the server (pg_stat_activity, PROCESSLIST)."""

import threading
import time

import pytest
from kailash.workflow.builder import WorkflowBuilder
from sqlalchemy import text

from ..access.protocol import WORKFLOW_PATHS
from ..backends.registry import SERVERS
from ..testing.scopes import Scope
from .support import define_user, with_deadline


def creates(count, prefix="c"):
    return [
        ("UserCreateNode", {"name": f"{prefix}{i}", "email": f"{prefix}{i}@x.org", "age": i % 90}) for i in range(count)
    ]


class ConnectionSampler:
    """Polls the server's connection count to the test database in a background thread, on one
    connection of its own (which the count leaves out)."""

    def __init__(self, probe):
        self.query, self.probe = text(probe.features.count_sessions_sql()), probe
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with self.probe.engine.connect() as conn:
            while not self._stop.is_set():
                self.samples.append(conn.execute(self.query).scalar())
                time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


def assert_all_created(results, probe, expected):
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} of {len(results)} concurrent creates failed, e.g. {errors[0]!r}"
    emails = [row["email"] for row in probe.rows("users")]
    assert len(emails) == len(expected), f"{len(emails)} rows for {len(expected)} creates"
    assert sorted(emails) == sorted(p["email"] for _, p in expected), "a create was lost or stored twice"


@pytest.mark.clause("POOL-001")
@pytest.mark.backends(*SERVERS)
def test_pool_limits_hold_under_200_concurrent_workflows(make_dataflow, probe, flow):
    db = make_dataflow(pool_size=3, pool_max_overflow=2)
    define_user(db)
    db.create_tables()
    calls = creates(200)
    with ConnectionSampler(probe) as sampler:
        results = flow.concurrently(calls, db=db)
    assert_all_created(results, probe, calls)
    assert sampler.samples and max(sampler.samples) > 0, "the sampler never saw the implementation's connections"
    assert max(sampler.samples) <= 5, f"{max(sampler.samples)} server connections with pool_size=3, pool_max_overflow=2"


@pytest.mark.clause("POOL-002")
@pytest.mark.paths(*WORKFLOW_PATHS)  # the clause counts workflows
def test_no_connection_left_after_1000_workflows_and_close(dataflow_impl, backend, probe, database_url, flow):
    db = dataflow_impl.DataFlow(database_url)
    try:
        define_user(db)
        (first,) = [flow.node(*call, db=db) for call in creates(1)]
        for i in range(333):
            flow.node("UserReadNode", {"id": first["id"]}, db=db)
            flow.node("UserCountNode", {"filter": {"age": {"$gte": i % 5}}}, db=db)
            flow.node("UserUpdateNode", {"filter": {"id": first["id"]}, "fields": {"age": i % 90}}, db=db)
    finally:
        db.close()
    assert probe.scalar("SELECT age FROM users") == 332 % 90
    assert probe.connections_after_close() == 0, "connections are still open after close()"


def _hold_the_only_connection(flow, db) -> str:
    """Open a transaction scope and leave it open: it keeps the pool's one connection checked out."""
    return flow.run(Scope().then("UserCreateNode", {"name": "held", "email": "held@x.org"}).builder, db=db)["begin"][
        "transaction_id"
    ]


def _end_scope(flow, db, scope_id):
    builder = WorkflowBuilder()
    builder.add_node("TransactionCommitNode", "commit", {"transaction_id": scope_id})
    flow.run(builder, db=db)


@pytest.mark.clause("POOL-003")
@pytest.mark.backends(*SERVERS)
@pytest.mark.paths(*WORKFLOW_PATHS)  # the connection is held by a transaction scope
def test_exhausted_pool_times_out_clearly_then_recovers(make_dataflow, probe, flow):
    db = make_dataflow(pool_size=1, pool_max_overflow=0, pool_timeout=1)
    define_user(db)
    db.create_tables()
    scope_id = _hold_the_only_connection(flow, db)
    finished, outcome, seconds = with_deadline(lambda: flow.node("UserCountNode", {}, db=db), timeout=60)
    assert finished, "a call on an exhausted pool hung for 60 s (pool_timeout=1)"
    assert isinstance(outcome, Exception), f"a call on an exhausted pool succeeded: {outcome!r}"
    assert "timeout" in str(outcome).lower() or "timed out" in str(outcome).lower(), f"unclear error: {outcome}"
    assert seconds < 20, f"the pool timeout of 1 s took {seconds:.1f} s to fire"
    _end_scope(flow, db, scope_id)
    assert flow.node("UserCountNode", {}, db=db)["count"] == 1, "the pool did not recover after the scope ended"
    assert [r["email"] for r in probe.rows("users")] == ["held@x.org"]


@pytest.mark.clause("POOL-003")
@pytest.mark.backends(*SERVERS)
def test_exhausted_pool_queues_work(make_dataflow, probe, flow):
    db = make_dataflow(pool_size=1, pool_max_overflow=0)
    define_user(db)
    db.create_tables()
    calls = creates(30)
    finished, results, _ = with_deadline(lambda: flow.concurrently(calls, db=db, threads=10), timeout=120)
    assert finished, "30 creates on a one-connection pool did not finish in 120 s"
    assert_all_created(results, probe, calls)


@pytest.mark.clause("POOL-004")
def test_500_concurrent_creates_persist_exactly_once(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    calls = creates(500)
    results = flow.concurrently(calls, db=db)
    assert_all_created(results, probe, calls)
    ids = [r["id"] for r in results]
    assert len(set(ids)) == 500, "two creates returned the same id"
    assert sorted(ids) == [row["id"] for row in probe.rows("users")], "returned ids differ from the stored ones"
