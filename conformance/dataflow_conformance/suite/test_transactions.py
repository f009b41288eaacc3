"""TXN: transaction scopes across workflow nodes, checked from an independent connection."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kailash.workflow.builder import WorkflowBuilder

from ..access.protocol import WORKFLOW_PATHS, WorkflowFailed
from ..backends.registry import SERVERS
from ..testing.scopes import Scope
from .support import define_user, expect_failure, seed_users, with_deadline

pytestmark = pytest.mark.paths(*WORKFLOW_PATHS)  # transaction scopes are workflows


def user(i):
    return {"name": f"t{i}", "email": f"t{i}@x.org"}


@pytest.mark.clause("TXN-001")
def test_commit_persists_everything(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    scope = Scope().then("UserCreateNode", user(1)).then("UserCreateNode", user(2))
    scope.then("UserBulkCreateNode", {"data": [user(3), user(4)]}).then("TransactionCommitNode")
    results = flow.run(scope.builder, db=db)
    assert results[scope.last]["transaction_id"] == results["begin"]["transaction_id"]
    assert sorted(r["email"] for r in probe.rows("users")) == [f"t{i}@x.org" for i in range(1, 5)]


@pytest.mark.clause("TXN-001")
def test_parallel_branches_share_the_scope(make_dataflow, probe, flow):
    """Branches that run at the same time (AsyncLocalRuntime runs independent nodes concurrently)
    take turns on the scope's connection; all of their writes commit together."""
    db = make_dataflow()
    define_user(db)
    builder = WorkflowBuilder()
    builder.add_node("TransactionScopeNode", "begin", {})
    builder.add_node("TransactionCommitNode", "commit", {})
    for branch in range(4):
        data = [user(branch * 100 + i) for i in range(50)]
        builder.add_node("UserBulkCreateNode", f"branch{branch}", {"data": data, "batch_size": 7})
        builder.add_connection("begin", "transaction_id", f"branch{branch}", "transaction_id")
        builder.add_connection(f"branch{branch}", "transaction_id", "commit", "transaction_id")
    results = flow.run(builder, db=db)
    assert [results[f"branch{b}"]["inserted"] for b in range(4)] == [50] * 4
    assert probe.count("users") == 200


