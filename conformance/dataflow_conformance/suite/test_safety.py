"""SAFE: values are data, identifiers are checked against the model."""

import pytest

from ..access.protocol import WORKFLOW_PATHS
from .support import blocked_by, define_user, expect_failure, seed_users

PAYLOADS = [
    "'; DROP TABLE users; --",
    '" OR 1=1 --',
    "x') OR ('1'='1",
    "1; DELETE FROM users",
    "`users`; TRUNCATE users",
    "\\'; SELECT pg_sleep(5); --",
]


@pytest.mark.clause("SAFE-001")
def test_values_are_stored_verbatim(make_dataflow, probe, flow):
    define_user(make_dataflow())
    for index, payload in enumerate(PAYLOADS):
        flow.node("UserCreateNode", {"name": payload, "email": f"{index}{payload}@x.org", "nickname": payload})
    rows = probe.rows("users")
    assert [r["name"] for r in rows] == PAYLOADS
    assert [r["nickname"] for r in rows] == PAYLOADS


HOSTILE_KEYS = ["1=1 OR name", "name; DROP TABLE users", "users.name", "name)--", '"name"']
# Where a filter key reaches a statement: (node, params for the key `K` and the seeded record's id).
KEYED = {
    "list": ("UserListNode", lambda key, record_id: {"filter": {key: "n"}}),
    "count": ("UserCountNode", lambda key, record_id: {"filter": {key: "n"}}),
    "upsert-where": (
        "UserUpsertNode",
        lambda key, record_id: {"where": {key: "n"}, "create": {"name": "u", "email": "u@x.org"}, "update": {"age": 1}},
    ),
}
NODE_KEYED = {  # guard keys and writes by filter: node features
    "update-guard-key": (
        "UserUpdateNode",
        lambda key, record_id: {"filter": {"id": record_id, key: "n"}, "fields": {"age": 1}},
    ),
    "bulk-update": ("UserBulkUpdateNode", lambda key, record_id: {"filter": {key: "n"}, "fields": {"age": 1}}),
    "bulk-delete": ("UserBulkDeleteNode", lambda key, record_id: {"filter": {key: "n"}}),
}


def check_key_refused(make_dataflow, probe, flow, node_type, params):
    define_user(make_dataflow())
    (user,) = seed_users(probe, flow.db, [{"name": "n", "email": "e@x.org"}])
    snapshot = probe.snapshot("users")
    expect_failure(lambda: flow.node(node_type, params(user["id"])))
    assert probe.snapshot("users") == snapshot


@pytest.mark.clause("SAFE-002")
@pytest.mark.parametrize("place", sorted(KEYED))
@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_filter_keys_are_checked(make_dataflow, probe, flow, key, place):
    node_type, params = KEYED[place]
    check_key_refused(make_dataflow, probe, flow, node_type, lambda record_id: params(key, record_id))


@pytest.mark.clause("SAFE-002")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("place", sorted(NODE_KEYED))
@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_filter_keys_of_node_writes_are_checked(make_dataflow, probe, flow, key, place):
    node_type, params = NODE_KEYED[place]
    check_key_refused(make_dataflow, probe, flow, node_type, lambda record_id: params(key, record_id))


# A key inside `$or`, `$and` or `$not`: a compiler that checks only the top level splices it. Each place: the
# node, its params for a key and a value, what it answers, and its answer with the field `name` instead (one
# seeded user "n", age 0). The value "zzz" of a write matches nothing, so that answer changes nothing.
NESTED_KEYED = {
    "list-in-or": (
        "UserListNode", lambda k, v: {"filter": {"$or": [{k: v}, {"age": -1}]}}, "n",
        lambda answer: [r["name"] for r in answer["records"]], ["n"],
    ),
    "count-in-and": (
        "UserCountNode", lambda k, v: {"filter": {"$and": [{"age": 0}, {k: v}]}}, "n",
        lambda answer: answer["count"], 1,
    ),
    "list-in-not": (
        "UserListNode", lambda k, v: {"filter": {"$not": {k: v}}}, "n",
        lambda answer: [r["name"] for r in answer["records"]], [],
    ),
}  # fmt: skip
NODE_NESTED_KEYED = {
    "bulk-delete-in-or": (
        "UserBulkDeleteNode", lambda k, v: {"filter": {"$or": [{k: v}, {"age": -1}]}}, "zzz",
        lambda answer: answer["deleted"], 0,
    ),
}  # fmt: skip
# Keys whose splice is valid SQL: spliced, they select rows instead of failing (a syntax error would pass).
SPLICEABLE_KEYS = ["1=1 OR name", "users.name"]


