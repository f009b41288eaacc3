"""CRUD: single-record operations, checked against the table through an independent connection."""

import pytest

from ..access.protocol import WORKFLOW_PATHS
from .support import define_user, expect_failure, seed_users


@pytest.mark.clause("CRUD-001")
def test_create_stores_and_returns_record(make_dataflow, probe, flow):
    define_user(make_dataflow())
    created = flow.node("UserCreateNode", {"name": "Ann", "email": "ann@x.org", "age": 31, "score": 9.5})
    assert (created["name"], created["email"], created["age"], created["score"]) == ("Ann", "ann@x.org", 31, 9.5)
    assert created["active"] is True and created["nickname"] is None
    assert created["created_at"] is not None and created["updated_at"] is not None
    (row,) = probe.rows("users")
    assert (row["id"], row["name"], row["email"], row["age"], row["score"]) == (
        created["id"],
        "Ann",
        "ann@x.org",
        31,
        9.5,
    )


@pytest.mark.clause("CRUD-002")
def test_read_returns_the_stored_record(make_dataflow, probe, flow):
    define_user(make_dataflow())
    (stored,) = seed_users(probe, flow.db, [{"name": "Bo", "email": "bo@x.org", "age": 77}])
    read = flow.node("UserReadNode", {"id": stored["id"]})
    assert (read["found"], read["id"], read["name"], read["age"]) == (True, stored["id"], "Bo", 77)


@pytest.mark.clause("CRUD-002")
def test_read_of_a_missing_record_fails(make_dataflow, probe, flow):
    define_user(make_dataflow())
    (stored,) = seed_users(probe, flow.db, [{"name": "Bo", "email": "bo@x.org"}])
    expect_failure(lambda: flow.node("UserReadNode", {"id": stored["id"] + 1000}))


@pytest.mark.clause("CRUD-003")
def test_read_missing_without_raising(make_dataflow, flow):
    define_user(make_dataflow())
    missing = flow.node("UserReadNode", {"id": 424242, "raise_on_not_found": False})
    assert missing["found"] is False and missing["id"] == 424242


@pytest.mark.clause("CRUD-004")
def test_update_changes_only_named_fields(make_dataflow, probe, flow):
    define_user(make_dataflow())
    target, other = seed_users(
        probe,
        flow.db,
        [{"name": "T", "email": "t@x.org", "age": 1, "nickname": "tt"}, {"name": "O", "email": "o@x.org", "age": 1}],
    )
    before_other = probe.rows("users", where="id = :id", id=other["id"])
    result = flow.node("UserUpdateNode", {"filter": {"id": target["id"]}, "fields": {"age": 2, "nickname": None}})
    assert result["updated"] is True and result["age"] == 2 and result["nickname"] is None and result["name"] == "T"
    (row,) = probe.rows("users", where="id = :id", id=target["id"])
    assert (row["age"], row["nickname"], row["name"], row["email"]) == (2, None, "T", "t@x.org")
    assert probe.rows("users", where="id = :id", id=other["id"]) == before_other


UPDATES_MATCHING_NOTHING = {
    "missing-id": lambda user: {"filter": {"id": user["id"] + 99}, "fields": {"age": 11}},
    "guard-key-differs": lambda user: {"filter": {"id": user["id"], "age": 99}, "fields": {"age": 11}},
}


@pytest.mark.clause("CRUD-005")
@pytest.mark.paths(*WORKFLOW_PATHS)  # guard keys are a node feature
@pytest.mark.parametrize("case", sorted(UPDATES_MATCHING_NOTHING))
def test_update_matching_nothing_changes_nothing(make_dataflow, probe, flow, case):
    define_user(make_dataflow())
    (user,) = seed_users(probe, flow.db, [{"name": "G", "email": "g@x.org", "age": 10}])
    snapshot = probe.snapshot("users")
    result = flow.node("UserUpdateNode", UPDATES_MATCHING_NOTHING[case](user))
    assert result["updated"] is False, f"an update matching nothing reported {result}"
    assert probe.snapshot("users") == snapshot


@pytest.mark.clause("CRUD-005")
@pytest.mark.paths(*WORKFLOW_PATHS)
def test_update_whose_guard_keys_match_updates(make_dataflow, probe, flow):
    define_user(make_dataflow())
    (user,) = seed_users(probe, flow.db, [{"name": "G", "email": "g@x.org", "age": 10}])
    matched = flow.node("UserUpdateNode", {"filter": {"id": user["id"], "age": 10}, "fields": {"age": 11}})
    assert matched["updated"] is True and probe.rows("users")[0]["age"] == 11


def two_users(probe, flow):
    define_user(flow.db)
    return seed_users(probe, flow.db, [{"name": "D", "email": "d@x.org"}, {"name": "K", "email": "k@x.org"}])


@pytest.mark.clause("CRUD-006")
def test_delete_removes_the_record(make_dataflow, probe, flow):
    make_dataflow()
    gone, kept = two_users(probe, flow)
    assert flow.node("UserDeleteNode", {"id": gone["id"]})["deleted"] is True, "Delete did not report the deletion"
    assert [row["id"] for row in probe.rows("users")] == [kept["id"]], "the table does not hold just the other record"


@pytest.mark.clause("CRUD-006")
def test_delete_of_a_missing_record_reports_false(make_dataflow, probe, flow):
    make_dataflow()
    gone, kept = two_users(probe, flow)
    probe.execute("DELETE FROM users WHERE id = :id", id=gone["id"])  # deleted from outside
    result = flow.node("UserDeleteNode", {"id": gone["id"]})
    assert result["deleted"] is False, f"Delete of a missing record reported {result}"
    assert [row["id"] for row in probe.rows("users")] == [kept["id"]]
