"""Root causes: the tests that did not pass, grouped by what broke, so that a report can say "these N
causes explain M tests", each headed by the clauses whose rule it breaks, most damaging first.

A test's cause is read from its exception. Each access path wraps an implementation's error its own way
(the kit's WorkflowFailed, Kailash's "Node 'x' reported failure: ...", an express API's "express.create
failed for model 'User': ..."); the cause is the innermost error with those wrappers peeled off and its
values masked (numbers, quoted text, addresses), so one defect seen through four paths is one cause.
Where it was raised decides its origin: inside the implementation's package (the frame is recorded, not
used to group: each path raises from its own frame), or in a conformance test (an assertion, a
DID NOT RAISE: grouped per test function, since each states its own expectation).

A cause's **rule clauses** are those it breaks: the clauses of the tests it fails, and the clauses that
block tests (an arrange step that failed because of them). Clauses whose tests are only blocked by it are
its **symptoms**. Causes are ranked most damaging first: those that break a MUST rule, then by the tests
they explain, then by the clauses they break and block.
"""

import re
import traceback
from collections import Counter, defaultdict

from ..exceptions import Blocked, cause_chain
from .outcomes import NOT_PASSED

_NAME = re.compile(r"[A-Za-z_][\w.]*")
# A failure's cause travels from a worker to the report as user properties `cause_<field>` (JUnit shows them).
FIELDS = ("error", "where", "origin", "chain")
_MASKS = [
    (re.compile(r"\x1b\[[0-9;]*m"), ""),  # terminal colours some implementations put in their messages
    (re.compile(r"\{[^{}]*\}"), "{…}"),  # a dict or set shown whole (an unexpected return value)
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    # Quoted values; a name (a key, an attribute, a field: KeyError: 'id' is not KeyError: 'name') and a
    # dict's keys (followed by ':') say what broke, and stay.
    (re.compile(r"'[^']*'(?!:)"), lambda quoted: quoted[0] if _NAME.fullmatch(quoted[0][1:-1]) else "'…'"),
    (re.compile(r'"[^"]*"(?!:)'), '"…"'),
    (re.compile(r"\b\d+(\.\d+)?\b"), "N"),
]
# How runtimes, implementations and the kit's access paths wrap an error they pass on; the text after
# one of these is the error itself.
WRAPPERS = [
    re.compile(r"^[Nn]ode '[^']*' (?:reported failure|execution failed|failed): "),  # Kailash; the kit's paths
    re.compile(r"^Unified enterprise workflow execution failed: "),  # Kailash's LocalRuntime
    re.compile(r"^express\.\w+ failed(?: for model '[^']*')?: "),  # kailash-dataflow's express API
    re.compile(r"^Database query failed: "),  # kailash-dataflow's nodes
    re.compile(r"^Bulk \w+ operation failed: "),  # kailash-dataflow's bulk nodes
]
# "SomeError: message" inside a message: the type an access path or wrapper put in front of the text.
_TYPE_PREFIX = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Z]\w*(?:Error|Exception|Failed|Failure|Violation)): ")
IMPLEMENTATION, SUITE = "implementation", "suite"


def mask(message: str) -> str:
    """The message with the values that differ from one test to the next replaced."""
    text = " ".join(message.split())[:300]
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def unwrap(type_name: str, message: str) -> tuple[str, str]:
    """The error inside the wrappers: (its type, as far as the text names it, and its message)."""
    while True:
        for pattern in WRAPPERS:
            found = pattern.match(message)
            if found:
                message = message[found.end() :]
                break
        else:
            found = _TYPE_PREFIX.match(message)
            if not found:
                return type_name, message
            type_name, message = found.group(1), message[found.end() :]


def cause_of(exc: BaseException, implementation_packages: set[str], suite_packages: set[str]) -> dict:
    """A failure's cause (see the module's docstring): error, where, origin, and the chain it came from.
    `suite_packages`: the kit's packages whose code checks (tests and their helpers)."""
    if isinstance(exc, Blocked):
        exc = exc.error
    chain = cause_chain(exc)
    innermost = chain[-1]
    type_name, message = unwrap(type(innermost).__name__, (str(innermost).strip().splitlines() or [""])[0])
    error = f"{type_name}: {mask(message)}" if message else type_name
    checked = _raised_in(innermost, suite_packages)
    if checked:
        where = _where(chain, {f"{p}.test_" for p in suite_packages}, prefix=True) or checked
    else:
        where = _where(chain, implementation_packages) or _deepest_outside(chain, ("dataflow_conformance", *_TOOLS))
    return {
        "error": error,
        "where": where or "?",
        "origin": SUITE if checked else IMPLEMENTATION,
        "chain": " <- ".join(f"{type(e).__name__}: {' '.join(str(e).split())[:300]}" for e in chain),
    }


