"""The cases and checks of the SAFE tests at scale (suite/test_hostile.py): the writes, filters and names each
hostile input goes through on an access path, and what must hold after each (read through the probe:
hostile_target.py). Problems are tallied with the input that caused them, so a failure says what kind of
input it was; `Tally.figures()` is what the test reports.
"""

import json
from collections import Counter
from dataclasses import dataclass, field

from ..exceptions import exception_chain
from .filtermodel import matches
from .hostile import Hostile, same_json, short
from .hostile_target import differences, same_rows, table


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

    def figures(self, **extra) -> dict:
        """The figures the test reports (suite.support.report_figures): `extra` first, then the tally's."""
        first = {"first_problems": self.problems[:5]} if self.problems else {}
        return dict(
            **extra, tried=sum(self.outcomes.values()), **dict(sorted(self.outcomes.items())),
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
