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
| 6 | fixed: tests listed as failing passed (unless `--dataflow-allow-fixed`) | remove their entries (`remove_fixed_command`) |

Statuses 1 to 5 are pytest's own (`pytest.ExitCode`; 2, interrupted, is pytest's alone: a collection error
or Ctrl-C stops the run before the gate judges it); 6 is the kit's. When several apply, the most severe
wins: usage error, then unexpected failure, then fixed. A failure of a test run beside the pack (not a
conformance test, so no expectations entry can list it) is an unexpected failure.
"""

from dataclasses import dataclass, field
from enum import IntEnum

from .outcomes import NOT_PASSED


class Status(IntEnum):
    OK = 0
    UNEXPECTED_FAILURE = 1
    INTERRUPTED = 2
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
    others_failed: int = 0  # failures of tests run beside the pack: no entry can list them
    report: str = "conformance-report.json"  # where the run writes its report (for the commands it suggests)

    @classmethod
    def judge(
        cls, tests: list[dict], *, stale=(), allow_fixed=False, expectations="", others_failed=0, report=""
    ) -> "Gate":
        applicable = [t for t in tests if t.get("applicable", True)]
        return cls(
            unexpected=[t for t in applicable if t["outcome"] in UNEXPECTED and not t.get("expected")],
            fixed=[t for t in applicable if t["outcome"] == "fixed"],
            stale=list(stale),
            known=sum(1 for t in applicable if t.get("expected") and t["outcome"] in NOT_PASSED),
            allow_fixed=allow_fixed,
            expectations=expectations,
            others_failed=others_failed,
            report=report or cls.report,
        )

    def status(self, verdict: str) -> Status:
        if self.stale:
            return Status.USAGE_ERROR
        if self.unexpected or self.others_failed:
            return Status.UNEXPECTED_FAILURE
        if self.fixed and not self.allow_fixed:
            return Status.FIXED
        if verdict == "none":
            return Status.NO_CLAUSE_RAN
        return Status.OK

    def final(self, verdict: str, exit_status: int | None) -> Status:
        """The run's status: the gate's, unless pytest's own (interrupted, a usage error) overrode it."""
        if exit_status is None or exit_status not in {int(s) for s in Status}:
            return self.status(verdict)
        return Status(exit_status)

    def headline(self, verdict: str, exit_status: int | None = None) -> str:
        """One line: what the gate decided and why."""
        status = self.final(verdict, exit_status)
        parts = [f"{len(self.unexpected)} unexpected failures", f"{len(self.fixed)} fixed", f"{self.known} known"]
        if self.stale:
            parts.append(f"{len(self.stale)} stale expectations")
        if self.others_failed:
            parts.append(f"{self.others_failed} failures of tests run beside the pack")
        outcome = "passed" if status == Status.OK else f"failed (exit status {int(status)}: {_MEANING[status]})"
        return f"gate {outcome}: " + ", ".join(parts)

    def as_dict(self, verdict: str, exit_status: int | None = None) -> dict:
        status = self.final(verdict, exit_status)
        return {
            "status": int(status),
            "meaning": _MEANING[status],
            "expectations": self.expectations,
            "allow_fixed": self.allow_fixed,
            "unexpected": [t["test"] for t in self.unexpected],
            "fixed": [t["test"] for t in self.fixed],
            "stale": self.stale,
            "known": self.known,
            "others_failed": self.others_failed,
            "remove_fixed": remove_fixed_command(self.report, self.expectations) if self.fixed else "",
        }


_MEANING = {
    Status.OK: "every test as expected",
    Status.UNEXPECTED_FAILURE: "unexpected failure",
    Status.INTERRUPTED: "interrupted: a collection error or Ctrl-C stopped the run",
    Status.HARNESS_ERROR: "harness error",
    Status.USAGE_ERROR: "usage error: bad options, a module that is no DataFlow, an invalid or stale expectations file",
    Status.NO_CLAUSE_RAN: "no clause ran",
    Status.FIXED: "tests listed as failing passed: remove their entries",
}


def remove_fixed_command(report: str, expectations: str) -> str:
    """How to remove the entries of fixed tests: the command on the user's file; for a file the kit bundles
    (named, not a path), the kit's own session, since an installed kit's copy is not the user's to edit."""
    if expectations and not expectations.endswith(".toml") and "/" not in expectations:
        return f"the bundled expectations `{expectations}` are the kit's: `nox -s expectations` in its checkout"
    return f"`dataflow-conformance expectations {report} --write {expectations or 'FILE'} --remove-fixed`"
