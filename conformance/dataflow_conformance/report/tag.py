"""What the pack records about each conformance test: its clauses, backend and access path.

The tag travels from the process that ran the test (an xdist worker) to the one that writes the report
inside the test report's `user_properties`, one property per field, so JUnit XML shows them as they are
(`<property name="clause" value="CRUD-001"/>`).
"""

from dataclasses import dataclass

# A test may attach measured figures (operations run, faults injected, anomalies) to its report entry:
# one user property of this name whose value is a JSON object (suite/support.py: report_figures).
FIGURES_PROPERTY = "figures"
# A test the expectations file lists carries its entry: {"reason": ..., "outcomes": ["fail", ...]} as JSON.
EXPECTED_PROPERTY = "expected"
# The clauses a test's arrange steps relied on (space-separated), whatever its outcome.
ARRANGED_PROPERTY = "arranged_with"

# Expectations files and reports name the backend of a test without a backend parameter (it runs once
# and speaks for every backend of the run) with this word.
EVERY_BACKEND = "any"


@dataclass(frozen=True)
class TestTag:
    __test__ = False  # not a test class, whatever pytest's python_classes say

    suite_id: str  # the test id relative to the suite (`test_crud.py::test_delete[sqlite-local]`)
    clauses: tuple[str, ...]
    backend: str = EVERY_BACKEND  # a backend name, or EVERY_BACKEND
    path: str | None = None  # the access path (local, async, express, express_sync), if the test has one
    applicable: bool = True  # False: it applies only to backends this run does not have

    @property
    def areas(self) -> list[str]:
        return sorted({clause.split("-")[0] for clause in self.clauses})

    def properties(self) -> list[tuple[str, str]]:
        pairs = [("suite_id", self.suite_id), *[("clause", c) for c in self.clauses], ("backend", self.backend)]
        if self.path:
            pairs.append(("path", self.path))
        if not self.applicable:
            pairs.append(("applicable", "no"))
        return pairs

    @classmethod
    def from_properties(cls, properties) -> "TestTag | None":
        """The tag among a report's user_properties; None for a test that is not the pack's."""
        pairs = [(name, value) for name, value in properties if isinstance(value, str)]
        found = dict(pairs)
        if "suite_id" not in found:
            return None
        return cls(
            suite_id=found["suite_id"],
            clauses=tuple(value for name, value in pairs if name == "clause"),
            backend=found.get("backend", EVERY_BACKEND),
            path=found.get("path"),
            applicable=found.get("applicable") != "no",
        )
