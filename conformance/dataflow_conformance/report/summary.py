"""A pull-request-sized summary of a conformance report (the GitHub job summary, a PR comment): the gate's
decision and why, the verdict per backend, what changed against the expectations file, the clauses that
failed with their rules, the top causes, and where the full report is. Its size is capped: GitHub drops a
step summary over 1 MiB, and a reader stops long before; lists are cut (saying how many more the report
holds) until it fits."""

from collections import Counter

import jinja2

from .gate import Status
from .outcomes import NOT_PASSED

DEFAULT_MAX_BYTES = 64 * 1024
_LIMITS = (30, 15, 8, 4, 2, 0)  # entries per list, tried in order until the summary fits
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("dataflow_conformance.report", "templates"),
    autoescape=False,  # Markdown, not HTML; table cells are escaped by the `cell` filter
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_TEMPLATES.filters["cell"] = lambda text: " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def render(report: dict, *, artifact: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The summary as Markdown, at most `max_bytes` bytes of UTF-8."""
    template = _TEMPLATES.get_template("summary.md.j2")
    context = _context(report, artifact)
    for limit in _LIMITS:
        text = template.render(**context, limit=limit)
        if len(text.encode("utf-8")) <= max_bytes:
            return text
    raise ValueError(f"the summary does not fit in {max_bytes} bytes even with every list cut")


def _context(report: dict, artifact: str | None) -> dict:
    gate = report.get("gate") or {"status": None, "unexpected": [], "fixed": [], "stale": [], "known": 0}
    tests = {t["test"]: t for t in report["tests"]}
    backends = [b["name"] for b in report["backends"]]
    clauses = report["clauses"]
    return {
        "impl": report["implementation"],
        "verdict": report["verdict"],
        "complete": report.get("complete", True),
        "kit": report.get("kit", {}).get("version", "?"),
        "python": report.get("environment", {}).get("python", "?"),
        "backends": report["backends"],
        "backend_rows": _backend_rows(report, backends),
        "gate": gate,
        "gate_passed": gate.get("status") == Status.OK,
        "unexpected": [tests[t] for t in gate["unexpected"] if t in tests],
        "fixed": [tests[t] for t in gate["fixed"] if t in tests],
        "failed_clauses": _failed_clauses(clauses, backends),
        "causes": report.get("causes", []),
        "clauses": clauses,
        "artifact": artifact,
        "command": report.get("command", ""),
    }


def _backend_rows(report: dict, backends: list[str]) -> list[dict]:
    rows = []
    for backend in backends:
        results = [e["results"][backend] for e in report["clauses"].values() if backend in e["results"]]
        ran = [r for r in results if r != "skipped"]
        outcomes = Counter(
            t["outcome"] for t in report["tests"] if t.get("applicable", True) and t["backend"] in (backend, "any")
        )
        rows.append(
            {
                "name": backend,
                "clauses": f"{sum(r == 'passed' for r in ran)}/{len(ran)}",
                "passed": outcomes["passed"] + outcomes["fixed"],
                "failed": outcomes["failed"] + outcomes["error"],
                "blocked": outcomes["blocked"],
                "known": outcomes["xfailed"],
            }
        )
    return rows


def _failed_clauses(clauses: dict, backends: list[str]) -> list[dict]:
    failed = []
    for clause_id, entry in clauses.items():
        where = [b for b in backends if entry["results"].get(b) in NOT_PASSED]
        if where:
            failed.append({"id": clause_id, "level": entry["level"], "text": entry["text"], "backends": where})
    return sorted(failed, key=lambda c: (c["level"] != "MUST", c["id"]))
