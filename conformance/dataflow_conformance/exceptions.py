"""The chain of an exception (what the kit reads when it judges an error message or its origin), and
blocked arrange steps: a test that cannot judge its clause because another clause failed first."""

import contextlib
import traceback


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (or contexts), outermost first."""
    return _walk(exc, lambda e: e.__cause__ or e.__context__)


def cause_chain(exc: BaseException) -> list[BaseException]:
    """The exception and what led to it, outermost first: its explicit cause (`raise ... from`), or the
    exception it was handling when the handler itself raised it. An exception that merely happened
    somewhere inside a long `except` block did not come from the handled one: Kailash's LocalRuntime
    runs a whole workflow inside `except RuntimeError:` (no running event loop), so every node failure
    carries that RuntimeError as its context."""
    return _walk(exc, _what_led_to)


def _walk(exc: BaseException | None, step) -> list[BaseException]:
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = step(exc)
    return chain


def _what_led_to(exc: BaseException) -> BaseException | None:
    if exc.__cause__ is not None:
        return exc.__cause__
    context = exc.__context__
    if context is not None and not exc.__suppress_context__ and _raised_by_handler(exc, context):
        return context
    return None


def _raised_by_handler(exc: BaseException, context: BaseException) -> bool:
    """Whether `exc` was raised in a frame that was handling `context` (not in a call made from there)."""
    raised_in = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    handling = {id(frame) for frame, _ in traceback.walk_tb(context.__traceback__)}
    return bool(raised_in) and id(raised_in[-1]) in handling


class Blocked(Exception):
    """A test's arrange step failed because of another clause's defect: the test is reported as blocked by
    that clause, not as a failure of its own (see suite/support.py: blocked_by)."""

    def __init__(self, clauses: tuple[str, ...], error: BaseException):
        self.clauses = clauses
        self.error = error
        super().__init__(f"blocked by {', '.join(clauses)}: {type(error).__name__}: {error}")


class ArrangeRecord:
    """The clauses the running test's arrange steps relied on (suite/support.py: blocked_by), so that a report
    can say, per area, which other clauses its tests need to hold before they judge anything. One test runs
    at a time in a process (xdist workers are processes): the pack resets it around every test."""

    def __init__(self):
        self.clauses: set[str] = set()


ARRANGED = ArrangeRecord()


@contextlib.contextmanager
def blocked_by(*clauses: str):
    """A step that relies on other clauses: if it fails, the test is reported as blocked by them, not as a
    failure of the clause it checks (unless it checks one of them: then it is that clause's failure). The
    report records what each test's arrange relied on."""
    ARRANGED.clauses.update(clauses)
    try:
        yield
    except Blocked as inner:  # a step inside a step: the test relies on both steps' clauses
        raise Blocked(tuple(dict.fromkeys(clauses + inner.clauses)), inner.error) from inner.error
    except Exception as exc:
        raise Blocked(clauses, exc) from exc