_TOOLS = ("_pytest", "pytest", "pluggy", "threading", "concurrent", "asyncio", "contextlib")


def _raised_in(exc: BaseException, packages: set[str]) -> str | None:
    """The frame that raised `exc` when it is code of `packages` (pytest's helpers, such as pytest.raises,
    stand for the code that called them)."""
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    while frames and frames[-1].f_globals.get("__name__", "").startswith(_TOOLS):
        frames.pop()
    if not frames:
        return None
    module = frames[-1].f_globals.get("__name__", "")
    return f"{module}:{frames[-1].f_code.co_name}" if module.startswith(tuple(packages)) else None


def _deepest_outside(chain, excluded: tuple[str, ...]) -> str | None:
    """The deepest frame of the innermost exception that has one outside `excluded` (a runtime's, a driver's),
    among the frames the test called (pytest's and its plugins' frames above the test are not the cause)."""
    for exc in reversed(chain):
        frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
        modules = [frame.f_globals.get("__name__", "") for frame in frames]
        first = next((i for i, module in enumerate(modules) if module.startswith("dataflow_conformance.suite")), 0)
        called = [f for f, m in zip(frames[first:], modules[first:], strict=True) if not m.startswith(excluded)]
        if called:
            return f"{called[-1].f_globals.get('__name__', '')}:{called[-1].f_code.co_name}"
    return None


def _where(chain, packages: set[str], *, prefix: bool = False) -> str | None:
    """The deepest frame of the chain's tracebacks that runs code of one of `packages` (with `prefix`: of
    a module whose name starts so; a suite's test modules rather than its shared helpers)."""

    def ours(module: str) -> bool:
        if prefix:
            return module.startswith(tuple(packages))
        return any(module == p or module.startswith(p + ".") for p in packages)

    found = None
    for exc in reversed(chain):  # innermost first: its frames are the deepest
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            module = frame.f_globals.get("__name__", "")
            if ours(module):
                found = f"{module}:{frame.f_code.co_name}"
        if found:
            return found
    return None


def key(cause: dict) -> tuple:
    """What makes two failures one cause: the implementation's error message, whatever type a path
    wrapped it in and wherever it was raised; a conformance test's own check, per test function."""
    if cause.get("origin", IMPLEMENTATION) == IMPLEMENTATION:
        return (IMPLEMENTATION, cause["error"].partition(": ")[2] or cause["error"])
    return (SUITE, cause["where"])


def group(tests: list[dict], levels: dict[str, str] | None = None) -> list[dict]:
    """The causes of the tests that did not pass, most damaging first (see the module's docstring).
    `levels`: clause -> MUST / SHOULD."""
    levels = levels or {}
    groups: dict[tuple, dict] = defaultdict(
        lambda: {
            "tests": [],
            "rule": set(),
            "symptoms": set(),
            "outcomes": Counter(),
            "where": set(),
            "errors": Counter(),
        }
    )
    for test in tests:
        cause = test.get("cause")
        if test["outcome"] not in NOT_PASSED or not cause:
            continue
        entry = groups[key(cause)]
        entry["errors"][cause["error"]] += 1
        entry["where"].add(cause["where"])
        entry["tests"].append(test["test"])
        entry["outcomes"][test["outcome"]] += 1
        if test.get("blocked_by"):
            entry["rule"].update(test["blocked_by"].split())
            entry["symptoms"].update(test["clauses"])
        else:
            entry["rule"].update(test["clauses"])
    causes = []
    for entry in groups.values():
        rule = sorted(entry["rule"], key=lambda c: (levels.get(c) != "MUST", c))
        causes.append(
            {
                "error": entry["errors"].most_common(1)[0][0],
                "variants": len(entry["errors"]),
                "where": sorted(entry["where"])[0],
                "raised_at": sorted(entry["where"]),
                "rule_clauses": rule,
                "symptom_clauses": sorted(entry["symptoms"] - entry["rule"]),
                "clauses": sorted(entry["rule"] | entry["symptoms"]),
                "tests": len(entry["tests"]),
                "outcomes": dict(entry["outcomes"]),
                "examples": sorted(entry["tests"])[:5],
            }
        )
    return sorted(causes, key=lambda c: _damage(c, levels))


def _damage(cause: dict, levels: dict[str, str]) -> tuple:
    """Most damaging first: a cause that breaks a MUST rule before one that breaks SHOULD rules only, then
    by the tests it explains, then by the clauses it breaks and blocks."""
    must = any(levels.get(c) == "MUST" for c in cause["rule_clauses"])
    clauses = len(cause["rule_clauses"]) + len(cause["symptom_clauses"])
    return (not must, -cause["tests"], -clauses, cause["error"])