@pytest.mark.clause("TXN-002")
def test_rollback_discards_everything(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    (first,) = seed_users(probe, db, [user(0)])
    scope = Scope().then("UserCreateNode", user(1))
    scope.then("UserUpdateNode", {"filter": {"id": first["id"]}, "fields": {"age": 9}})
    scope.then("UserDeleteNode", {"id": first["id"]})
    results = flow.run(scope.then("TransactionRollbackNode").builder, db=db)
    assert results["step2"]["updated"] is True and results["step3"]["deleted"] is True, "the scope's writes did not run"
    rows = probe.rows("users")
    assert [(r["email"], r["age"]) for r in rows] == [("t0@x.org", 0)]


def _after_the_end(make_dataflow, probe, flow, ending) -> list[tuple]:
    """A scope that writes t1 and ends with `ending`, then a node ordered after the end but not chained to
    the scope (under LocalRuntime it could still find the scope in the workflow context): the rows."""
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    scope = Scope().then("UserCreateNode", user(1)).then(ending).check(lambda: "after")
    scope.builder.add_node("UserCreateNode", "unchained", {"email": "t2@x.org"})
    scope.builder.add_connection(scope.last, "observed", "unchained", "name")
    flow.run(scope.builder, db=db)
    return sorted((r["name"], r["email"]) for r in probe.rows("users"))


@pytest.mark.clause("TXN-001")
@pytest.mark.paths("local")  # under LocalRuntime later nodes also find a scope through the workflow context
def test_a_node_after_the_commit_runs_outside_the_scope(make_dataflow, probe, flow):
    rows = _after_the_end(make_dataflow, probe, flow, "TransactionCommitNode")
    assert rows == [("after", "t2@x.org"), ("t1", "t1@x.org")]


@pytest.mark.clause("TXN-002")
@pytest.mark.paths("local")
def test_a_node_after_the_rollback_runs_outside_the_scope(make_dataflow, probe, flow):
    assert _after_the_end(make_dataflow, probe, flow, "TransactionRollbackNode") == [("after", "t2@x.org")]


@pytest.mark.clause("TXN-003")
def test_failing_node_rolls_back_the_scope(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    seed_users(probe, db, [user(0)])
    scope = Scope().then("UserCreateNode", user(1)).then("UserCreateNode", {"name": "dup", "email": "t0@x.org"})
    scope.then("TransactionCommitNode")
    with pytest.raises(WorkflowFailed):
        flow.run(scope.builder, db=db)
    assert [r["email"] for r in probe.rows("users")] == ["t0@x.org"], "a write of the failed scope persisted"


@pytest.mark.clause("TXN-004")
def test_savepoint(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    scope = Scope().then("UserCreateNode", user(1)).then("TransactionSavepointNode", {"name": "sp1"})
    scope.then("UserCreateNode", user(2)).then("UserBulkCreateNode", {"data": [user(3), user(4)]})
    scope.then("TransactionRollbackToSavepointNode", {"savepoint": "sp1"}).then("UserCreateNode", user(5))
    flow.run(scope.then("TransactionCommitNode").builder, db=db)
    assert sorted(r["email"] for r in probe.rows("users")) == ["t1@x.org", "t5@x.org"]


@pytest.mark.clause("TXN-005")
def test_uncommitted_writes_are_invisible(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    scope = Scope().then("UserCreateNode", user(1)).then("UserBulkCreateNode", {"data": [user(2), user(3)]})
    scope.check(lambda: probe.count("users"))
    results = flow.run(scope.then("TransactionCommitNode").builder, db=db)
    observed = [v["observed"] for k, v in results.items() if k.startswith("check")]
    assert observed == [0], "another connection saw writes before the commit"
    assert probe.count("users") == 3


def _busy_connections(probe):
    """Server sessions running a statement (SQLite has none to count)."""
    return probe.connections(busy=True) if probe.features.server else 0


@pytest.mark.clause("TXN-006")
def test_usable_after_failure(make_dataflow, backend, probe, flow):
    db = make_dataflow()
    define_user(db)
    seed_users(probe, db, [user(0)])
    for attempt in range(3):  # repeated failures must not exhaust the pool or leave locks behind
        scope = (
            Scope()
            .then("UserCreateNode", user(10 + attempt))
            .then("UserCreateNode", {"name": "d", "email": "t0@x.org"})
        )
        with pytest.raises(WorkflowFailed):
            flow.run(scope.then("TransactionCommitNode").builder, db=db)
    assert _busy_connections(probe) == 0, "a connection is still busy (in a transaction) after the failed scopes"
    flow.run(Scope().then("UserCreateNode", user(1)).then("TransactionCommitNode").builder, db=db)
    flow.node("UserCreateNode", user(2), db=db)
    assert sorted(r["email"] for r in probe.rows("users")) == ["t0@x.org", "t1@x.org", "t2@x.org"]


@pytest.mark.clause("TXN-007")
def test_bulk_nodes_join_the_scope(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    seed_users(probe, db, [user(0), {"name": "keep", "email": "keep@x.org", "age": 1}])
    scope = Scope().then("UserBulkCreateNode", {"data": [user(i) for i in range(1, 20)]})
    scope.then("UserBulkUpdateNode", {"filter": {"age": 1}, "fields": {"age": 2}})
    scope.then("UserBulkDeleteNode", {"filter": {"email": "t0@x.org"}})
    scope.then("UserBulkUpsertNode", {"data": [user(50)], "conflict_on": ["email"]})
    before = probe.snapshot("users")
    flow.run(scope.then("TransactionRollbackNode").builder, db=db)
    assert probe.snapshot("users") == before


def _run_concurrently(flow, builders):
    """Run the workflows at once on the path (threads or tasks); "committed" or "failed: why" for each."""
    finished, results, _ = with_deadline(lambda: flow.concurrently(builders), timeout=120)
    assert finished, "a concurrent scope hung"
    return [f"failed: {r}" if isinstance(r, Exception) else "committed" for r in results]


@pytest.mark.clause("TXN-008")
def test_concurrent_scopes_on_different_rows(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    builders = [
        Scope()
        .then("UserCreateNode", user(i))
        .then("UserCreateNode", user(i + 10))
        .then("TransactionCommitNode")
        .builder
        for i in range(2)
    ]
    assert _run_concurrently(flow, builders) == ["committed", "committed"]
    assert sorted(r["email"] for r in probe.rows("users")) == ["t0@x.org", "t10@x.org", "t11@x.org", "t1@x.org"]


@pytest.mark.clause("TXN-009")
def test_concurrent_scopes_on_the_same_key(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    builders = [
        Scope()
        .then("UserCreateNode", user(100 + i))
        .then("UserCreateNode", {"name": f"w{i}", "email": "same@x.org"})
        .then("TransactionCommitNode")
        .builder
        for i in range(2)
    ]
    outcomes = _run_concurrently(flow, builders)
    assert sorted(o.split(":")[0] for o in outcomes) == ["committed", "failed"], outcomes
    winner = outcomes.index("committed")
    rows = {r["email"]: r["name"] for r in probe.rows("users")}
    assert rows == {"same@x.org": f"w{winner}", f"t{100 + winner}@x.org": f"t{100 + winner}"}, (
        "the losing scope left writes"
    )


def _open_scope(flow, db, **params) -> str:
    """Begin a scope in a workflow of its own and leave it open; returns its transaction_id."""
    return flow.run(Scope(**params).builder, db=db)["begin"]["transaction_id"]


def _in_scope(scope_id, *steps) -> WorkflowBuilder:
    """A workflow of (node, params) steps chained inside the open scope `scope_id`."""
    builder = WorkflowBuilder()
    for index, (node_type, params) in enumerate(steps):
        builder.add_node(node_type, f"n{index}", {**params, **({"transaction_id": scope_id} if index == 0 else {})})
        if index:
            builder.add_connection(f"n{index - 1}", "transaction_id", f"n{index}", "transaction_id")
    return builder


@pytest.mark.clause("TXN-003")
def test_commit_after_failure_is_refused(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    seed_users(probe, db, [user(0)])
    scope_id = _open_scope(flow, db)
    failing = _in_scope(scope_id, ("UserCreateNode", user(1)), ("UserCreateNode", {"name": "d", "email": "t0@x.org"}))
    expect_failure(lambda: flow.run(failing, db=db))
    expect_failure(lambda: flow.run(_in_scope(scope_id, ("TransactionCommitNode", {})), db=db))
    expect_failure(lambda: flow.run(_in_scope(scope_id, ("UserCreateNode", user(2))), db=db))
    assert [r["email"] for r in probe.rows("users")] == ["t0@x.org"], "a write of the failed scope persisted"
    flow.node("UserCreateNode", user(3), db=db)  # outside any scope: works
    assert probe.count("users") == 2


@pytest.mark.clause("TXN-001")
@pytest.mark.backends(*SERVERS)
@pytest.mark.parametrize("rollback_on_error", [True, False], ids=["rollback_on_error", "no_rollback_on_error"])
def test_a_scope_the_server_aborts_in_a_deadlock_is_never_partly_committed(
    make_dataflow, probe, flow, rollback_on_error
):
    """The server breaks a deadlock by rolling back the scope's whole transaction (InnoDB rolls back the
    transaction that changed fewer rows; PostgreSQL the one that waited first). Whatever the implementation
    does next, the scope's writes persist together or not at all: a node that retries on the same connection
    runs in a new transaction, and the commit would then keep the retry without the writes before it. Without
    rollback_on_error too (TXN-012 keeps such a scope open after a failing node): the server has undone the
    writes before, and a commit that then answers success has lost them."""
    db = make_dataflow()
    define_user(db)
    ballast = [user(i) for i in range(10, 20)]  # rows the outside transaction changes, so that it weighs more
    first, second, *more = seed_users(probe, db, [user(1), user(2), *ballast])
    scope_id = _open_scope(flow, db, rollback_on_error=rollback_on_error)
    flow.run(_in_scope(scope_id, ("UserUpdateNode", {"filter": {"id": first["id"]}, "fields": {"age": 1}})), db=db)
    upsert = {"where": {"email": second["email"]}, "create": {"name": second["name"]}, "update": {"age": 2}}
    with probe.engine.connect() as outside:
        outside.exec_driver_sql("BEGIN")
        for row in [second, *more]:  # one row at a time: a scan would lock (InnoDB) every row it reads
            outside.exec_driver_sql(f"UPDATE users SET age = 7 WHERE id = {row['id']}")
        blocked = ThreadPoolExecutor(1)
        upserted = blocked.submit(flow.concurrently, [_in_scope(scope_id, ("UserUpsertNode", upsert))], db=db)
        deadline = time.monotonic() + 30
        while not probe.scalar(probe.features.lock_waits_sql) and not upserted.done():
            assert time.monotonic() < deadline, "the scope's upsert never waited for the outside transaction's lock"
            time.sleep(0.05)
        assert not upserted.done(), f"the scope's upsert did not wait for the locked row: {upserted.result()}"
        try:  # the deadlock: the server aborts one of the two transactions
            outside.exec_driver_sql(f"UPDATE users SET age = 8 WHERE id = {first['id']}")
        finally:
            outside.exec_driver_sql("ROLLBACK")
    (upsert_outcome,) = upserted.result(timeout=60)
    blocked.shutdown()
    committed = with_deadline(lambda: flow.run(_in_scope(scope_id, ("TransactionCommitNode", {})), db=db), 60)
    assert committed[0], "the commit after the deadlock hung"
    stored = {r["email"]: r["age"] for r in probe.rows("users", where=f"id IN ({first['id']}, {second['id']})")}
    ages = (stored[first["email"]], stored[second["email"]])
    assert ages in [(0, 0), (1, 2)], (
        f"the scope was partly committed: ages {ages}, of (1, 2) it wrote (the upsert after the deadlock "
        f"answered {upsert_outcome!r}, the commit {committed[1]!r})"
    )
    if ages == (0, 0):
        assert isinstance(committed[1], Exception), "the commit succeeded, yet none of the scope's writes persisted"


@pytest.mark.clause("TXN-011")
def test_timed_out_scope_takes_later_nodes_with_it(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    # The scope times out while the checkpoint sleeps; the nodes after it must fail, not commit alone.
    scope = Scope(timeout=0.5).then("UserCreateNode", user(1)).check(lambda: time.sleep(1.5) or "late")
    scope.then("UserCreateNode", user(2)).then("TransactionCommitNode")
    expect_failure(lambda: flow.run(scope.builder, db=db))
    assert probe.count("users") == 0, "a write of the timed-out scope persisted"
    if flow.name == "local":
        # Under LocalRuntime nodes also find the scope through the workflow context: a node that is
        # ordered after the timeout but not chained by transaction_id must fail the same way.
        scope = Scope(timeout=0.5).then("UserCreateNode", user(3)).check(lambda: time.sleep(1.5) or "t4")
        scope.builder.add_node("UserCreateNode", "unchained", {"email": "t4@x.org"})
        scope.builder.add_connection(scope.last, "observed", "unchained", "name")
        expect_failure(lambda: flow.run(scope.builder, db=db))
        assert probe.count("users") == 0, "a node of the timed-out scope committed on its own"
    flow.node("UserCreateNode", user(5), db=db)
    assert probe.count("users") == 1


@pytest.mark.clause("TXN-012")
def test_without_rollback_on_error_only_the_failing_node_is_undone(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    seed_users(probe, db, [user(0)])
    scope_id = _open_scope(flow, db, rollback_on_error=False)
    bad_bulk = ("UserBulkCreateNode", {"data": [user(10), user(11), user(0)], "batch_size": 2})
    expect_failure(lambda: flow.run(_in_scope(scope_id, ("UserCreateNode", user(1)), bad_bulk), db=db))
    dup = ("UserCreateNode", {"name": "d", "email": "t0@x.org"})
    expect_failure(lambda: flow.run(_in_scope(scope_id, dup), db=db))
    flow.run(_in_scope(scope_id, ("UserCreateNode", user(2)), ("TransactionCommitNode", {})), db=db)
    assert sorted(r["email"] for r in probe.rows("users")) == ["t0@x.org", "t1@x.org", "t2@x.org"]


@pytest.mark.clause("TXN-010")
@pytest.mark.parametrize("ending", ["TransactionCommitNode", "TransactionRollbackNode"])
def test_express_calls_join_a_scope_by_id(make_dataflow, probe, flow, ending):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    scope_id = flow.run(Scope().builder, db=db)["begin"]["transaction_id"]  # left open by this workflow
    db.express_sync.create("User", user(1), transaction_id=scope_id)
    asyncio.run(db.express.bulk_create("User", [user(2), user(3)], transaction_id=scope_id))
    db.express_sync.update("User", 1, {"age": 5}, transaction_id=scope_id)
    assert probe.count("users") == 0, "an express write in the scope was visible before the scope ended"
    end = WorkflowBuilder()
    end.add_node(ending, "end", {"transaction_id": scope_id})
    flow.run(end, db=db)
    committed = ending == "TransactionCommitNode"
    assert sorted((r["email"], r["age"]) for r in probe.rows("users")) == (
        [("t1@x.org", 5), ("t2@x.org", 0), ("t3@x.org", 0)] if committed else []
    )


@pytest.mark.clause("TXN-013")
@pytest.mark.parametrize(
    "options",
    [{"timeout": 0}, {"timeout": -1}, {"timeout": "5"}, {"timeout": True}, {"rollback_on_error": "no"}],
    ids=["timeout-zero", "timeout-negative", "timeout-text", "timeout-bool", "rollback_on_error-text"],
)
def test_a_scope_with_an_invalid_option_is_refused(make_dataflow, probe, flow, options):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    scope = Scope(**options).then("UserCreateNode", user(1)).then("TransactionCommitNode")
    expect_failure(lambda: flow.run(scope.builder, db=db), *options)
    assert probe.count("users") == 0, "a node wrote in a scope whose options were refused"


@pytest.mark.clause("TXN-013")
def test_a_scope_accepts_any_positive_timeout(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    seed_users(probe, db, [user(0)])
    for timeout in (0.5, 1, 2.5):
        scope_id = _open_scope(flow, db, timeout=timeout)  # left open: it ends by itself
        assert scope_id, f"a scope with timeout={timeout} was not begun"
    assert [r["email"] for r in probe.rows("users")] == ["t0@x.org"]


@pytest.mark.clause("TXN-013")
@pytest.mark.parametrize("name", ["", 7], ids=["empty", "int"])
def test_a_savepoint_needs_a_name(make_dataflow, probe, flow, name):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    scope = Scope().then("UserCreateNode", user(1)).then("TransactionSavepointNode", {"name": name})
    expect_failure(lambda: flow.run(scope.then("TransactionCommitNode").builder, db=db))
    assert probe.count("users") == 0, "the scope of a refused savepoint committed"


@pytest.mark.clause("TXN-004")
@pytest.mark.paths("local")
def test_a_node_after_a_savepoint_is_still_in_the_scope(make_dataflow, probe, flow):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    scope = Scope().then("UserCreateNode", user(1)).then("TransactionSavepointNode", {"name": "sp1"})
    scope.check(lambda: "after")
    scope.builder.add_node("UserCreateNode", "unchained", {"email": "t2@x.org"})
    scope.builder.add_connection(scope.last, "observed", "unchained", "name")  # found through the context
    flow.run(scope.builder, db=db)  # the scope is left open
    assert probe.count("users") == 0, "a node after the savepoint committed outside the open scope"
