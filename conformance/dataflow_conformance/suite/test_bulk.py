"""BULK: bulk nodes are exact, atomic and indifferent to batch boundaries."""

import pytest

from ..access.protocol import EXPRESS_PATHS, WORKFLOW_PATHS
from ..testing.bulkdata import accounts, creating, define_account, users
from .support import define_user, expect_failure, seed, seed_users

BATCH = 7


@pytest.mark.clause("BULK-001")
@pytest.mark.paths(*WORKFLOW_PATHS)  # batch_size is a node input
@pytest.mark.parametrize("count", [0, 1, BATCH - 1, BATCH, BATCH + 1, 3 * BATCH + 2])
def test_bulk_create_counts_across_batch_boundaries(make_dataflow, probe, flow, count):
    define_user(make_dataflow())
    result = flow.node("UserBulkCreateNode", {"data": users(count), "batch_size": BATCH})
    assert (result["processed"], result["inserted"]) == (count, count)
    assert probe.count("users") == count
    assert sorted(r["email"] for r in probe.rows("users")) == sorted(u["email"] for u in users(count))


@pytest.mark.clause("BULK-002")
@pytest.mark.paths("local")  # one path: the volume is the point, and it takes a while
def test_bulk_create_100k(make_dataflow, probe, flow):
    define_user(make_dataflow())
    result = flow.node("UserBulkCreateNode", {"data": users(100_000)})
    assert result["inserted"] == 100_000
    assert probe.count("users") == 100_000
    assert probe.scalar("SELECT count(DISTINCT email) FROM users") == 100_000
    assert probe.scalar("SELECT age FROM users WHERE email = 'u99999@x.org'") == 99_999 % 50


@pytest.mark.clause("BULK-003")
def test_bulk_create_is_atomic_and_names_the_record(make_dataflow, probe, flow):
    define_user(make_dataflow())
    seed_users(probe, flow.db, [{"name": "existing", "email": "u17@x.org"}])
    before = probe.snapshot("users")
    # Record 17 collides with the existing row: it sits in the third batch of 7.
    message = expect_failure(lambda: flow.node("UserBulkCreateNode", creating(users(30), BATCH, flow)), "17")
    assert probe.snapshot("users") == before, f"a failed bulk create left rows behind ({message[:200]})"
    duplicate_inside = users(10) + [users(1, start=3)[0]]  # record 10 repeats record 3's email
    expect_failure(lambda: flow.node("UserBulkCreateNode", creating(duplicate_inside, BATCH, flow)), "10")
    assert probe.snapshot("users") == before


@pytest.mark.clause("BULK-003", "BULK-007")
def test_bulk_upsert_is_atomic_and_names_the_record(make_dataflow, probe, flow):
    define_account(make_dataflow())
    seed(probe, flow.db, "accounts", [{"plan": "free", **a} for a in accounts(range(10))])
    upsert = {"data": accounts(range(5, 13), plan="pro"), "conflict_on": ["email"], "batch_size": 3}
    result = flow.node("AccountBulkUpsertNode", upsert)
    assert (result["inserted"], result["updated"]) == (3, 5)
    plans = {r["email"]: (r["handle"], r["plan"]) for r in probe.rows("accounts")}
    assert plans == {f"a{i}@x.org": (f"h{i}", "pro" if i >= 5 else "free") for i in range(13)}
    before = probe.snapshot("accounts")
    # Record 13 is new by email but takes the handle of a2: a clash on the other unique key, in the
    # fourth batch of four. Updating a2 instead would be a silent write to the wrong record.
    data = accounts(range(13), plan="gold") + [{"email": "new@x.org", "handle": "h2", "plan": "gold"}]
    data += accounts(range(20, 22), plan="gold")
    upsert = {"data": data, "conflict_on": ["email"], "batch_size": 4}
    expect_failure(lambda: flow.node("AccountBulkUpsertNode", upsert), "13")
    assert probe.snapshot("accounts") == before, "a failed bulk upsert changed the table"


