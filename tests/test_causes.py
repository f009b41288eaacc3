"""Root causes: which exception of a chain the report names as a failure's cause."""

from dataflow_conformance.report.causes import cause_of


class WorkflowError(Exception):
    pass


def _caught(run) -> BaseException:
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - the test inspects whatever was raised
        return exc
    raise AssertionError("nothing was raised")


def _error(run) -> str:
    return cause_of(_caught(run), "no_such_implementation", "no_such_suite")[0]


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

    assert _error(execute) == "ValueError: type '…' is not supported"


def test_an_exception_raised_by_its_handler_is_caused_by_the_handled_one():
    def lookup():
        try:
            {}["missing"]
        except KeyError:
            raise WorkflowError("lookup failed")  # noqa: B904 - an implementation that forgot `from`

    assert _error(lookup) == "KeyError: '…'"


def test_a_suppressed_context_is_not_a_cause():
    def lookup():
        try:
            {}["missing"]
        except KeyError:
            raise WorkflowError("no record 7") from None

    assert _error(lookup) == "WorkflowError: no record N"
