"""CONSIST: read-your-writes across access paths, writes from outside, rolled-back writes, and
two instances in one process.

Every test reads through all four access paths before the write (so a cache, if any, is warm)
and again after it, and compares what each path returns with the state the test expects and
with the table as an independent connection sees it.
"""

import pytest

from ..access.protocol import EXPRESS_PATHS, WORKFLOW_PATHS
from ..testing.scopes import Scope
from .support import define_user, every_path, seed_users

SEED = [{"name": f"u{i}", "email": f"u{i}@x.org", "age": i} for i in range(5)]


def view(path, db, ids):
    """What one access path reports about `db` (named explicitly: a test may have made another instance
    since): records by id, a sorted list, a page of it, counts, the first match. Every age in these tests
    is distinct, so ordering by age alone is total."""

    def node(node_type, params):
        return path.node(node_type, params, db=db)

    by_id = {}
    for record_id in ids:
        found = node("UserReadNode", {"id": record_id, "raise_on_not_found": False})
        by_id[record_id] = (found["email"], found["age"], found["active"]) if found["found"] else None
    listed = node("UserListNode", {"order_by": ["-age"]})["records"]
    page = node("UserListNode", {"order_by": ["-age"], "limit": 2, "offset": 1})["records"]
    first = node("UserListNode", {"filter": {"active": False}, "order_by": ["age"], "limit": 1})["records"]
    return {
        "read": by_id,
        "list": [(r["email"], r["age"], r["active"]) for r in listed],
        "page": [r["email"] for r in page],
        "count": node("UserCountNode", {})["count"],
        "count_active": node("UserCountNode", {"filter": {"active": True}})["count"],
        "first_inactive": [r["email"] for r in first],
    }


def expected_view(rows, ids):
    """The same view computed from the table's rows (as the probe reads them)."""
    state = [(r["email"], r["age"], bool(r["active"]), r["id"]) for r in rows]
    assert len({r[1] for r in state}) == len(state), "the test's ages must be distinct (ordering by age is total)"
    ordered = sorted(state, key=lambda r: -r[1])
    inactive = sorted((r for r in state if not r[2]), key=lambda r: r[1])
    by_id = {r[3]: r[:3] for r in state}
    return {
        "read": {i: by_id.get(i) for i in ids},
        "list": [r[:3] for r in ordered],
        "page": [r[0] for r in ordered[1:3]],
        "count": len(state),
        "count_active": sum(1 for r in state if r[2]),
        "first_inactive": [r[0] for r in inactive[:1]],
    }


def assert_every_path_sees(db, probe, ids, expected_emails):
    rows = probe.rows("users")
    assert sorted(r["email"] for r in rows) == sorted(expected_emails), "the table does not hold the expected rows"
    expected = expected_view(rows, ids)
    with every_path(db) as paths:
        for path in paths:
            assert view(path, db, ids) == expected, f"the {path.name} path does not see the latest state"


def seeded_and_warm(make_dataflow, probe, flow):
    """An instance holding SEED, read once through every path; returns it and the records' ids."""
    db = make_dataflow()
    define_user(db)
    ids = [r["id"] for r in seed_users(probe, db, SEED)]
    warm_every_path(db, ids)
    return db, ids


def warm_every_path(db, ids):
    with every_path(db) as paths:
        for path in paths:
            view(path, db, ids)


