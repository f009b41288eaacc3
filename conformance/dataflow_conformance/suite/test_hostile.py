"""SAFE at scale: generated hostile values and identifiers (testing/hostile.py) through every write node,
every filter operator and every place a name goes. Zero rewrites (stored exactly as given, or refused),
zero leaks (no other row returned or changed), every refusal a clear error that names the field, and the
table unchanged after each refusal (read through the probe).

Sized by --dataflow-hostile-budget (values per test; `nox -s hostile` runs more than 10,000 per backend)
and seeded by --dataflow-chaos-seed; each test reports its figures in the conformance report.
"""

import contextlib
import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text

from ..exceptions import exception_chain
from ..testing.filtermodel import matches
from ..testing.hostile import Hostile, HostileInput, as_json, same_json, short
from .support import report_figures

FIELDS = ["label", "body", "doc", "seq"]  # what a name must never reach by another spelling
COLUMNS = "SELECT id, label, body, doc, seq FROM targets ORDER BY id"
DEEP_ENOUGH = 20_000  # the recursion limit while the probe parses JSON nested thousands deep
# Kailash's runtime walks node parameters recursively (two frames a level) and fails on documents nested
# about 450 levels deep before any DataFlow code runs: deeper ones go through the express paths only.
WORKFLOW_JSON_DEPTH = 400


def define_target(db):
    @db.model
    class Target:
        label: str
        body: str = ""
        doc: dict = {}
        seq: int = 0
        __dataflow__ = {"indexes": [{"name": "uq_targets_label", "fields": ["label"], "unique": True}]}

    return Target


@contextlib.contextmanager
def deep_parsing():
    """Documents nested thousands deep parse recursively (json, the drivers): only while the probe reads,
    when the implementation under test is idle, so its own limits are the ones users have."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, DEEP_ENOUGH))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


@pytest.fixture(autouse=True)
def no_log_records():
    """Implementations log the failures these tests provoke, hostile value included: a lone surrogate in a
    captured log record cannot travel from an xdist worker to the controller (UTF-8), and thousands of
    provoked failures would bury a real one. The tests' own reports say what went wrong."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


class OneConnection:
    """The probe's view through one connection held for the whole test: the probe's own calls each open
    a connection, and thousands of checks would spend most of their time connecting."""

    def __init__(self, conn):
        self.conn = conn

    def query(self, sql: str, **params) -> list[dict]:
        return [dict(row._mapping) for row in self.conn.execute(text(sql), params)]

    def execute(self, sql: str, **params) -> None:
        self.conn.execute(text(sql), params)


@pytest.fixture
def view(probe):
    with probe.engine.connect() as conn:  # the probe's engine autocommits: no lock outlives a statement
        yield OneConnection(conn)


@dataclass
class Tally:
    """What the hostile inputs did: counts by outcome and the problems found, each with its input."""

    outcomes: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)  # by category of input
    problems: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)

    def refusal(self, hostile: Hostile) -> None:
        self.outcomes["refused"] += 1
        self.refused[hostile.category] += 1

    def problem(self, kind: str, hostile: Hostile, where: str, detail: str) -> None:
        self.kinds[kind] += 1
        detail = detail[:300].encode("ascii", "backslashreplace").decode("ascii")  # no surrogate, no escape code
        self.problems.append(f"{kind}: {where} with {hostile.describe()}: {detail}")

    def report(self, request, **extra) -> None:
        first = {"first_problems": self.problems[:5]} if self.problems else {}
        report_figures(
            request, **extra, tried=sum(self.outcomes.values()), **dict(sorted(self.outcomes.items())),
            refused_by_category=dict(sorted(self.refused.items())), problems=len(self.problems),
            problems_by_kind=dict(sorted(self.kinds.items())), **first,
        )  # fmt: skip

    def assert_none(self, what: str) -> None:
        listed = "\n  ".join(self.problems[:25])
        more = f"\n  ... and {len(self.problems) - 25} more" if len(self.problems) > 25 else ""
        assert not self.problems, (
            f"{len(self.problems)} problems with {what} ({dict(self.outcomes)}):\n  {listed}{more}"
        )


