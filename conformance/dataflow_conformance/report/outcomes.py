"""The outcomes a report gives a test, grouped once for every reader of a report (gate, diff, causes, Markdown,
summary, areas, expectations)."""

PASSED = ("passed", "fixed")  # fixed: passed while an expectations file listed it as failing
FAILED = ("failed", "error", "xfailed")  # the implementation showed a defect (xfailed: one the expectations list)
BLOCKED = ("blocked",)  # not judged: a capability it needs failed in another test
NOT_PASSED = (*FAILED, *BLOCKED)
JUDGED = (*PASSED, *FAILED)  # the test ran to a verdict on the implementation
