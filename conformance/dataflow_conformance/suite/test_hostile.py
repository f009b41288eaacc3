"""SAFE at scale: generated hostile values and identifiers (testing/hostile.py) through every write node,
every filter operator and every place a name goes. Zero rewrites (stored exactly as given, or refused),
zero leaks (no other row returned or changed), every refusal a clear error that names the field, and the
table unchanged after each refusal (read through the probe).

Sized by --dataflow-hostile-budget (values per test; `nox -s hostile` runs more than 10,000 per backend)
and seeded by --dataflow-chaos-seed; each test reports its figures in the conformance report.
"""

import logging

import pytest

from ..testing.hostile import HostileInput, short
from ..testing.hostile_checks import Tally, attempt, check_filter, check_write, filter_cases, name_places, names, writes
from ..testing.hostile_target import (
    FIELDS,
    WORKFLOW_JSON_DEPTH,
    OneConnection,
    arrange_rows,
    differences,
    prepare,
    reset,
    same_rows,
    table,
)
from .support import report_figures


@pytest.fixture(autouse=True)
def no_log_records():
    """Implementations log the failures these tests provoke, hostile value included: a lone surrogate in a
    captured log record cannot travel from an xdist worker to the controller (UTF-8), and thousands of
    provoked failures would bury a real one. The tests' own reports say what went wrong."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture
def view(probe):
    with probe.engine.connect() as conn:  # the probe's engine autocommits: no lock outlives a statement
        yield OneConnection(conn)


@pytest.fixture
def budget_and_seed(request):
    """Values per test (--dataflow-hostile-budget) and the seed of the inputs (--dataflow-chaos-seed)."""
    return request.config.option.dataflow_hostile_budget, request.config.option.dataflow_chaos_seed


def generator(seed, flow, backend, purpose: str = "") -> HostileInput:
    """The hostile inputs of one test and access path (names no longer than the backend keeps)."""
    return HostileInput(f"{seed}:{flow.name}{purpose}", identifier_limit=backend.features.identifier_limit)


@pytest.mark.clause("SAFE-006")
def test_hostile_values_are_stored_exactly_or_refused(request, make_dataflow, view, flow, backend, budget_and_seed):
    budget, seed = budget_and_seed
    db, ids = prepare(make_dataflow, flow, view)
    hostile_input = generator(seed, flow, backend)
    texts = hostile_input.texts(budget - budget // 5)
    inputs = [(h, "label" if i % 3 == 0 else "body") for i, h in enumerate(texts)]
    deepest = WORKFLOW_JSON_DEPTH if flow.runs_workflows else None
    inputs += [(h, "doc") for h in hostile_input.documents(budget // 5, deepest=deepest)]
    tally = Tally()
    for index, (hostile, place) in enumerate(inputs):
        options = writes(flow, ids, index, place, hostile.value)
        check_write(tally, view, flow, db, hostile, place, options[index % len(options)])
        reset(view)
    report_figures(request, **tally.figures(seed=seed, values=len(inputs)))
    tally.assert_none("hostile values")


@pytest.mark.clause("SAFE-007")
def test_hostile_filter_values_select_exactly_the_matching_rows(
    request, make_dataflow, view, flow, backend, budget_and_seed
):
    budget, seed = budget_and_seed
    db, _ = prepare(make_dataflow, flow, view)
    rows = arrange_rows(view, HostileInput(f"{seed}:rows"), 120)
    tally = Tally()
    cases = filter_cases(flow, generator(seed, flow, backend, ":filters").texts(budget))
    for index, case in enumerate(cases):
        check_filter(tally, view, flow, db, rows, case, other=rows[index % len(rows)]["label"])
    report_figures(request, **tally.figures(seed=seed, values=budget, filters=len(cases), arranged_rows=len(rows)))
    tally.assert_none("hostile filter values")


@pytest.mark.clause("SAFE-008")
def test_hostile_identifiers_are_refused_everywhere(request, make_dataflow, view, flow, backend, budget_and_seed):
    budget, seed = budget_and_seed
    db, ids = prepare(make_dataflow, flow, view)
    before = table(view)
    tally = Tally()
    for index, hostile in enumerate(generator(seed, flow, backend, ":names").identifiers(budget, fields=FIELDS)):
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
    report_figures(request, **tally.figures(seed=seed, identifiers=budget))
    tally.assert_none("hostile identifiers")
