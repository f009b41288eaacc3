"""Root causes: which exception of a chain is a failure's cause, the wrappers of each access path peeled
off, one defect seen through several paths grouped as one cause, ranked by the clauses whose rule it
breaks."""

from dataflow_conformance.exceptions import Blocked
from dataflow_conformance.report.causes import cause_of, group, mask, unwrap


class WorkflowError(Exception):
    pass


def _caught(run) -> BaseException:
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - the test inspects whatever was raised
        return exc
    raise AssertionError("nothing was raised")


def _cause(run) -> dict:
    return cause_of(_caught(run), {"no_such_implementation"}, {"no_such_suite"})


def _node_fails():
    raise ValueError("type 'decimal.Decimal' is not supported")


def test_a_failure_inside_a_long_except_block_is_not_caused_by_the_handled_exception():
    """Kailash's LocalRuntime runs the whole workflow inside `except RuntimeError:` (no running loop)."""

    def execute():
        try:
            raise RuntimeError("no running event loop")
        except RuntimeError:
            try:
                _node_fails()
            except ValueError as exc:
                raise WorkflowError("workflow execution failed") from exc

    cause = _cause(execute)
    assert cause["error"] == "ValueError: type 'decimal.Decimal' is not supported"
    assert (
        cause["chain"]
        == "WorkflowError: workflow execution failed <- ValueError: type 'decimal.Decimal' is not supported"
    )


def test_an_exception_raised_by_its_handler_is_caused_by_the_handled_one():
    def lookup():
        try:
            {}["missing"]
        except KeyError:
            raise WorkflowError("lookup failed")  # noqa: B904 - an implementation that forgot `from`

    assert _cause(lookup)["error"] == "KeyError: 'missing'"


def test_a_suppressed_context_is_not_a_cause():
    def lookup():
        try:
            {}["missing"]
        except KeyError:
            raise WorkflowError("no record 7") from None

    assert _cause(lookup)["error"] == "WorkflowError: no record N"


def test_each_paths_wrapper_is_peeled_off():
    inner = "Database query failed: Error binding parameter 1: type 'decimal.Decimal' is not supported"
    wrapped = {
        "local": ("ContentAwareExecutionError", f"Node 'node' reported failure: {inner}"),
        "async": ("WorkflowFailed", f"node 'node' failed: {inner}"),
        "express": ("RuntimeError", f"express.create failed for model 'Sample': {inner}"),
        "kit": ("WorkflowFailed", f"RuntimeExecutionError: Unified enterprise workflow execution failed: {inner}"),
    }
    found = {path: unwrap(*error)[1] for path, error in wrapped.items()}
    assert set(found.values()) == {"Error binding parameter 1: type 'decimal.Decimal' is not supported"}


def test_an_assertion_of_the_suite_is_the_tests_own_finding():
    def check():
        assert 1 == 2, "the express path does not see the latest state"

    cause = cause_of(_caught(check), {"no_such_implementation"}, {__name__.split(".")[0]})
    assert cause["origin"] == "suite" and cause["error"].startswith("AssertionError: the express path")


def _test(name, outcome, clauses, error, *, origin="implementation", where="impl:f", blocked_by=None):
    test = {
        "test": name,
        "outcome": outcome,
        "clauses": clauses,
        "cause": {"error": error, "where": where, "origin": origin},
    }
    return {**test, "blocked_by": blocked_by} if blocked_by else test


def test_one_defect_through_four_paths_is_one_cause_ranked_by_the_clause_it_breaks():
    tests = [
        _test(f"t[{path}]", "failed", ["TYPE-002"], f"{kind}: Error binding parameter N", where=f"impl:{path}")
        for path, kind in (
            ("local", "ContentAwareExecutionError"),
            ("express", "RuntimeError"),
            ("async", "WorkflowFailed"),
        )
    ]
    tests += [_test(f"q[{i}]", "blocked", ["QUERY-002"], "RuntimeError: Error binding parameter N", blocked_by="TYPE-002")
              for i in range(5)]  # fmt: skip
    tests += [
        _test("s", "failed", ["SAFE-001"], "AssertionError: assert N == N", origin="suite", where="test_safety:t")
    ]
    causes = group(tests, {"TYPE-002": "MUST", "QUERY-002": "MUST", "SAFE-001": "MUST"})
    assert len(causes) == 2
    first = causes[0]
    assert (first["tests"], first["rule_clauses"], first["symptom_clauses"]) == (8, ["TYPE-002"], ["QUERY-002"])
    assert first["raised_at"] == ["impl:async", "impl:express", "impl:f", "impl:local"] and first["variants"] == 3


def test_a_blocked_test_is_explained_by_its_blocker():
    blocked = Blocked(("TENANT-007",), ValueError("UNIQUE constraint failed: users.email"))
    cause = cause_of(blocked, {"no_such_implementation"}, {"no_such_suite"})
    assert cause["error"] == "ValueError: UNIQUE constraint failed: users.email"


def test_errors_that_name_different_keys_are_different_causes_and_quoted_values_are_masked():
    assert mask("'NoneType' object has no attribute '_pool'") == "'NoneType' object has no attribute '_pool'"
    assert mask("no user 'ann smith' with id 42") == "no user '…' with id N"
    tests = [
        _test("a", "failed", ["CRUD-001"], f"KeyError: {mask(repr(name))}", where="impl:f") for name in ("id", "name")
    ]
    tests.append(_test("b", "failed", ["CRUD-001"], f"KeyError: {mask(repr('id'))}", where="impl:g"))
    assert sorted(c["tests"] for c in group(tests)) == [1, 2]
