"""ERR: bad input is refused with an error that names the problem, and nothing is written."""

import re

import pytest
from kailash.workflow.builder import WorkflowBuilder

from ..access.protocol import WORKFLOW_PATHS
from .support import blocked_by, define_user, exception_chain, expect_failure, seed, seed_users


@pytest.mark.clause("ERR-001")
def test_missing_required_field(make_dataflow, probe, flow):
    define_user(make_dataflow())
    expect_failure(lambda: flow.node("UserCreateNode", {"name": "no email"}), "User", "email")
    assert probe.count("users") == 0


@pytest.mark.clause("ERR-002")
@pytest.mark.parametrize(
    "field, value",
    [("age", "42"), ("age", 4.0), ("active", 1), ("active", "true"), ("email", 12), ("score", "1.5"), ("age", True)],
)
def test_wrong_type_is_not_coerced(make_dataflow, probe, flow, field, value):
    define_user(make_dataflow())
    db_values = {"name": "n", "email": "e@x.org", field: value}
    expect_failure(lambda: flow.node("UserCreateNode", db_values), "User", field)
    assert probe.count("users") == 0
    (user,) = seed_users(probe, flow.db, [{"name": "n", "email": "e@x.org", "age": 5}])
    snapshot = probe.snapshot("users")
    expect_failure(lambda: flow.node("UserUpdateNode", {"filter": {"id": user["id"]}, "fields": {field: value}}), field)
    assert probe.snapshot("users") == snapshot


@pytest.mark.clause("ERR-003")
def test_unknown_field(make_dataflow, probe, flow):
    define_user(make_dataflow())
    expect_failure(lambda: flow.node("UserCreateNode", {"name": "n", "email": "e@x.org", "emial": "typo"}), "emial")
    assert probe.count("users") == 0
    (user,) = seed_users(probe, flow.db, [{"name": "n", "email": "e@x.org"}])
    snapshot = probe.snapshot("users")
    expect_failure(lambda: flow.node("UserUpdateNode", {"filter": {"id": user["id"]}, "fields": {"agee": 3}}), "agee")
    assert probe.snapshot("users") == snapshot


INVALID_FILTERS = [
    pytest.param({"agee": 3}, "agee", id="unknown-field"),
    pytest.param({"age": {"$gtx": 3}}, "$gtx", id="unknown-operator"),
    pytest.param({"$nor": [{"age": 1}]}, "$nor", id="unknown-logical-operator"),
    pytest.param({"age": {"$in": 3}}, "$in", id="in-without-a-list"),
]


def check_invalid_filter(make_dataflow, probe, flow, call, named):
    define_user(make_dataflow())
    seed_users(probe, flow.db, [{"name": "n", "email": "e@x.org", "age": 3}])
    snapshot = probe.snapshot("users")
    expect_failure(lambda: call(flow), named)
    assert probe.snapshot("users") == snapshot


@pytest.mark.clause("ERR-004")
@pytest.mark.parametrize("node_type", ["UserListNode", "UserCountNode"])
@pytest.mark.parametrize("filter_spec, named", INVALID_FILTERS)
def test_invalid_filter_in_a_read(make_dataflow, probe, flow, node_type, filter_spec, named):
    check_invalid_filter(make_dataflow, probe, flow, lambda path: path.node(node_type, {"filter": filter_spec}), named)


@pytest.mark.clause("ERR-004")
@pytest.mark.paths(*WORKFLOW_PATHS)  # writes by filter are node features
@pytest.mark.parametrize("node_type", ["UserBulkUpdateNode", "UserBulkDeleteNode"])
@pytest.mark.parametrize("filter_spec, named", INVALID_FILTERS)
def test_invalid_filter_in_a_write(make_dataflow, probe, flow, node_type, filter_spec, named):
    params = {"filter": filter_spec} | ({"fields": {"age": 4}} if node_type == "UserBulkUpdateNode" else {})
    check_invalid_filter(make_dataflow, probe, flow, lambda path: path.node(node_type, params), named)


@pytest.mark.clause("ERR-005")
@pytest.mark.paths(*WORKFLOW_PATHS)  # node types exist only in workflows
def test_unknown_node_type(make_dataflow, flow):
    define_user(make_dataflow())

    def run():
        builder = WorkflowBuilder()
        builder.add_node("UserFrobnicateNode", "bad", {})
        flow.run(builder)

    expect_failure(run, "UserFrobnicateNode")


@pytest.mark.clause("ERR-006")
@pytest.mark.parametrize(
    "params, named", [({"limit": -1}, "limit"), ({"offset": -5}, "offset"), ({"limit": "ten"}, "limit")]
)
def test_invalid_paging(make_dataflow, flow, params, named):
    define_user(make_dataflow())
    expect_failure(lambda: flow.node("UserListNode", params), named)


@pytest.mark.clause("ERR-007")
def test_unique_violation_is_an_implementation_error(make_dataflow, dataflow_impl, probe, flow):
    define_user(make_dataflow())
    seed_users(probe, flow.db, [{"name": "first", "email": "dup@x.org"}])
    with pytest.raises(Exception) as info:
        flow.node("UserCreateNode", {"name": "second", "email": "dup@x.org"})
    assert_names_the_violation(info.value, dataflow_impl)
    assert [r["name"] for r in probe.rows("users")] == ["first"]


