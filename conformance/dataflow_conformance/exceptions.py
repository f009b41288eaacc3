"""The chain of an exception: what the kit reads when it judges an error message or its origin."""


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (or contexts), outermost first."""
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain
