"""QUERY: filters, ordering, paging, Count and Upsert."""

import json

import pytest
from hypothesis import HealthCheck, given, settings

from ..access.protocol import EXPRESS_PATHS, WORKFLOW_PATHS
from ..exceptions import exception_chain
from ..testing.filtermodel import matches
from ..testing.querydata import (
    AMOUNTS,
    DAYS,
    EDGE_FILTERS,
    EDGE_IDS,
    FILTERS,
    MOMENTS,
    MULTI_KEY_ORDERS,
    PEOPLE,
    SINGLE_KEY_ORDERS,
    expected,
    names,
    ordered,
)
from .support import as_utc, define_everything, define_user, expect_failure, seed, seed_users


@pytest.fixture
def people(make_dataflow, probe, flow):
    define_user(make_dataflow())
    records = seed_users(probe, flow.db, PEOPLE)
    return {r["name"]: r for r in records}


@pytest.mark.clause("QUERY-001")
def test_equality_and_null(people, flow):
    assert names(flow, {"age": 30}) == ["alice", "carol"]
    assert names(flow, {"name": "alice"}) == ["alice"], "text equality must be case-sensitive"
    assert names(flow, {"nickname": None}) == ["Alice", "dave"]
    assert names(flow, {"active": False}) == ["bob", "dave"]
    assert names(flow, {"age": 30, "active": True}) == ["alice", "carol"]


@pytest.mark.clause("QUERY-002")
@pytest.mark.parametrize(
    "filter_spec",
    [
        {"age": {"$eq": 30}},
        {"age": {"$gt": 30}},
        {"age": {"$gte": 30}},
        {"age": {"$lt": 30}},
        {"age": {"$lte": 25}},
        {"age": {"$gt": 0, "$lt": 35}},
        {"name": {"$gt": "bob"}},
        {"name": {"$lt": "a"}},
        {"score": {"$gte": 0.0}},
        {"score": {"$lt": 2.5}},
        {"age": {"$ne": 30}},
    ],
)
def test_comparisons(people, flow, filter_spec):
    assert names(flow, filter_spec) == expected(filter_spec)


@pytest.fixture
def samples(make_dataflow, flow):
    define_everything(make_dataflow())
    base = {"number": 0, "ratio": 0.0, "flag": True, "doc": {}, "items": []}
    for i, (moment, day, amount) in enumerate(zip(MOMENTS, DAYS, AMOUNTS, strict=True)):
        flow.node("SampleCreateNode", {**base, "text": f"s{i}", "moment": moment, "day": day, "amount": amount})


@pytest.mark.clause("QUERY-002", "QUERY-008")
@pytest.mark.parametrize("field, values", [("moment", MOMENTS), ("day", DAYS), ("amount", AMOUNTS)])
def test_comparisons_and_order_on_instants_dates_and_decimals(samples, flow, field, values):
    """Compared and sorted as instants, dates and exact numbers: never as wall-clock text or floats."""

    def texts(filter_spec, **extra):
        result = flow.node("SampleListNode", {"filter": filter_spec, "limit": 100, **extra})
        return [record["text"] for record in result["records"]]

    labelled = {f"s{i}": value for i, value in enumerate(values)}
    for pivot in values:
        for op, keep in (("$gt", pivot.__lt__), ("$lte", pivot.__ge__), ("$ne", pivot.__ne__)):
            want = sorted(name for name, value in labelled.items() if keep(value))
            assert sorted(texts({field: {op: pivot}})) == want, f"{field} {op} {pivot!r}"
        assert texts({field: pivot}) == [name for name, value in labelled.items() if value == pivot]
    key = (lambda v: as_utc(v)) if field == "moment" else (lambda v: v)
    ascending = sorted(labelled, key=lambda name: key(labelled[name]))
    assert texts({}, order_by=[field]) == ascending
    assert texts({}, order_by=[f"-{field}"]) == ascending[::-1]


@pytest.mark.clause("QUERY-003")
def test_membership(people, flow):
    assert names(flow, {"age": {"$in": [25, 41, 99]}}) == ["Alice", "eve"]
    assert names(flow, {"name": {"$nin": ["alice", "bob"]}}) == ["Alice", "carol", "dave", "eve"]
    assert names(flow, {"age": {"$in": []}}) == []
    assert names(flow, {"age": {"$nin": []}}) == sorted(p["name"] for p in PEOPLE)