@pytest.mark.clause("ERR-007")
def test_a_unique_violation_names_the_unique_field_that_clashed(make_dataflow, probe, flow):
    """Of two unique fields, the one that clashed: an implementation that tells the clash from its model must
    find the index the database names, not take the first unique one. The index names leave out the fields'
    (a server's message may name only the index)."""
    db = make_dataflow()

    @db.model
    class Account:
        email: str
        handle: str
        __dataflow__ = {
            "indexes": [
                {"name": "uq_accounts_first", "fields": ["email"], "unique": True},
                {"name": "uq_accounts_second", "fields": ["handle"], "unique": True},
            ]
        }

    seed(probe, db, "accounts", [{"email": "ann@x.org", "handle": "ann"}])
    with pytest.raises(Exception) as info:
        flow.node("AccountCreateNode", {"email": "bob@x.org", "handle": "ann"})
    message = str(info.value)  # not the chain: the driver's error there quotes the whole INSERT
    assert "Account" in message, f"the error does not name the model: {message[:500]}"
    assert "handle" in message, f"the error does not name the field that clashed (handle): {message[:500]}"
    assert [r["email"] for r in probe.rows("accounts")] == ["ann@x.org"]


@pytest.mark.clause("ERR-007")
def test_a_taken_id_is_a_unique_violation_naming_the_id(make_dataflow, dataflow_impl, probe, flow):
    """A Create with a supplied id that a record holds: the primary key is a unique field too (a server's message
    may name only its index: `tokens_pkey`, `PRIMARY`)."""
    db = make_dataflow()

    @db.model
    class Token:
        id: str
        owner: str

    seed(probe, db, "tokens", [{"id": "tok-1", "owner": "ann"}])
    with pytest.raises(Exception) as info:
        flow.node("TokenCreateNode", {"id": "tok-1", "owner": "bob"})
    assert_names_the_violation(info.value, dataflow_impl, model="Token", field=r"\bid\b")
    assert [(r["id"], r["owner"]) for r in probe.rows("tokens")] == [("tok-1", "ann")]


def assert_names_the_violation(error: BaseException, dataflow_impl, model="User", field="email") -> None:
    """ERR-007's error: it names the model and the field (a pattern), and the implementation raised it."""
    message = str(error)
    assert model in message and re.search(field, message), f"the error does not name the model and field: {message}"
    # An error of the implementation: its class, or one of its bases, is the implementation's code (an adapter
    # may re-export, subclass or wrap another implementation's DataFlow and its errors).
    packages = dataflow_impl.packages
    chain = exception_chain(error)
    ours = [e for e in chain if any(c.__module__.split(".")[0] in packages for c in type(e).__mro__)]
    assert ours, (
        f"no error of the implementation ({', '.join(sorted(packages))}) in the chain "
        f"{' <- '.join(f'{type(e).__module__}.{type(e).__qualname__}' for e in chain)}: "
        "a unique violation must surface as the implementation's own error (or a subclass of it), not only the driver's"
    )


# Writes of a taken email onto the second user, each first made once with a value nothing else holds (that the
# write works at all is the clause it blocks on): (node, the write, the harmless write, its clause).
UPDATES_INTO_A_TAKEN_KEY = {
    "update": (
        "UserUpdateNode",
        lambda second: {"filter": {"id": second["id"]}, "fields": {"email": "dup@x.org"}},
        lambda second: {"filter": {"id": second["id"]}, "fields": {"age": 5}},
        "CRUD-004",
    ),
    # Upsert's update branch: the matched record takes a key another record holds, which no retry can clear
    "upsert": (
        "UserUpsertNode",
        lambda second: {
            "where": {"email": second["email"]},
            "create": {"name": second["name"]},
            "update": {"email": "dup@x.org"},
        },
        lambda second: {"where": {"email": second["email"]}, "create": {"name": second["name"]}, "update": {"age": 5}},
        "QUERY-011",
    ),
}


@pytest.mark.clause("ERR-007")
@pytest.mark.parametrize("write", list(UPDATES_INTO_A_TAKEN_KEY))
def test_unique_violation_of_an_update_is_an_implementation_error(make_dataflow, dataflow_impl, probe, flow, write):
    node, clashing, harmless, clause = UPDATES_INTO_A_TAKEN_KEY[write]
    define_user(make_dataflow())
    _, second = seed_users(
        probe, flow.db, [{"name": "first", "email": "dup@x.org"}, {"name": "second", "email": "second@x.org"}]
    )
    with blocked_by(clause):
        flow.node(node, harmless(second))
    with pytest.raises(Exception) as info:
        flow.node(node, clashing(second))
    assert_names_the_violation(info.value, dataflow_impl)
    stored = sorted((r["name"], r["email"], r["age"]) for r in probe.rows("users"))
    assert stored == [("first", "dup@x.org", 0), ("second", "second@x.org", 5)], f"the refused {write} wrote: {stored}"
