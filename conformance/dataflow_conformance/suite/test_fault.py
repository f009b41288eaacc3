"""FAULT: lost connections, killed sessions and slow servers lose nothing and leave the instance usable.

The implementation reaches the server through a fault-injecting proxy (faultproxy.py) or has its
sessions killed by the server; every test then checks the table through an independent
connection and runs the next operation on the same instance.
"""

import datetime as dt
import re
import time

import pytest
from sqlalchemy.engine import make_url

from ..access.protocol import WORKFLOW_PATHS
from ..backends.provision import end_other_sessions
from ..backends.registry import SERVERS
from ..testing.faultproxy import FaultProxy
from ..testing.scopes import Scope
from .support import define_user, with_deadline

pytestmark = pytest.mark.backends(*SERVERS)  # faults of a server connection
# What a clear error about a broken connection or a slow server says (driver and implementation wording).
CLEAR_FAULT = re.compile(
    r"\bconnection\b|\bclosed\b|\blost\b|terminat|\breset\b|broken|gone away|timed? ?out|timeout", re.I
)
# A library's internal state error that reached the caller says nothing about the fault.
RAW_LIBRARY_ERROR = re.compile(r"sqlalche\.me|PendingRollbackError|InternalClientError")
DEADLINE = 15  # seconds: a local fault surfaces at once; waiting longer than this is hanging


@pytest.fixture
def proxied(backend, database_url):
    """(URL through a fault proxy, the proxy)."""
    url = make_url(database_url)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or backend.features.default_port).start()
    yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    proxy.stop()


def people(start, count):
    return [{"name": f"p{i}", "email": f"p{i}@x.org", "age": i % 90} for i in range(start, start + count)]