# Each write: (node, params built from the seeded records, the emails expected afterwards).
WRITES = {
    "create": lambda r: ("UserCreateNode", {"name": "n", "email": "new@x.org", "age": 9}, ["new@x.org"], []),
    "update": lambda r: ("UserUpdateNode", {"filter": {"id": r[2]["id"]}, "fields": {"age": 20}}, [], []),
    "delete": lambda r: ("UserDeleteNode", {"id": r[3]["id"]}, [], ["u3@x.org"]),
    "upsert-update": lambda r: (
        "UserUpsertNode",
        {"where": {"email": "u1@x.org"}, "update": {"age": 11}, "create": {"name": "x"}, "conflict_on": ["email"]},
        [],
        [],
    ),
    "upsert-create": lambda r: (
        "UserUpsertNode",
        {"where": {"email": "u8@x.org"}, "create": {"name": "u8", "age": 8}, "update": {}, "conflict_on": ["email"]},
        ["u8@x.org"],
        [],
    ),
    "bulk-create": lambda r: (
        "UserBulkCreateNode",
        {"data": [{"name": f"b{i}", "email": f"b{i}@x.org", "age": 10 + i} for i in range(3)]},
        ["b0@x.org", "b1@x.org", "b2@x.org"],
        [],
    ),
    "bulk-upsert": lambda r: (
        "UserBulkUpsertNode",
        {
            "data": [{"name": "u0", "email": "u0@x.org", "age": 100}, {"name": "u9", "email": "u9@x.org", "age": 9}],
            "conflict_on": ["email"],
        },
        ["u9@x.org"],
        [],
    ),
}


# Writes by filter: a node feature (the express API updates and deletes bulk records by key).
NODE_WRITES = {
    "bulk-update": lambda r: (
        "UserBulkUpdateNode",
        {"filter": {"age": {"$gte": 3}}, "fields": {"active": False}},
        [],
        [],
    ),
    "bulk-delete": lambda r: ("UserBulkDeleteNode", {"filter": {"age": {"$lt": 2}}}, [], ["u0@x.org", "u1@x.org"]),
}
# The express API's own bulk writes: (method, its arguments from the seeded ids, emails added, emails removed).
EXPRESS_WRITES = {
    "bulk-update": lambda ids: ("bulk_update", [{"id": ids[3], "active": False}, {"id": ids[4], "age": 44}], [], []),
    "bulk-delete": lambda ids: ("bulk_delete", [ids[0], ids[1]], [], ["u0@x.org", "u1@x.org"]),
}


def check_write(make_dataflow, probe, flow, write):
    db, ids = seeded_and_warm(make_dataflow, probe, flow)
    node_type, params, added, removed = write([{"id": i} for i in ids])
    flow.node(node_type, params, db=db)
    emails = [u["email"] for u in SEED if u["email"] not in removed] + added
    assert_every_path_sees(db, probe, ids, emails)


@pytest.mark.clause("CONSIST-001")
@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_path_reads_every_write_at_once(make_dataflow, probe, flow, write):
    check_write(make_dataflow, probe, flow, WRITES[write])


@pytest.mark.clause("CONSIST-001")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("write", sorted(NODE_WRITES))
def test_every_path_reads_every_node_write_at_once(make_dataflow, probe, flow, write):
    check_write(make_dataflow, probe, flow, NODE_WRITES[write])


@pytest.mark.clause("CONSIST-001")
@pytest.mark.paths(*EXPRESS_PATHS)
@pytest.mark.parametrize("write", sorted(EXPRESS_WRITES))
def test_every_path_reads_every_express_write_at_once(make_dataflow, probe, flow, write):
    db, ids = seeded_and_warm(make_dataflow, probe, flow)
    method, records, added, removed = EXPRESS_WRITES[write](ids)
    flow.call(method, "User", records)
    emails = [u["email"] for u in SEED if u["email"] not in removed] + added
    assert_every_path_sees(db, probe, ids, emails)


@pytest.mark.clause("CONSIST-001")
@pytest.mark.paths(*WORKFLOW_PATHS)  # transaction scopes are workflows
def test_every_path_reads_a_committed_scope(make_dataflow, probe, flow):
    db, ids = seeded_and_warm(make_dataflow, probe, flow)
    scope = Scope().then("UserCreateNode", {"name": "t", "email": "t@x.org", "age": 7})
    scope.then("UserUpdateNode", {"filter": {"id": ids[0]}, "fields": {"active": False}})
    scope.then("UserBulkDeleteNode", {"filter": {"email": "u4@x.org"}}).then("TransactionCommitNode")
    flow.run(scope.builder, db=db)
    emails = [u["email"] for u in SEED if u["email"] != "u4@x.org"] + ["t@x.org"]
    assert_every_path_sees(db, probe, ids, emails)