def attempt(call):
    try:
        return call(), None
    except Exception as exc:
        return None, " <- ".join(f"{type(e).__name__}: {e}" for e in exception_chain(exc))


def names(message: str, name: str) -> bool:
    """Whether an error message names `name`: as given, or in one of the escaped spellings messages use
    (repr, ascii, JSON); a long name by its first 40 characters; the empty name by its quotes."""
    if name == "":
        return "''" in message or '""' in message
    spellings = {name, repr(name)[1:-1], ascii(name)[1:-1], _json_inner(name)}
    return any(s in message or (len(s) > 40 and s[:40] in message) for s in spellings)


def _json_inner(name: str) -> str:
    return json.dumps(name)[1:-1]


def table(view) -> list[dict]:
    """The rows as comparable values: JSON parsed (as the driver returns it, or from the stored text)."""
    with deep_parsing():
        return [{**row, "doc": as_json(row["doc"])} for row in view.query(COLUMNS)]


def same_rows(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(same_json(x[k], y[k]) if k == "doc" else x[k] == y[k] for k in x)
        for x, y in zip(a, b, strict=True)
    )


def differences(expected: list[dict], found: list[dict]) -> str:
    for x, y in zip(expected, found, strict=False):
        changed = [k for k in x if (not same_json(x[k], y.get(k)) if k == "doc" else x[k] != y.get(k))]
        if changed:
            return f"row {x['id']}: " + ", ".join(f"{k} {short(x[k])} -> {short(y.get(k))}" for k in changed)
    return f"{len(expected)} rows expected, {len(found)} found"


def prepare(make_dataflow, flow, view):
    db = make_dataflow()
    define_target(db)
    db.create_tables()
    for label in ("r0", "u"):
        flow.node("TargetCreateNode", {"label": label, "body": "plain"}, db=db)
    return db, {row["label"]: row["id"] for row in view.query(COLUMNS)}


def reset(view) -> None:
    """Back to the two arranged rows, as arranged (through the probe: independent of the writes tested)."""
    view.execute("DELETE FROM targets WHERE label NOT IN ('r0', 'u')")
    view.execute("UPDATE targets SET body = 'plain', seq = 0 WHERE label IN ('r0', 'u')")


# -- values through every write node ----------------------------------------------------------------


def writes(flow, ids, index: int, place: str, value):
    """The write operations that can carry `value` in `place` (a field) on this path:
    (name, node type, params, the rows it changes: {id or "new": expected values})."""
    plain = {"label": f"c{index}", "body": "plain"}
    found = [
        ("create", "TargetCreateNode", {**plain, place: value}, {"new": {**plain, "doc": {}, "seq": 0, place: value}}),
        (
            "bulk_create",
            "TargetBulkCreateNode",
            {"data": [{**plain, place: value}, {"label": f"d{index}", "body": "plain"}]},
            {
                "new": {**plain, "doc": {}, "seq": 0, place: value},
                "new2": {"label": f"d{index}", "body": "plain", "doc": {}, "seq": 0},
            },
        ),
    ]
    if place != "label":  # the key of the rows below stays put
        found += [
            (
                "update",
                "TargetUpdateNode",
                {"filter": {"id": ids["r0"]}, "fields": {place: value}},
                {ids["r0"]: {place: value}},
            ),
            (
                "upsert",
                "TargetUpsertNode",
                {"where": {"label": "u"}, "create": {"body": "x"}, "update": {place: value}, "conflict_on": ["label"]},
                {ids["u"]: {place: value}},
            ),
            (
                "bulk_upsert",
                "TargetBulkUpsertNode",
                {"data": [{"label": "u", place: value}], "conflict_on": ["label"]},
                {ids["u"]: {place: value}},
            ),
        ]
        if flow.runs_workflows:  # updates by filter are node features
            found.append(
                (
                    "bulk_update",
                    "TargetBulkUpdateNode",
                    {"filter": {"label": "r0"}, "fields": {place: value}},
                    {ids["r0"]: {place: value}},
                )
            )
    else:
        found.append(
            (
                "upsert",
                "TargetUpsertNode",
                {
                    "where": {"label": value},
                    "create": {"body": "plain"},
                    "update": {"seq": 1},
                    "conflict_on": ["label"],
                },
                {"new": {"label": value, "body": "plain", "doc": {}, "seq": 0}},
            )
        )
    return found


