"""How well each contract area was judged: a test judges its clause when it passes or fails on its own
rule; a test whose arrange step failed because of another clause is blocked, and says nothing about its
own. Per area: tests run, judged, blocked (and by which clauses), and the clauses of other areas its
tests' arrange steps rely on (suite/support.py: blocked_by), so a reader sees where the pack is blind on
this implementation and what it would take to see there."""

from collections import Counter, defaultdict

from .outcomes import JUDGED


def area_of(clause: str) -> str:
    return clause.split("-")[0]


def blindness(tests: list[dict]) -> dict[str, dict]:
    """area -> {tests, judged, blocked, judged_share, blocked_by, depends_on}; skipped tests are not counted."""
    per: dict[str, dict] = defaultdict(lambda: {"tests": 0, "judged": 0, "blocked": 0, "blocked_by": Counter(),
                                                "depends_on": Counter()})  # fmt: skip
    for test in tests:
        if not test.get("applicable", True) or test["outcome"] in ("skipped", None):
            continue
        for area in sorted({area_of(c) for c in test["clauses"]}):
            entry = per[area]
            entry["tests"] += 1
            if test["outcome"] == "blocked":
                entry["blocked"] += 1
                entry["blocked_by"].update(test.get("blocked_by", "").split())
            elif test["outcome"] in JUDGED:
                entry["judged"] += 1
            relied = set(test.get("arranged_with", [])) | set(test.get("blocked_by", "").split())
            entry["depends_on"].update(c for c in relied if area_of(c) != area)
    return {
        area: {
            "tests": entry["tests"],
            "judged": entry["judged"],
            "blocked": entry["blocked"],
            "judged_share": round(entry["judged"] / entry["tests"], 3) if entry["tests"] else None,
            "blocked_by": dict(entry["blocked_by"].most_common()),
            "depends_on": dict(sorted(entry["depends_on"].items())),
        }
        for area, entry in sorted(per.items())
    }