def seed_raw(probe, count):
    """Rows written by the probe, so the implementation has not run an INSERT before the fault."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for person in people(0, count):
        probe.execute(
            "INSERT INTO users (name, email, age, active, created_at, updated_at) "
            "VALUES (:name, :email, :age, :active, :now, :now)",
            **person,
            active=True,
            now=now,
        )


def assert_fails_clearly(call, what):
    finished, outcome, _ = with_deadline(call, DEADLINE)
    assert finished, f"{what} hung for {DEADLINE} s"
    assert isinstance(outcome, Exception), f"{what} did not fail: {outcome!r}"
    assert CLEAR_FAULT.search(str(outcome)), f"{what}: the error does not say what happened: {str(outcome)[:300]}"
    assert not RAW_LIBRARY_ERROR.search(str(outcome)), f"{what}: a library's internal error: {str(outcome)[:300]}"
    return outcome


def assert_usable(flow, db, probe, email):
    """The next operations on the same instance succeed and are stored."""
    finished, outcome, _ = with_deadline(
        lambda: flow.node("UserCreateNode", {"name": "after", "email": email}, db=db), DEADLINE
    )
    assert finished and not isinstance(outcome, Exception), f"the instance did not recover: {outcome!r}"
    assert flow.node("UserCountNode", {"filter": {"email": email}}, db=db)["count"] == 1
    assert email in [r["email"] for r in probe.rows("users")]


def kill_sessions(probe) -> int:
    """Have the server end every other session on the test database; returns how many."""
    with probe.engine.connect() as conn:
        return end_other_sessions(conn, probe.features)


FAULTED_WRITES = {  # operation, its parameters, bytes its statement sends (the proxy cuts right after them)
    "create": ("UserCreateNode", {"name": "x", "email": "x@x.org"}, b"INSERT"),
    "update": ("UserUpdateNode", {"filter": {"id": 1}, "fields": {"age": 77}}, b"UPDATE"),
    "delete": ("UserDeleteNode", {"id": 2}, b"DELETE"),
}
# An update by filter: a node feature.
FAULTED_NODE_WRITES = {
    "bulk-update": ("UserBulkUpdateNode", {"filter": {"age": {"$gte": 0}}, "fields": {"age": 66}}, b"UPDATE"),
}


@pytest.mark.clause("FAULT-001")
@pytest.mark.parametrize("write", list(FAULTED_WRITES))
def test_connection_cut_mid_statement(make_dataflow, probe, flow, proxied, write):
    check_cut_mid_statement(make_dataflow, probe, flow, proxied, write, *FAULTED_WRITES[write])


@pytest.mark.clause("FAULT-001")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("write", list(FAULTED_NODE_WRITES))
def test_connection_cut_mid_node_write_by_filter(make_dataflow, probe, flow, proxied, write):
    check_cut_mid_statement(make_dataflow, probe, flow, proxied, write, *FAULTED_NODE_WRITES[write])


def check_cut_mid_statement(make_dataflow, probe, flow, proxied, write, node_type, params, statement):
    url, proxy = proxied
    db = make_dataflow(url)
    define_user(db)
    db.create_tables()
    seed_raw(probe, 3)
    before = probe.snapshot("users")
    proxy.cut_on(statement)
    assert_fails_clearly(lambda: flow.node(node_type, params, db=db), f"a {write} whose connection was cut")
    assert not proxy.armed, "the proxy never saw the statement (test setup problem)"
    assert probe.snapshot("users") == before, f"a {write} cut mid-statement left a change behind"
    assert_usable(flow, db, probe, "after@x.org")


@pytest.mark.clause("FAULT-002")
@pytest.mark.paths(*WORKFLOW_PATHS)  # transaction scopes are workflows
def test_connection_cut_mid_transaction(make_dataflow, probe, flow, proxied):
    url, proxy = proxied
    db = make_dataflow(url)
    define_user(db)
    db.create_tables()
    scope = Scope().then("UserCreateNode", people(0, 1)[0]).then("UserBulkCreateNode", {"data": people(1, 5)})
    scope.check(proxy.cut_all).then("UserCreateNode", people(10, 1)[0]).then("TransactionCommitNode")
    assert_fails_clearly(lambda: flow.run(scope.builder, db=db), "a scope whose connection was cut")
    assert probe.count("users") == 0, "writes of a scope whose connection was cut were committed"
    again = Scope().then("UserCreateNode", people(20, 1)[0]).then("TransactionCommitNode")
    flow.run(again.builder, db=db)
    assert_usable(flow, db, probe, "after@x.org")
    assert sorted(r["email"] for r in probe.rows("users")) == ["after@x.org", "p20@x.org"]


@pytest.mark.clause("FAULT-003")
def test_connection_cut_mid_bulk_write(make_dataflow, probe, flow, proxied):
    url, proxy = proxied
    db = make_dataflow(url)
    define_user(db)
    db.create_tables()
    proxy.cut_after(300_000)  # well inside the ~1.2 MB this bulk create sends
    # batch_size is a node input; the express bulk_create batches by itself
    params = {"data": people(0, 20_000)} | ({"batch_size": 1000} if flow.runs_workflows else {})
    call = lambda: flow.node("UserBulkCreateNode", params, db=db)  # noqa: E731
    assert_fails_clearly(call, "a bulk create whose connection was cut")
    assert probe.count("users") == 0, "a bulk create cut mid-write left rows behind"
    assert flow.node("UserBulkCreateNode", {"data": people(0, 100)}, db=db)["inserted"] == 100
    assert probe.count("users") == 100
    assert_usable(flow, db, probe, "after@x.org")


@pytest.mark.clause("FAULT-004")
def test_sessions_killed_by_the_server_between_calls(make_dataflow, backend, probe, flow):
    db = make_dataflow()
    define_user(db)
    flow.node("UserBulkCreateNode", {"data": people(0, 3)}, db=db)
    assert kill_sessions(probe) >= 1, "the implementation kept no connection open (test setup problem)"
    # The call right after may fail (a pooled connection was dead) but must not hang or lose data ...
    finished, outcome, _ = with_deadline(lambda: flow.node("UserCountNode", {}, db=db), DEADLINE)
    assert finished, "a call after the server killed the sessions hung"
    if isinstance(outcome, Exception):
        assert CLEAR_FAULT.search(str(outcome)), f"unclear error after killed sessions: {str(outcome)[:300]}"
    else:
        assert outcome["count"] == 3
    # ... and the next one succeeds.
    assert_usable(flow, db, probe, "after@x.org")


@pytest.mark.clause("FAULT-004")
@pytest.mark.paths(*WORKFLOW_PATHS)  # transaction scopes are workflows
def test_session_killed_mid_transaction(make_dataflow, backend, probe, flow):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    killed = []
    scope = Scope().then("UserCreateNode", people(0, 1)[0]).then("UserBulkCreateNode", {"data": people(1, 5)})
    scope.check(lambda: killed.append(kill_sessions(probe))).then("UserCreateNode", people(10, 1)[0])
    assert_fails_clearly(lambda: flow.run(scope.then("TransactionCommitNode").builder, db=db), "a killed scope")
    assert killed and killed[0] >= 1, "no session was killed (test setup problem)"
    assert probe.count("users") == 0, "writes of a scope whose session was killed were committed"
    assert_usable(flow, db, probe, "after@x.org")


@pytest.mark.clause("FAULT-005")
def test_slow_server_hits_the_statement_timeout(make_dataflow, probe, flow, proxied):
    url, proxy = proxied
    db = make_dataflow(url, statement_timeout=1)
    define_user(db)
    flow.node("UserCreateNode", people(0, 1)[0], db=db)
    proxy.delay(5)
    started = time.monotonic()
    error = assert_fails_clearly(lambda: flow.node("UserCreateNode", people(1, 1)[0], db=db), "a delayed create")
    elapsed = time.monotonic() - started
    proxy.delay(0)
    assert re.search(r"time", str(error), re.I), f"the error does not say it timed out: {str(error)[:300]}"
    assert elapsed < 3, f"statement_timeout=1 took {elapsed:.1f} s to fire (the answers were 5 s late)"
    time.sleep(5)  # the delayed answers have been released; nothing may have been committed meanwhile
    assert [r["email"] for r in probe.rows("users")] == ["p0@x.org"], "the timed-out create was committed"
    assert_usable(flow, db, probe, "after@x.org")