@pytest.mark.clause("QUERY-004")
def test_like(people, flow):
    assert names(flow, {"name": {"$like": "a%"}}) == ["alice"], "$like must be case-sensitive"
    assert names(flow, {"name": {"$like": "%li%"}}) == ["Alice", "alice"]
    assert names(flow, {"name": {"$like": "_ob"}}) == ["bob"]
    assert names(flow, {"nickname": {"$like": "100\\%"}}) == ["carol"], "escaped % must match literally"
    assert names(flow, {"nickname": {"$like": "B\\_b"}}) == ["bob"]


@pytest.mark.clause("QUERY-004")
def test_like_escapes_a_backslash_and_refuses_a_pattern_ending_in_a_lone_one(make_dataflow, probe, flow):
    """An escaped backslash matches one backslash; a pattern that ends in an unescaped backslash is refused, on
    every backend (left to the database, PostgreSQL refuses it, MySQL reads it as a literal, SQLite matches
    nothing)."""
    define_user(make_dataflow())
    seed_users(
        probe,
        flow.db,
        [
            {"name": "slash", "email": "s@x.org", "nickname": "a\\"},
            {"name": "plain", "email": "p@x.org", "nickname": "a"},
        ],
    )
    assert names(flow, {"nickname": {"$like": "a\\\\"}}) == ["slash"], "an escaped backslash must match itself"
    assert names(flow, {"nickname": {"$like": "%\\\\"}}) == ["slash"]
    for pattern in ("a\\", "a\\\\\\", "\\"):  # one and three trailing backslashes, and a lone one
        expect_failure(lambda pattern=pattern: names(flow, {"nickname": {"$like": pattern}}), "nickname")
    assert probe.count("users") == 2


# A filter that gives an operator a value it cannot take, and the name its error must carry (QUERY-015).
REFUSED_FILTERS = [
    ({"age": {"$gt": None}}, "age"),
    ({"age": {"$lte": None}}, "age"),
    ({"age": {"$gt": "thirty"}}, "age"),
    ({"age": {"$in": 30}}, "age"),
    ({"age": {"$nin": "30"}}, "age"),
    ({"age": {"$like": "3%"}}, "age"),
    ({"name": {"$like": 3}}, "name"),
    ({"score": {"$exists": "no"}}, "score"),
    ({"nickname": {"$null": "no"}}, "nickname"),
    ({"age": {"$not": 30}}, "age"),
    ({"age": {}}, "age"),
    ({"$or": []}, "$or"),
    ({"$and": {"age": 30}}, "$and"),
    ({"$nor": [{"age": 30}]}, "$nor"),
]
# order_by entries of no documented form ("field", "-field", {"field": 1 | -1}).
REFUSED_ORDERS = [[{"age": 2}], [{"age": "desc"}], [{}], [5], ["name", 5], 5]


def refusal(call, named: str) -> str | None:
    """None when `call()` fails with an error naming `named`; otherwise what happened instead."""
    try:
        answer = call()
    except Exception as error:
        message = " <- ".join(f"{type(e).__name__}: {e}" for e in exception_chain(error))
        return None if named.lower() in message.lower() else f"failed without naming {named!r}: {message[:200]}"
    return f"accepted: {answer!r}"


@pytest.mark.clause("QUERY-015")
def test_an_operator_given_a_value_it_cannot_take_is_refused(people, flow, probe):
    before = probe.snapshot("users")
    wrong = {
        json.dumps(filter_spec): problem
        for filter_spec, named in REFUSED_FILTERS
        if (problem := refusal(lambda filter_spec=filter_spec: names(flow, filter_spec), named))
    }
    assert not wrong, f"filters selected rows by a guess instead of failing: {wrong}"
    assert probe.snapshot("users") == before


@pytest.mark.clause("QUERY-015")
@pytest.mark.paths(*WORKFLOW_PATHS)  # the express API orders by one field name: these forms are a node's
def test_an_order_by_of_no_documented_form_is_refused(people, flow):
    wrong = {
        json.dumps(order_by): problem
        for order_by in REFUSED_ORDERS
        if (problem := refusal(lambda order_by=order_by: ordered(flow, order_by), "order_by"))
    }
    assert not wrong, f"order_by entries sorted by a guess instead of failing: {wrong}"


@pytest.mark.clause("QUERY-005")
def test_exists_and_null(people, flow):
    assert names(flow, {"score": {"$exists": True}}) == ["alice", "bob", "carol", "eve"]
    assert names(flow, {"score": {"$exists": False}}) == ["Alice", "dave"]
    assert names(flow, {"nickname": {"$null": True}}) == ["Alice", "dave"]
    assert names(flow, {"nickname": {"$null": False}}) == ["alice", "bob", "carol", "eve"]


@pytest.mark.clause("QUERY-001", "QUERY-002", "QUERY-007")
def test_a_filter_decoded_from_json_selects_what_the_same_filter_in_code_selects(people, flow):
    """A filter that arrives as JSON (a request body, a message) holds operator names built at run time: equal to
    the ones written in code, not the same objects, so an operator matched by identity misses them."""
    for text, want in [
        ('{"nickname": {"$eq": null}}', ["Alice", "dave"]),
        ('{"nickname": {"$ne": null}}', ["alice", "bob", "carol", "eve"]),
        ('{"nickname": {"$ne": "Al"}}', ["Alice", "bob", "carol", "dave", "eve"]),
        ('{"age": {"$eq": 30}}', ["alice", "carol"]),
        ('{"age": {"$gt": 30, "$lte": 41}}', ["bob", "eve"]),
        ('{"$or": [{"age": 25}, {"name": {"$in": ["bob"]}}]}', ["Alice", "bob"]),
    ]:
        assert names(flow, json.loads(text)) == want, text


@pytest.mark.clause("QUERY-006")
@pytest.mark.parametrize(
    "filter_spec",
    [
        {"$or": [{"age": 25}, {"name": "eve"}]},
        {"$and": [{"age": {"$gte": 30}}, {"active": True}]},
        {"$not": {"age": 30}},
        {"$or": [{"$and": [{"age": 30}, {"score": {"$gt": 0.0}}]}, {"active": False}]},
        {"age": {"$not": {"$gt": 30}}},
        {"$not": {"score": {"$gt": 0.0}}},
    ],
)
def test_logical_operators(people, flow, filter_spec):
    assert names(flow, filter_spec) == expected(filter_spec)


@pytest.mark.clause("QUERY-007")
def test_ne_and_nin_match_null(people, flow):
    assert names(flow, {"nickname": {"$ne": "Al"}}) == ["Alice", "bob", "carol", "dave", "eve"]
    assert names(flow, {"score": {"$nin": [1.5, 2.5]}}) == ["Alice", "carol", "dave", "eve"]


@pytest.mark.clause("QUERY-008")
@pytest.mark.parametrize("case", sorted(SINGLE_KEY_ORDERS))
def test_ordering_by_one_field(people, flow, case):
    order_by, names_in_order = SINGLE_KEY_ORDERS[case]
    assert ordered(flow, order_by) == names_in_order


@pytest.mark.clause("QUERY-008")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("case", sorted(MULTI_KEY_ORDERS))
def test_ordering_by_several_fields(people, flow, case):
    order_by, names_in_order = MULTI_KEY_ORDERS[case]
    assert ordered(flow, order_by) == names_in_order


@pytest.mark.clause("QUERY-008")
def test_text_ids_order_by_id_not_by_insertion(make_dataflow, probe, flow):
    """Rows stored in another order than their ids' (text ids, inserted out of order, so the table's own order
    is not the ids'): without order_by, and among ties of order_by, they come in ascending id order."""
    db = make_dataflow()

    @db.model
    class Token:
        id: str
        owner: str

    seed(probe, db, "tokens", [{"id": i, "owner": o} for i, o in [("m", "x"), ("c", "y"), ("t", "x"), ("h", "x")]])
    listed = flow.node("TokenListNode", {"limit": 100})["records"]
    assert [r["id"] for r in listed] == ["c", "h", "m", "t"], "without order_by, records must come by ascending id"
    by_owner = flow.node("TokenListNode", {"order_by": ["owner"], "limit": 100})["records"]
    assert [r["id"] for r in by_owner] == ["h", "m", "t", "c"], "records that tie must come by ascending id"