def expected_after(before: list[dict], changes: dict) -> tuple[list[dict], list[dict]]:
    """(the existing rows as they must be, the new rows that must appear)."""
    kept = [{**row, **changes.get(row["id"], {})} for row in before]
    return kept, [values for key, values in changes.items() if isinstance(key, str)]


def check_write(tally, view, flow, db, hostile, place, write):
    name, node_type, params, changes = write
    where = f"{name} of {place}"
    before = table(view)
    answer, error = attempt(lambda: flow.node(node_type, params, db=db))
    after = table(view)
    if error is not None:
        tally.refusal(hostile)
        if not same_rows(after, before):
            tally.problem("changed-on-refusal", hostile, where, differences(before, after))
        if not names(error, place):
            tally.problem("unclear-refusal", hostile, where, f"the error does not name {place!r}: {error}")
        return
    tally.outcomes["stored"] += 1
    kept, new = expected_after(before, changes)
    existing = [row for row in after if row["id"] in {r["id"] for r in before}]
    added = [{k: v for k, v in row.items() if k != "id"} for row in after if row["id"] not in {r["id"] for r in before}]
    if not same_rows(existing, kept):
        kind = "rewrite" if any(isinstance(k, int) for k in changes) else "leak"
        tally.problem(kind, hostile, where, differences(kept, existing))
    if len(added) != len(new) or not all(any(same_rows([a], [n]) for a in added) for n in new):
        tally.problem("rewrite", hostile, where, f"stored {short(added)}, written {short(new)}")
    echoed = _echo(answer, place)
    if echoed is not _ABSENT and not same_json(echoed, hostile.value):
        tally.problem("rewrite", hostile, where, f"the answer holds {short(echoed)}")


_ABSENT = object()


def _echo(answer, place):
    """The value of `place` in a node's answer, where the answer carries the record."""
    if not isinstance(answer, dict):
        return _ABSENT
    record = answer.get("record", answer)
    return record.get(place, _ABSENT) if isinstance(record, dict) and "label" in record else _ABSENT


