"""The extended-profile capabilities: the declared vocabulary an implementation claims from.

Each SHOULD clause of the contract is gated by one of these; MUST clauses are never gated. An
implementation declares what it claims in its module (`CONFORMANCE_CAPABILITIES = {...}`), or a run
claims more with `--dataflow-capability NAME`. The clause registry names the same set (a self-test keeps
the two equal), and a name outside it is refused with the close matches.
"""

import difflib

EXPRESS_IN_TRANSACTION = "express_in_transaction"
"""An express call given `transaction_id=` of an open transaction scope runs inside it (TXN-010)."""

ROW_LEVEL_SECURITY = "row_level_security"
"""The database itself enforces tenant isolation (PostgreSQL row-level security), so a bug in query
building cannot leak another tenant's rows (TENANT-008)."""

STATEMENT_TIMEOUT = "statement_timeout"
"""`DataFlow(..., statement_timeout=N)`: an operation whose server does not answer within N seconds fails
with an error saying so, and the instance stays usable (FAULT-005)."""

CAPABILITIES = (EXPRESS_IN_TRANSACTION, ROW_LEVEL_SECURITY, STATEMENT_TIMEOUT)


class UnknownCapability(ValueError):
    pass


def check(names, *, where: str) -> set[str]:
    """The names as a set, or UnknownCapability naming each unknown one and its close matches."""
    unknown = sorted(set(names) - set(CAPABILITIES))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, CAPABILITIES, n=2)
            hints.append(f"{name!r}" + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""))
        raise UnknownCapability(f"{where}: unknown capability {', '.join(hints)}; known: {', '.join(CAPABILITIES)}")
    return set(names)
