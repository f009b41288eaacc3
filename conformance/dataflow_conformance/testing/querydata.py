"""The data of the QUERY tests (suite/test_query.py): six users whose values meet every edge of the
filter semantics (NULLs, case, ties, escapes) and the orders they sort in; filters whose SQL reading differs
from the contract's; a Hypothesis generator of random filters over the users' fields; and instants, dates
and decimals whose order differs from their text's. `expected` is the Python model's answer, `names` and `ordered` what a List node answers."""

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

from .filtermodel import matches

PEOPLE = [
    {"name": "alice", "email": "alice@x.org", "age": 30, "score": 1.5, "nickname": "Al"},
    {"name": "Alice", "email": "alice2@x.org", "age": 25, "score": None, "nickname": None},
    {"name": "bob", "email": "bob@x.org", "age": 35, "score": 2.5, "nickname": "B_b", "active": False},
    {"name": "carol", "email": "carol@x.org", "age": 30, "score": -1.0, "nickname": "100%"},
    {"name": "dave", "email": "dave@x.org", "age": 0, "score": None, "nickname": None, "active": False},
    {"name": "eve", "email": "eve@x.org", "age": 41, "score": 0.0, "nickname": "e"},
]


def expected(filter_spec):
    return sorted(p["name"] for p in PEOPLE if matches({"active": True, **p}, filter_spec))


def names(flow, filter_spec, **extra):
    """The names of the users a List with this filter returns, sorted."""
    result = flow.node("UserListNode", {"filter": filter_spec, "limit": 100, **extra})
    return sorted(record["name"] for record in result["records"])


def ordered(flow, order_by):
    """The names of every user in the order a List with this order_by returns them."""
    return [r["name"] for r in flow.node("UserListNode", {"order_by": order_by, "limit": 100})["records"]]


def _zone(hours, minutes=0):
    return dt.timezone(dt.timedelta(hours=hours, minutes=minutes))


# Instants in three offsets (their wall-clock order differs from their real order), dates, and
# decimals that a float would not tell apart (28 significant digits).
MOMENTS = [
    dt.datetime(2024, 3, 1, 10, 0, tzinfo=_zone(5, 30)),  # 04:30 UTC
    dt.datetime(2024, 3, 1, 1, 0, tzinfo=_zone(-8)),  # 09:00 UTC
    dt.datetime(2024, 3, 1, 6, 0, 0, 1, tzinfo=dt.timezone.utc),
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
]
DAYS = [dt.date(2024, 2, 29), dt.date(2023, 12, 31), dt.date(2024, 3, 1), dt.date(1999, 1, 1)]
AMOUNTS = [  # the widest values (20 integer and 10 fractional digits), one unit apart in the last digit
    Decimal("12345678901234567890.1234567892"),
    Decimal("12345678901234567890.1234567891"),
    Decimal("-0.5"),
    Decimal("9"),
]


# order_by -> names in that order. One key works on every path; ties keep ascending id order (QUERY-008).
SINGLE_KEY_ORDERS = {
    "ascending-ties-by-id": (["age"], ["dave", "Alice", "alice", "carol", "bob", "eve"]),
    "descending-ties-by-id": (["-age"], ["eve", "bob", "alice", "carol", "Alice", "dave"]),
    "dict-form": ([{"age": -1}], ["eve", "bob", "alice", "carol", "Alice", "dave"]),
    # NULL sorts before every value ascending (after every value descending), on every backend.
    "nulls-first-ascending": (["score"], ["Alice", "dave", "carol", "eve", "alice", "bob"]),
    "nulls-last-descending": (["-score"], ["bob", "alice", "eve", "carol", "Alice", "dave"]),
    "text-byte-order": (["name"], ["Alice", "alice", "bob", "carol", "dave", "eve"]),
}
# Several keys: a node feature (the express API orders by one field).
MULTI_KEY_ORDERS = {
    "descending-then-ascending": (["-age", "name"], ["eve", "bob", "alice", "carol", "Alice", "dave"]),
    "dict-form": ([{"age": -1}, {"name": 1}], ["eve", "bob", "alice", "carol", "Alice", "dave"]),
    "ascending-then-descending": (["age", "-name"], ["dave", "Alice", "carol", "alice", "bob", "eve"]),
    "nulls-then-id": (["score", "id"], ["Alice", "dave", "carol", "eve", "alice", "bob"]),
}


# Filters where SQL's own semantics differ from the contract's (NULL, empty lists, negation,
# escapes): each filtering node must select exactly what List selects.
EDGE_FILTERS = [
    {"nickname": {"$ne": "Al"}},
    {"score": {"$nin": [1.5, 2.5]}},
    {"name": {"$nin": ["alice", None]}},
    {"age": {"$in": []}},
    {"age": {"$nin": []}},
    {"$not": {"score": {"$gt": 0.0}}},
    {"age": {"$not": {"$in": [30, 35]}}},
    {"nickname": None},
    {"score": {"$exists": False}},
    {"nickname": {"$like": "100\\%"}},
    {"$or": [{"age": 25}, {"nickname": {"$ne": "e"}, "age": {"$gte": 41}}]},
]


EDGE_IDS = [str(list(spec.items())[0][1])[:30] for spec in EDGE_FILTERS]


_FIELD_VALUES = {
    "age": st.sampled_from([0, 25, 30, 35, 41, 99]),
    "name": st.sampled_from(["alice", "Alice", "bob", "zed", "a"]),
    "score": st.sampled_from([None, -1.0, 0.0, 1.5, 2.5]),
    "nickname": st.sampled_from([None, "Al", "e", "100%"]),
    "active": st.booleans(),
}


def _leaf():
    def comparison(field):
        values = _FIELD_VALUES[field]
        plain = values.filter(lambda v: v is not None)
        ops = [
            values.map(lambda v: v),
            values.map(lambda v: {"$eq": v}),
            values.map(lambda v: {"$ne": v}),
            st.lists(values, max_size=3).map(lambda vs: {"$in": vs}),
            st.lists(values, max_size=3).map(lambda vs: {"$nin": vs}),
            st.booleans().map(lambda b: {"$exists": b}),
        ]
        if field != "active":
            ops += [st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), plain).map(lambda t: {t[0]: t[1]})]
        if field in ("name", "nickname"):
            ops += [st.sampled_from(["a%", "%e", "_ob", "%l%", "A%", "%"]).map(lambda p: {"$like": p})]
        return st.one_of(ops).map(lambda cond: {field: cond})

    return st.sampled_from(sorted(_FIELD_VALUES)).flatmap(comparison)


FILTERS = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda parts: {"$and": parts}),
        st.lists(children, min_size=1, max_size=3).map(lambda parts: {"$or": parts}),
        children.map(lambda part: {"$not": part}),
    ),
    max_leaves=5,
)