@pytest.mark.clause("BULK-011")
def test_bulk_upsert_sets_only_the_fields_each_record_names(make_dataflow, probe, flow):
    define_user(make_dataflow())
    people = [
        {"name": f"p{i}", "email": f"p{i}@x.org", "age": 40 + i, "nickname": "keep", "score": 0.5} for i in range(4)
    ]
    seed_users(probe, flow.db, people)  # arranged through the probe
    data = [
        {"name": "renamed", "email": "p0@x.org"},  # age, nickname, score: kept
        {"name": "p1", "email": "p1@x.org", "age": 7},  # nickname, score: kept
        {"name": "p2", "email": "p2@x.org", "nickname": None, "score": 9.0},  # a named None is set
        {"name": "fresh", "email": "fresh@x.org"},  # new: the defaults
    ]
    result = flow.node("UserBulkUpsertNode", {"data": data, "conflict_on": ["email"], "batch_size": 2})
    assert (result["inserted"], result["updated"]) == (1, 3)
    rows = {r["email"]: (r["name"], r["age"], r["nickname"], r["score"]) for r in probe.rows("users")}
    assert rows == {
        "p0@x.org": ("renamed", 40, "keep", 0.5),
        "p1@x.org": ("p1", 7, "keep", 0.5),
        "p2@x.org": ("p2", 42, None, 9.0),
        "p3@x.org": ("p3", 43, "keep", 0.5),
        "fresh@x.org": ("fresh", 0, None, None),
    }


@pytest.mark.clause("BULK-004")
@pytest.mark.paths(*WORKFLOW_PATHS)  # updates by filter are a node feature
def test_bulk_update_exact(make_dataflow, probe, flow):
    define_user(make_dataflow())
    seed_users(probe, flow.db, users(40))  # arranged through the probe
    expected = {r["email"] for r in probe.rows("users") if r["age"] >= 30 or r["name"] == "u3"}
    result = flow.node(
        "UserBulkUpdateNode",
        {"filter": {"$or": [{"age": {"$gte": 30}}, {"name": "u3"}]}, "fields": {"nickname": "bulk"}},
    )
    assert result["updated"] == len(expected) == 11
    changed = {r["email"] for r in probe.rows("users") if r["nickname"] == "bulk"}
    assert changed == expected


@pytest.mark.clause("BULK-005")
@pytest.mark.paths(*WORKFLOW_PATHS)  # deletes by filter are a node feature
def test_bulk_delete_exact(make_dataflow, probe, flow):
    define_user(make_dataflow())
    seed_users(probe, flow.db, users(40))  # arranged through the probe
    result = flow.node("UserBulkDeleteNode", {"filter": {"age": {"$in": [1, 2, 3]}}})
    assert result["deleted"] == 3
    assert probe.count("users") == 37
    assert probe.scalar("SELECT count(*) FROM users WHERE age IN (1, 2, 3)") == 0


@pytest.mark.clause("BULK-006")
@pytest.mark.paths(*WORKFLOW_PATHS)  # updates and deletes by filter are node features
@pytest.mark.parametrize("empty", [{}, None])
def test_empty_filter_needs_confirmation(make_dataflow, probe, flow, empty):
    define_user(make_dataflow())
    seed_users(probe, flow.db, users(5))  # arranged through the probe
    before = probe.snapshot("users")
    params = {} if empty is None else {"filter": empty}
    expect_failure(lambda: flow.node("UserBulkUpdateNode", {**params, "fields": {"age": 99}}), "confirm")
    expect_failure(lambda: flow.node("UserBulkDeleteNode", params), "confirm")
    assert probe.snapshot("users") == before
    assert flow.node("UserBulkUpdateNode", {**params, "fields": {"age": 99}, "confirmed": True})["updated"] == 5
    assert {r["age"] for r in probe.rows("users")} == {99}
    assert flow.node("UserBulkDeleteNode", {**params, "confirmed": True})["deleted"] == 5
    assert probe.count("users") == 0