@pytest.mark.clause("QUERY-008")
def test_default_order_is_ascending_id(people, flow):
    by_id = flow.node("UserListNode", {"limit": 100})["records"]
    assert [r["name"] for r in by_id] == [p["name"] for p in PEOPLE], "default order is not ascending id"


def page_of(flow, **params):
    return flow.node("UserListNode", params)


@pytest.mark.clause("QUERY-009")
def test_pages_cover_every_record_once(people, flow):
    pages = [page_of(flow, order_by=["name"], limit=4, offset=offset) for offset in (0, 4)]
    assert [page["count"] for page in pages] == [len(page["records"]) for page in pages]
    assert [r["name"] for page in pages for r in page["records"]] == sorted(p["name"] for p in PEOPLE)


@pytest.mark.clause("QUERY-009")
def test_limit_zero_returns_nothing(people, flow):
    assert page_of(flow, limit=0)["records"] == []


@pytest.mark.clause("QUERY-009")
def test_a_page_past_the_end_is_short(people, flow):
    page = page_of(flow, limit=2, offset=5, order_by=["id"])
    assert page["count"] == 1 and [r["name"] for r in page["records"]] == [PEOPLE[5]["name"]]


@pytest.mark.clause("QUERY-009")
@pytest.mark.paths(*WORKFLOW_PATHS)  # no limit: the express API's default limit is 100, a node's is none
def test_offset_without_limit_returns_the_rest(people, flow):
    tail = page_of(flow, offset=4)
    assert [r["name"] for r in tail["records"]] == [p["name"] for p in PEOPLE[4:]] and tail["count"] == 2


@pytest.mark.clause("QUERY-009")
def test_one_record_pages_on_a_key_with_ties_cover_every_record_once(people, flow):
    pages = [page_of(flow, order_by=["age"], limit=1, offset=i) for i in range(7)]
    assert sorted(r["name"] for page in pages for r in page["records"]) == sorted(p["name"] for p in PEOPLE)
    assert pages[-1]["records"] == []


@pytest.mark.clause("QUERY-010")
def test_count(people, flow, probe):
    assert flow.node("UserCountNode", {})["count"] == probe.count("users") == len(PEOPLE)
    assert flow.node("UserCountNode", {"filter": {"age": 30}})["count"] == 2
    assert flow.node("UserCountNode", {"filter": {"score": None}})["count"] == 2
    probe.execute("DELETE FROM users WHERE age = 30")  # a write outside the implementation
    assert flow.node("UserCountNode", {"filter": {"age": 30}})["count"] == 0


@pytest.mark.clause("QUERY-011")
def test_upsert(make_dataflow, probe, flow):
    define_user(make_dataflow())
    params = {"where": {"email": "u@x.org"}, "create": {"name": "new", "age": 1}, "update": {"age": 2}}
    first = flow.node("UserUpsertNode", params)
    assert (first["created"], first["action"]) == (True, "created")
    assert (first["record"]["name"], first["record"]["age"], first["record"]["email"]) == ("new", 1, "u@x.org")
    second = flow.node("UserUpsertNode", params)
    assert (second["created"], second["action"]) == (False, "updated")
    assert second["record"]["id"] == first["record"]["id"]
    assert (second["record"]["name"], second["record"]["age"]) == ("new", 2), "upsert applied create values on update"
    rows = probe.rows("users")
    assert [(r["email"], r["name"], r["age"]) for r in rows] == [("u@x.org", "new", 2)]


@pytest.mark.clause("QUERY-011")
def test_upsert_matches_on_conflict_on_and_writes_the_matched_record(make_dataflow, probe, flow):
    define_user(make_dataflow())
    other, existing = seed_users(
        probe, flow.db, [{"name": "other", "email": "o@x.org"}, {"name": "old", "email": "u@x.org"}]
    )
    params = {
        "where": {"email": "u@x.org", "name": "other"},
        "create": {},
        "update": {"age": 5},
        "conflict_on": ["email"],
    }
    result = flow.node("UserUpsertNode", params)
    assert {r["email"]: (r["name"], r["age"]) for r in probe.rows("users")} == {
        "o@x.org": ("other", 0),
        "u@x.org": ("old", 5),
    }, "the upsert did not write the record its conflict_on key matches"
    assert result["created"] is False and result["record"]["id"] == existing["id"]


CONCURRENT_UPSERTS = 8  # of each key, all at once: on a server most look the key up before the first commits


