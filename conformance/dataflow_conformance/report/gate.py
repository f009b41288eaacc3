"""The gate: what a run means for a CI job, and its exit status.

A run passes its gate when every test did what the expectations file says (passed, or failed as listed).
It fails with a status of its own for each way it can go wrong, so a CI script can tell them apart:

| status | meaning | what to do |
|---|---|---|
| 0 | every test as expected | nothing |
| 1 | unexpected failure: a test failed (or was blocked) that the expectations file does not list | fix the implementation, or list the test |
| 3 | harness error: the pack itself failed (pytest's internal error) | report it to the kit |
| 4 | usage error: bad options, an implementation that is no DataFlow, an invalid or stale expectations file | fix the command or the file (the message says how) |
| 5 | no clause ran: the selection (`-k`, test paths, capabilities) left nothing to judge | widen the selection |
| 6 | fixed: tests listed as failing passed (unless `--dataflow-allow-fixed`) | remove their entries (`dataflow-conformance expectations REPORT --write FILE --remove-fixed`) |

Statuses 1 to 5 are pytest's own (`pytest.ExitCode`); 6 is the kit's. When several apply, the most
severe wins: usage error, then unexpected failure, then fixed.
"""

from dataclasses import dataclass, field
from enum import IntEnum

from .expectations import FAILED_OUTCOMES


class Status(IntEnum):
    OK = 0
    UNEXPECTED_FAILURE = 1
    HARNESS_ERROR = 3
    USAGE_ERROR = 4
    NO_CLAUSE_RAN = 5
    FIXED = 6


UNEXPECTED = ("failed", "error", "blocked")  # outcomes of a test the expectations file does not list


@dataclass
class Gate:
    unexpected: list[dict] = field(default_factory=list)  # report test entries that failed unlisted
    fixed: list[dict] = field(default_factory=list)  # listed as failing, passed
    stale: list[dict] = field(default_factory=list)  # entries naming no test: {backend, test, nearest}
    known: int = 0  # listed failures that failed as listed
    allow_fixed: bool = False
    expectations: str = ""  # the file's path or bundled name ("" without one)

    @classmethod
    def judge(cls, tests: list[dict], *, stale=(), allow_fixed=False, expectations="") -> "Gate":
        applicable = [t for t in tests if t.get("applicable", True)]
        return cls(
            unexpected=[t for t in applicable if t["outcome"] in UNEXPECTED and not t.get("expected")],
            fixed=[t for t in applicable if t["outcome"] == "fixed"],
            stale=list(stale),
            known=sum(1 for t in applicable if t.get("expected") and t["outcome"] in FAILED_OUTCOMES),
            allow_fixed=allow_fixed,
            expectations=expectations,
        )

    def status(self, verdict: str) -> Status:
        if self.stale:
            return Status.USAGE_ERROR
        if self.unexpected:
            return Status.UNEXPECTED_FAILURE
        if self.fixed and not self.allow_fixed:
            return Status.FIXED
        if verdict == "none":
            return Status.NO_CLAUSE_RAN
        return Status.OK

    def headline(self, verdict: str) -> str:
        """One line: what the gate decided and why."""
        status = self.status(verdict)
        parts = [f"{len(self.unexpected)} unexpected failures", f"{len(self.fixed)} fixed", f"{self.known} known"]
        if self.stale:
            parts.append(f"{len(self.stale)} stale expectations")
        outcome = "passed" if status == Status.OK else f"failed (exit status {int(status)}: {_MEANING[status]})"
        return f"gate {outcome}: " + ", ".join(parts)

    def as_dict(self, verdict: str) -> dict:
        status = self.status(verdict)
        return {
            "status": int(status),
            "meaning": _MEANING[status],
            "expectations": self.expectations,
            "allow_fixed": self.allow_fixed,
            "unexpected": [t["test"] for t in self.unexpected],
            "fixed": [t["test"] for t in self.fixed],
            "stale": self.stale,
            "known": self.known,
        }


_MEANING = {
    Status.OK: "every test as expected",
    Status.UNEXPECTED_FAILURE: "unexpected failure",
    Status.HARNESS_ERROR: "harness error",
    Status.USAGE_ERROR: "usage error: the expectations file names tests that do not exist",
    Status.NO_CLAUSE_RAN: "no clause ran",
    Status.FIXED: "tests listed as failing passed: remove their entries",
}
