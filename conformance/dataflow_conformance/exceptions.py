"""The chain of an exception: what the kit reads when it judges an error message or its origin."""


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (or contexts), outermost first."""
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


class Blocked(Exception):
    """A test's arrange step failed because of another clause's defect: the test is reported as blocked by
    that clause, not as a failure of its own (see suite/support.py: blocked_by)."""

    def __init__(self, clauses: tuple[str, ...], error: BaseException):
        self.clauses = clauses
        self.error = error
        super().__init__(f"blocked by {', '.join(clauses)}: {type(error).__name__}: {error}")