@pytest.mark.clause("SAFE-002")
@pytest.mark.parametrize("place", sorted(NESTED_KEYED))
@pytest.mark.parametrize("key", SPLICEABLE_KEYS)
def test_filter_keys_inside_logical_operators_are_checked(make_dataflow, probe, flow, key, place):
    check_nested_key_refused(make_dataflow, probe, flow, key, *NESTED_KEYED[place])


@pytest.mark.clause("SAFE-002")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("place", sorted(NODE_NESTED_KEYED))
@pytest.mark.parametrize("key", SPLICEABLE_KEYS)
def test_filter_keys_inside_logical_operators_of_node_writes_are_checked(make_dataflow, probe, flow, key, place):
    check_nested_key_refused(make_dataflow, probe, flow, key, *NODE_NESTED_KEYED[place])


def check_nested_key_refused(make_dataflow, probe, flow, key, node_type, params, value, answer_of, expected):
    """The operator must work on this node with a field's name first (QUERY-006), or a refusal of the hostile
    key would say nothing of the key."""
    define_user(make_dataflow())
    seed_users(probe, flow.db, [{"name": "n", "email": "e@x.org"}])
    with blocked_by("QUERY-006"):
        answered = answer_of(flow.node(node_type, params("name", value)))
        assert answered == expected, f"{node_type} {params('name', value)} answered {answered!r}, not {expected!r}"
    snapshot = probe.snapshot("users")
    expect_failure(lambda: flow.node(node_type, params(key, value)))
    assert probe.snapshot("users") == snapshot


@pytest.mark.clause("SAFE-003")
@pytest.mark.parametrize("key", ["name; DROP TABLE users", "(SELECT 1)", "name DESC, id", "-name--", "1"])
def test_order_by_keys_are_checked(make_dataflow, probe, flow, key):
    define_user(make_dataflow())
    seed_users(probe, flow.db, [{"name": "n", "email": "e@x.org"}])
    expect_failure(lambda: flow.node("UserListNode", {"order_by": [key]}))
    assert probe.count("users") == 1


@pytest.mark.clause("SAFE-004")
@pytest.mark.parametrize("key", ["name) VALUES ('x'); --", "email, age", "age = 1, name"])
def test_field_names_are_checked(make_dataflow, probe, flow, key):
    define_user(make_dataflow())
    (user,) = seed_users(probe, flow.db, [{"name": "n", "email": "e@x.org"}])
    snapshot = probe.snapshot("users")
    expect_failure(lambda: flow.node("UserCreateNode", {"name": "m", "email": "m@x.org", key: "v"}))
    expect_failure(lambda: flow.node("UserUpdateNode", {"filter": {"id": user["id"]}, "fields": {key: "v"}}))
    assert probe.snapshot("users") == snapshot


@pytest.mark.clause("SAFE-005")
def test_operator_arguments_are_data(make_dataflow, probe, flow):
    define_user(make_dataflow())
    seed_users(probe, flow.db, [{"name": PAYLOADS[0], "email": "p@x.org"}, {"name": "other", "email": "o@x.org"}])

    def names(filter_spec):
        return [r["name"] for r in flow.node("UserListNode", {"filter": filter_spec})["records"]]

    assert names({"name": {"$like": "%' OR '1'='1"}}) == []
    assert names({"name": {"$in": [PAYLOADS[0], "' OR 1=1 --"]}}) == [PAYLOADS[0]]
    assert names({"name": {"$gt": "z' OR '1'='1"}}) == []
    assert names({"name": PAYLOADS[0]}) == [PAYLOADS[0]]
    assert probe.count("users") == 2