@pytest.mark.clause("BULK-007")
def test_bulk_upsert_update(make_dataflow, probe, flow):
    define_user(make_dataflow())
    seed_users(probe, flow.db, users(10))  # arranged through the probe
    created_at = {r["email"]: r["created_at"] for r in probe.rows("users")}
    data = [{"name": f"new-{i}", "email": f"u{i}@x.org", "age": 77} for i in range(5, 15)]
    result = flow.node("UserBulkUpsertNode", {"data": data, "conflict_on": ["email"], "batch_size": 3})
    assert (result["processed"], result["inserted"], result["updated"]) == (10, 5, 5)
    rows = {r["email"]: r for r in probe.rows("users")}
    assert len(rows) == 15
    assert all(rows[f"u{i}@x.org"]["age"] == 77 and rows[f"u{i}@x.org"]["name"] == f"new-{i}" for i in range(5, 15))
    assert all(rows[f"u{i}@x.org"]["age"] == i for i in range(5))
    assert all(rows[email]["created_at"] == created_at[email] for email in created_at), "upsert changed created_at"


@pytest.mark.clause("BULK-008")
@pytest.mark.paths(*WORKFLOW_PATHS)  # the express bulk_upsert always updates
def test_bulk_upsert_skip(make_dataflow, probe, flow):
    define_user(make_dataflow())
    seed_users(probe, flow.db, users(10))  # arranged through the probe
    before = {r["email"]: (r["name"], r["age"]) for r in probe.rows("users")}
    data = [{"name": f"new-{i}", "email": f"u{i}@x.org", "age": 77} for i in range(5, 15)]
    result = flow.node("UserBulkUpsertNode", {"data": data, "conflict_on": ["email"], "conflict_resolution": "skip"})
    assert (result["inserted"], result["updated"], result["skipped"]) == (5, 0, 5)
    rows = {r["email"]: (r["name"], r["age"]) for r in probe.rows("users")}
    assert len(rows) == 15
    assert all(rows[email] == before[email] for email in before), "skip changed an existing record"


@pytest.mark.clause("BULK-009")
@pytest.mark.paths(*WORKFLOW_PATHS)  # updates and deletes by filter are node features
def test_bulk_on_soft_delete_model(make_dataflow, probe, flow):
    db = make_dataflow()

    @db.model
    class Task:
        title: str
        done: bool = False
        __dataflow__ = {"soft_delete": True}

    seed(probe, flow.db, "tasks", [{"title": f"t{i}", "done": False, "deleted_at": None} for i in range(6)])
    assert flow.node("TaskBulkDeleteNode", {"filter": {"title": {"$in": ["t0", "t1"]}}})["deleted"] == 2
    assert probe.count("tasks") == 6, "bulk delete removed soft-delete rows"
    assert flow.node("TaskCountNode", {})["count"] == 4
    assert flow.node("TaskBulkUpdateNode", {"filter": {}, "fields": {"done": True}, "confirmed": True})["updated"] == 4
    hidden = probe.rows("tasks", where="title IN ('t0', 't1')")
    assert all(not row["done"] for row in hidden), "bulk update changed soft-deleted rows"


@pytest.mark.clause("BULK-010")
def test_bulk_create_names_the_record_of_the_wrong_type(make_dataflow, probe, flow):
    define_user(make_dataflow())
    bad_type = users(9) + [{"name": "x", "email": "x@x.org", "age": "nine"}]
    expect_failure(lambda: flow.node("UserBulkCreateNode", creating(bad_type, 4, flow)), "9", "age")
    assert probe.count("users") == 0


@pytest.mark.clause("BULK-010")
def test_bulk_create_names_the_record_missing_a_field(make_dataflow, probe, flow):
    define_user(make_dataflow())
    missing = users(3) + [{"name": "no email"}]
    expect_failure(lambda: flow.node("UserBulkCreateNode", {"data": missing}), "3", "email")
    assert probe.count("users") == 0


@pytest.mark.clause("BULK-010")
@pytest.mark.paths(*WORKFLOW_PATHS)  # batch_size is a node input
def test_bulk_create_refuses_a_bad_batch_size(make_dataflow, probe, flow):
    define_user(make_dataflow())
    expect_failure(lambda: flow.node("UserBulkCreateNode", {"data": users(2), "batch_size": 0}), "batch_size")
    assert probe.count("users") == 0