def write_raw(probe, db, dataflow_impl, database_url, ids):
    probe.execute("UPDATE users SET age = 40, active = :f WHERE id = :id", id=ids[1], f=False)
    probe.execute("DELETE FROM users WHERE id = :id", id=ids[2])


def write_from_other_instance(probe, db, dataflow_impl, database_url, ids):
    other = dataflow_impl.DataFlow(database_url)
    try:
        define_user(other)
        with every_path(other) as (local, *_):
            local.node("UserUpdateNode", {"filter": {"id": ids[1]}, "fields": {"age": 40, "active": False}})
            local.node("UserDeleteNode", {"id": ids[2]})
    finally:
        other.close()


@pytest.mark.clause("CONSIST-002")
@pytest.mark.parametrize("writer", [write_raw, write_from_other_instance], ids=["raw-sql", "other-instance"])
def test_writes_from_outside_are_visible(make_dataflow, dataflow_impl, database_url, probe, flow, writer):
    db, ids = seeded_and_warm(make_dataflow, probe, flow)
    writer(probe, db, dataflow_impl, database_url, ids)
    assert probe.scalar("SELECT age FROM users WHERE id = :id", id=ids[1]) == 40
    assert_every_path_sees(db, probe, ids, [u["email"] for u in SEED if u["email"] != "u2@x.org"])


@pytest.mark.clause("CONSIST-003")
@pytest.mark.paths(*WORKFLOW_PATHS)  # transaction scopes are workflows
@pytest.mark.parametrize("ending", ["rollback-node", "failing-node"])
def test_rolled_back_writes_are_never_visible(make_dataflow, probe, flow, ending):
    db, ids = seeded_and_warm(make_dataflow, probe, flow)
    scope = Scope().then("UserCreateNode", {"name": "t", "email": "t@x.org"})
    scope.then("UserUpdateNode", {"filter": {"id": ids[0]}, "fields": {"age": 50}})
    scope.then("UserBulkUpdateNode", {"filter": {"age": {"$gte": 2}}, "fields": {"active": False}})
    scope.then("UserDeleteNode", {"id": ids[1]})
    if ending == "rollback-node":
        flow.run(scope.then("TransactionRollbackNode").builder, db=db)
    else:
        scope.then("UserCreateNode", {"name": "dup", "email": "u3@x.org"}).then("TransactionCommitNode")
        with pytest.raises(Exception):  # noqa: B017 - any failure; the state below is what matters
            flow.run(scope.builder, db=db)
    assert_every_path_sees(db, probe, ids, [u["email"] for u in SEED])


@pytest.mark.clause("CONSIST-004")
def test_two_instances_on_two_databases_stay_apart(make_dataflow, probe, other_database, flow):
    other_url, other_probe = other_database
    first, second = make_dataflow(), make_dataflow(other_url)
    define_user(first)
    define_user(second)  # same model name, same node names
    firsts = flow.node("UserBulkCreateNode", {"data": SEED[:3]}, db=first)
    assert firsts["inserted"] == 3
    made = flow.node("UserCreateNode", {"name": "b", "email": "b@x.org", "age": 1}, db=second)
    one = next(r["id"] for r in probe.rows("users") if r["age"] == 1)
    flow.node("UserUpdateNode", {"filter": {"id": one}, "fields": {"active": False}}, db=first)
    deleted = flow.node("UserDeleteNode", {"id": made["id"] + 1}, db=second)  # no such record in the second
    assert deleted["deleted"] is False
    assert sorted((r["email"], bool(r["active"])) for r in probe.rows("users")) == [
        ("u0@x.org", True),
        ("u1@x.org", False),
        ("u2@x.org", True),
    ]
    assert [(r["email"], bool(r["active"])) for r in other_probe.rows("users")] == [("b@x.org", True)]
    assert flow.node("UserCountNode", {}, db=first)["count"] == 3
    assert [r["email"] for r in flow.node("UserListNode", {}, db=second)["records"]] == ["b@x.org"]