@pytest.mark.clause("QUERY-011")
def test_concurrent_upserts_of_one_new_key_each_create_or_update(make_dataflow, probe, flow):
    """Upserts of one new key, all at once: exactly one creates the record and every other updates it (an upsert
    that finds no record and then meets the other's insert has a record to update); none fails."""
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    keys = [f"k{n}@x.org" for n in range(3)]
    calls = [
        ("UserUpsertNode", {"where": {"email": key}, "create": {"name": f"c{i}"}, "update": {"age": i}})
        for key in keys
        for i in range(CONCURRENT_UPSERTS)
    ]
    results = flow.concurrently(calls, db=db)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert not failed, f"{len(failed)} of {len(calls)} concurrent upserts failed, e.g. {failed[0]!r}"[:800]
    for index, key in enumerate(keys):
        answers = results[index * CONCURRENT_UPSERTS : (index + 1) * CONCURRENT_UPSERTS]
        created = [a["created"] for a in answers]
        assert created.count(True) == 1, f"{key}: {created.count(True)} of the upserts say they created the record"
    stored = sorted(r["email"] for r in probe.rows("users"))
    assert stored == keys, f"one record per key expected: {stored}"


@pytest.mark.clause("QUERY-014")
@pytest.mark.paths(*EXPRESS_PATHS)  # find_one is an express call
def test_find_one_returns_the_first_match_in_the_default_order(people, flow):
    assert flow.call("find_one", "User", {"age": 30})["name"] == "alice"  # alice and carol are 30; alice came first


@pytest.mark.clause("QUERY-014")
@pytest.mark.paths(*EXPRESS_PATHS)
def test_find_one_without_a_match_returns_none(people, flow):
    assert flow.call("find_one", "User", {"age": 99}) is None


@pytest.mark.clause("QUERY-012")
def test_generated_filters_match_python_model(people, flow):
    rows = [{"active": True, **p} for p in PEOPLE]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(filter_spec=FILTERS)
    def check(filter_spec):
        want = sorted(r["name"] for r in rows if matches(r, filter_spec))
        assert names(flow, filter_spec) == want, f"filter {filter_spec!r}"
        assert flow.node("UserCountNode", {"filter": filter_spec})["count"] == len(want), f"Count, {filter_spec!r}"

    check()


@pytest.mark.clause("QUERY-013")
@pytest.mark.parametrize("filter_spec", EDGE_FILTERS, ids=EDGE_IDS)
def test_list_selects_what_the_filter_means(people, flow, filter_spec):
    assert names(flow, filter_spec) == expected(filter_spec)


@pytest.mark.clause("QUERY-013", "QUERY-010")
@pytest.mark.parametrize("filter_spec", EDGE_FILTERS, ids=EDGE_IDS)
def test_count_selects_what_list_selects(people, flow, filter_spec):
    assert flow.node("UserCountNode", {"filter": filter_spec})["count"] == len(expected(filter_spec))


@pytest.mark.clause("QUERY-013")
@pytest.mark.paths(*WORKFLOW_PATHS)  # updates by filter are a node feature
@pytest.mark.parametrize("filter_spec", EDGE_FILTERS, ids=EDGE_IDS)
def test_bulk_update_selects_what_list_selects(people, flow, probe, filter_spec):
    result = flow.node("UserBulkUpdateNode", {"filter": filter_spec, "fields": {"age": 1000}})
    hit = sorted(r["name"] for r in probe.rows("users") if r["age"] == 1000)
    assert (hit, result["updated"]) == (expected(filter_spec), len(hit)), f"BulkUpdate, {filter_spec!r}"


@pytest.mark.clause("QUERY-013")
@pytest.mark.paths(*WORKFLOW_PATHS)  # deletes by filter are a node feature
@pytest.mark.parametrize("filter_spec", EDGE_FILTERS, ids=EDGE_IDS)
def test_bulk_delete_selects_what_list_selects(people, flow, probe, filter_spec):
    result = flow.node("UserBulkDeleteNode", {"filter": filter_spec})
    gone = sorted(set(p["name"] for p in PEOPLE) - {r["name"] for r in probe.rows("users")})
    assert gone == expected(filter_spec) and result["deleted"] == len(gone), f"BulkDelete, {filter_spec!r}"
