"""Root causes: failures grouped by what raised them, so a report can say "these N causes explain M of
the failing tests", most damaging first.

A failure's cause is its innermost exception (the one the implementation raised, under the runtime's
wrappers), its message with the values masked (numbers, quoted text, addresses), and where it was raised:
the deepest frame inside the implementation's package, else the conformance test's own line (an assertion).
"""

import re
import traceback
from collections import defaultdict

from ..exceptions import Blocked, cause_chain

_MASKS = [
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"'[^']*'(?!:)"), "'…'"),  # quoted values; a dict's keys (followed by ':') say what it holds
    (re.compile(r'"[^"]*"(?!:)'), '"…"'),
    (re.compile(r"\b\d+(\.\d+)?\b"), "N"),
]
FAILED = ("failed", "error", "blocked", "xfailed")


def mask(message: str) -> str:
    """The message with the values that differ from one test to the next replaced."""
    text = " ".join(message.split())[:300]
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def cause_of(exc: BaseException, implementation_package: str, suite_package: str) -> tuple[str, str]:
    """(error, where) of a failure: see the module's docstring."""
    if isinstance(exc, Blocked):
        exc = exc.error
    chain = cause_chain(exc)
    innermost = chain[-1]
    first_line = (str(innermost).strip().splitlines() or [""])[0]
    error = f"{type(innermost).__name__}: {mask(first_line)}" if first_line else type(innermost).__name__
    where = _where(chain, implementation_package) or _where(chain, f"{suite_package}.test_", prefix=True)
    return error, where or _where(chain, suite_package) or "?"


def _where(chain, package: str, *, prefix: bool = False) -> str | None:
    """The deepest frame of the chain's tracebacks that runs code of `package` (with `prefix`: of a module
    whose name starts so; a suite's test modules rather than its shared helpers)."""
    found = None
    for exc in reversed(chain):  # innermost first: its frames are the deepest
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            module = frame.f_globals.get("__name__", "")
            if module.startswith(package) if prefix else module == package or module.startswith(package + "."):
                found = f"{module}:{frame.f_code.co_name}"
        if found:
            return found
    return None


def group(tests: list[dict]) -> list[dict]:
    """The causes of the tests that did not pass, most damaging first (clauses broken, then tests)."""
    groups: dict[tuple, dict] = defaultdict(lambda: {"tests": [], "clauses": set(), "outcomes": defaultdict(int)})
    for test in tests:
        if test["outcome"] not in FAILED or not test.get("cause"):
            continue
        key = (test["cause"]["error"], test["cause"]["where"])
        entry = groups[key]
        entry["tests"].append(test["test"])
        entry["clauses"].update(test["clauses"])
        entry["outcomes"][test["outcome"]] += 1
    causes = [
        {
            "error": error,
            "where": where,
            "tests": len(entry["tests"]),
            "clauses": sorted(entry["clauses"]),
            "outcomes": dict(entry["outcomes"]),
            "examples": sorted(entry["tests"])[:5],
        }
        for (error, where), entry in groups.items()
    ]
    return sorted(causes, key=lambda c: (-len(c["clauses"]), -c["tests"], c["error"]))