@pytest.mark.clause("SAFE-006")
def test_hostile_values_are_stored_exactly_or_refused(request, make_dataflow, view, flow, backend):
    budget, seed = request.config.option.dataflow_hostile_budget, request.config.option.dataflow_chaos_seed
    db, ids = prepare(make_dataflow, flow, view)
    generator = HostileInput(f"{seed}:{flow.name}", identifier_limit=backend.features.identifier_limit)
    texts = generator.texts(budget - budget // 5)
    inputs = [(h, "label" if i % 3 == 0 else "body") for i, h in enumerate(texts)]
    deepest = WORKFLOW_JSON_DEPTH if flow.runs_workflows else None
    inputs += [(h, "doc") for h in generator.documents(budget // 5, deepest=deepest)]
    tally = Tally()
    for index, (hostile, place) in enumerate(inputs):
        options = writes(flow, ids, index, place, hostile.value)
        check_write(tally, view, flow, db, hostile, place, options[index % len(options)])
        reset(view)
    tally.report(request, seed=seed, values=len(inputs))
    tally.assert_none("hostile values")


# -- filter values through every operator -------------------------------------------------------------

OPERATORS = ("eq", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$like", "$not", "$or", "$and")


def filter_of(operator: str, place: str, value, other: str) -> dict:
    if operator == "eq":
        return {place: value}
    if operator in ("$in", "$nin"):
        return {place: {operator: [value, other]}}
    if operator == "$not":
        return {place: {"$not": {"$eq": value}}}
    if operator == "$or":
        return {"$or": [{place: value}, {"label": other}]}
    if operator == "$and":
        return {"$and": [{place: {"$ne": other}}, {place: {"$lte": value}}]}
    return {place: {operator: value}}


def arrange_rows(view, generator: HostileInput, count: int) -> list[dict]:
    """Rows holding hostile text, inserted through the probe. Text no backend holds as written is left out:
    NUL (PostgreSQL refuses it; SQLite's LIKE ends a value there), lone surrogates, and text longer than
    an indexed field."""
    for hostile in generator.texts(count):
        value = hostile.value
        if not isinstance(value, str) or len(value) > 255 or "\x00" in value:
            continue
        try:
            view.execute(
                "INSERT INTO targets (label, body, doc, seq, created_at, updated_at) "
                "VALUES (:label, :body, '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                label=value,
                body=value[::-1],
            )
        except Exception:  # a value this database refuses (NUL, a lone surrogate, a duplicate): not arranged
            continue
    rows = table(view)
    assert len(rows) > count // 2, f"only {len(rows)} rows could be arranged (test setup problem)"
    return rows


def filter_cases(flow, hostiles: list[Hostile]) -> list[tuple]:
    """(value, operator, field, by a write?) for each value: the operators in turn, and `$like` for every
    curated value too (patterns are where escapes matter most)."""
    cases = []
    for index, hostile in enumerate(hostiles):
        operator, place = OPERATORS[index % len(OPERATORS)], ("label", "body")[index // len(OPERATORS) % 2]
        cases.append((hostile, operator, place, flow.runs_workflows and index % 4 == 3))  # BulkUpdate: a node feature
        if hostile.category != "combined" and operator != "$like":
            cases.append((hostile, "$like", place, False))
    return cases


def check_filter(tally, view, flow, db, rows, case, other: str) -> None:
    """A List (or a BulkUpdate) by the filter returns (changes) exactly the rows Python selects, or is
    refused naming the field."""
    hostile, operator, place, by_write = case
    spec = filter_of(operator, place, hostile.value, other)
    expected = sorted(r["id"] for r in rows if _matches(r, spec))
    where = f"filter {operator} on {place}" + (" (BulkUpdate)" if by_write else " (List)")
    if by_write:
        _, error = attempt(lambda: flow.node("TargetBulkUpdateNode", {"filter": spec, "fields": {"seq": -1}}, db=db))
        found = sorted(r["id"] for r in table(view) if r["seq"] == -1)
        view.execute("UPDATE targets SET seq = 0")  # back as arranged
    else:
        answer, error = attempt(lambda: flow.node("TargetListNode", {"filter": spec}, db=db))
        found = [] if error else sorted(r["id"] for r in answer["records"])
    if error is not None:
        tally.refusal(hostile)
        if not names(error, place):
            tally.problem("unclear-refusal", hostile, where, f"the error does not name {place!r}: {error}")
        if found:
            tally.problem("changed-on-refusal", hostile, where, f"rows {found} changed")
        return
    tally.outcomes["answered"] += 1
    if found != expected:
        leaked, missed = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
        tally.problem("leak" if leaked else "missed", hostile, where, f"extra rows {leaked}, missing rows {missed}")


@pytest.mark.clause("SAFE-007")
def test_hostile_filter_values_select_exactly_the_matching_rows(request, make_dataflow, view, flow, backend):
    budget, seed = request.config.option.dataflow_hostile_budget, request.config.option.dataflow_chaos_seed
    db, _ = prepare(make_dataflow, flow, view)
    generator = HostileInput(f"{seed}:{flow.name}:filters", identifier_limit=backend.features.identifier_limit)
    rows = arrange_rows(view, HostileInput(f"{seed}:rows"), 120)
    tally = Tally()
    cases = filter_cases(flow, generator.texts(budget))
    for index, case in enumerate(cases):
        check_filter(tally, view, flow, db, rows, case, other=rows[index % len(rows)]["label"])
    tally.report(request, seed=seed, values=budget, filters=len(cases), arranged_rows=len(rows))
    tally.assert_none("hostile filter values")


def _matches(row, spec) -> bool:
    try:
        return matches(row, _literal_likes(spec))
    except TypeError:  # a comparison Python cannot make: nothing matches
        return False


def _literal_likes(spec):
    """The filter with each `$like` pattern that has no wildcard or escape written as the equality it
    means: the oracle compiles patterns to regular expressions, which takes minutes for a long text."""
    if isinstance(spec, list):
        return [_literal_likes(part) for part in spec]
    if not isinstance(spec, dict):
        return spec
    found = {}
    for key, value in spec.items():
        if key == "$like" and isinstance(value, str) and not any(c in value for c in "%_\\"):
            key = "$eq"
        found[key] = _literal_likes(value)
    return found


# -- identifiers in every place a name goes -----------------------------------------------------------


def name_places(flow, ids, name: str):
    """(place, node type, params) for every place a field name goes, on this path."""
    row = {"label": "n", "body": "b"}
    found = [
        ("filter key of List", "TargetListNode", {"filter": {name: "x"}}),
        ("filter key of Count", "TargetCountNode", {"filter": {name: "x"}}),
        ("operator of List", "TargetListNode", {"filter": {"label": {f"${name}": "x"}}}),
        ("order_by of List", "TargetListNode", {"order_by": [name]}),
        ("field of Create", "TargetCreateNode", {**row, name: "v"}),
        ("field of BulkCreate", "TargetBulkCreateNode", {"data": [row, {"label": "m", name: "v"}]}),
        (
            "field of BulkUpsert",
            "TargetBulkUpsertNode",
            {"data": [{"label": "u", name: "v"}], "conflict_on": ["label"]},
        ),
        ("where of Upsert", "TargetUpsertNode", {"where": {name: "x"}, "create": row, "update": {"seq": 1}}),
        (
            "field of Upsert",
            "TargetUpsertNode",
            {"where": {"label": "u"}, "create": row, "update": {name: "v"}, "conflict_on": ["label"]},
        ),
        (
            "conflict_on of Upsert",
            "TargetUpsertNode",
            {"where": {"label": "u"}, "create": row, "update": {"seq": 1}, "conflict_on": [name]},
        ),
        ("field of Update", "TargetUpdateNode", {"filter": {"id": ids["r0"]}, "fields": {name: "v"}}),
    ]
    if flow.runs_workflows:  # guard keys and writes by filter are node features
        found += [
            ("guard key of Update", "TargetUpdateNode", {"filter": {"id": ids["r0"], name: "x"}, "fields": {"seq": 1}}),
            ("filter key of BulkUpdate", "TargetBulkUpdateNode", {"filter": {name: "x"}, "fields": {"seq": 1}}),
            ("filter key of BulkDelete", "TargetBulkDeleteNode", {"filter": {name: "x"}}),
            ("field of BulkUpdate", "TargetBulkUpdateNode", {"filter": {"label": "r0"}, "fields": {name: "v"}}),
        ]
    return found


@pytest.mark.clause("SAFE-008")
def test_hostile_identifiers_are_refused_everywhere(request, make_dataflow, view, flow, backend):
    budget, seed = request.config.option.dataflow_hostile_budget, request.config.option.dataflow_chaos_seed
    db, ids = prepare(make_dataflow, flow, view)
    generator = HostileInput(f"{seed}:{flow.name}:names", identifier_limit=backend.features.identifier_limit)
    before = table(view)
    tally = Tally()
    for index, hostile in enumerate(generator.identifiers(budget, fields=FIELDS)):
        places = name_places(flow, ids, hostile.value)
        where, node_type, params = places[index % len(places)]
        answer, error = attempt(lambda node_type=node_type, params=params: flow.node(node_type, params, db=db))
        after = table(view)
        if error is None:
            tally.outcomes["accepted"] += 1
            tally.problem("accepted", hostile, where, f"answered {short(answer)}")
            reset(view)
            before = table(view)
            continue
        tally.refusal(hostile)
        shown = [f"${hostile.value}"] if where.startswith("operator") else [hostile.value]
        if where.startswith("order_by") and hostile.value.startswith("-"):
            shown.append(hostile.value[1:])  # "-name" sorts by "name", descending
        if not any(names(error, name) for name in shown):
            tally.problem("unclear-refusal", hostile, where, f"the error does not name it: {error}")
        if not same_rows(after, before):
            tally.problem("changed-on-refusal", hostile, where, differences(before, after))
            reset(view)
            before = table(view)
    tally.report(request, seed=seed, identifiers=budget)
    tally.assert_none("hostile identifiers")