BAD_BY_FILTER = {
    "update-unknown-field": ("UserBulkUpdateNode", {"filter": {"agee": 1}, "fields": {"age": 2}}, "agee"),
    "delete-unknown-operator": ("UserBulkDeleteNode", {"filter": {"age": {"$bad": 1}}}, "$bad"),
    "update-wrong-type": ("UserBulkUpdateNode", {"filter": {"age": 1}, "fields": {"age": "2"}}, "age"),
}


@pytest.mark.clause("BULK-010")
@pytest.mark.paths(*WORKFLOW_PATHS)  # updates and deletes by filter are node features
@pytest.mark.parametrize("case", sorted(BAD_BY_FILTER))
def test_bulk_writes_by_filter_refuse_bad_input(make_dataflow, probe, flow, case):
    define_user(make_dataflow())
    seed_users(probe, flow.db, users(3))  # arranged through the probe
    before = probe.snapshot("users")
    node_type, params, named = BAD_BY_FILTER[case]
    expect_failure(lambda: flow.node(node_type, params), named)
    assert probe.snapshot("users") == before


@pytest.mark.clause("BULK-012")
@pytest.mark.paths(*EXPRESS_PATHS)
@pytest.mark.parametrize("count", [0, 1, BATCH])
def test_express_bulk_create_returns_the_stored_records(make_dataflow, probe, flow, count):
    define_user(make_dataflow())
    created = flow.call("bulk_create", "User", users(count))
    rows = probe.rows("users")
    assert [r["email"] for r in created] == [u["email"] for u in users(count)], "not the records, in order"
    assert sorted(r["id"] for r in created) == [row["id"] for row in rows]


@pytest.mark.clause("BULK-013")
@pytest.mark.paths(*EXPRESS_PATHS)
def test_express_bulk_update_changes_exactly_the_named_fields_of_the_named_records(make_dataflow, probe, flow):
    define_user(make_dataflow())
    stored = seed_users(probe, flow.db, users(5))
    before = {r["id"]: r for r in probe.rows("users")}
    updated = flow.call(
        "bulk_update", "User", [{"id": stored[1]["id"], "age": 77}, {"id": stored[3]["id"], "nickname": "n"}]
    )
    assert [(r["id"], r["age"], r["nickname"]) for r in updated] == [
        (stored[1]["id"], 77, None),
        (stored[3]["id"], 3, "n"),
    ]
    after = {r["id"]: r for r in probe.rows("users")}
    assert (after[stored[1]["id"]]["age"], after[stored[3]["id"]]["nickname"]) == (77, "n")
    untouched = [i for i in after if i not in (stored[1]["id"], stored[3]["id"])]
    assert all(after[i] == before[i] for i in untouched), "a record the call did not name changed"


@pytest.mark.clause("BULK-013")
@pytest.mark.paths(*EXPRESS_PATHS)
def test_express_bulk_update_naming_a_missing_record_writes_nothing(make_dataflow, probe, flow):
    define_user(make_dataflow())
    stored = seed_users(probe, flow.db, users(3))
    before = probe.snapshot("users")
    missing = max(r["id"] for r in stored) + 100
    expect_failure(
        lambda: flow.call("bulk_update", "User", [{"id": stored[0]["id"], "age": 9}, {"id": missing, "age": 9}])
    )
    assert probe.snapshot("users") == before


@pytest.mark.clause("BULK-013")
@pytest.mark.paths(*EXPRESS_PATHS)
def test_express_bulk_delete_deletes_exactly_the_ids(make_dataflow, probe, flow):
    define_user(make_dataflow())
    stored = seed_users(probe, flow.db, users(5))
    assert flow.call("bulk_delete", "User", [stored[0]["id"], stored[2]["id"]]) is True
    assert [r["id"] for r in probe.rows("users")] == [stored[i]["id"] for i in (1, 3, 4)]
