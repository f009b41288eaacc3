"""Render a conformance report (the JSON dict) as Markdown: the verdict, the clause table, then every
clause that did not pass with its rule and, folded, the tests that show it."""

from collections import defaultdict

from .outcomes import NOT_PASSED


def _provenance(data: dict) -> str:
    """The provenance line of the JSON it renders (report/provenance.py), so the page alone says what made it."""
    import json

    from .provenance import MARK

    kit, contract = data.get("kit", {}).get("version"), data.get("contract", {}).get("fingerprint")
    measured = {
        data["implementation"].get("distribution") or data["implementation"]["module"]: data["implementation"][
            "version"
        ]
    }
    stamp = json.dumps({"kit": kit, "contract": contract, "measured": measured}, ensure_ascii=False, sort_keys=True)
    return f"<!-- {MARK} {stamp} -->"


def render(data: dict) -> str:
    impl = data["implementation"]
    backends = [b["name"] for b in data["backends"]]
    capabilities = data.get("capabilities", {})
    lines = [
        _provenance(data),
        "",
        f"# Conformance report: {impl['module']} {impl['version']}",
        "",
        f"Verdict: **{data['verdict']}**" + ("" if data["complete"] else " (partial run: not every clause ran)"),
        f"Generated {data['generated']} by dataflow-conformance {data.get('kit', {}).get('version', '?')} on Python "
        f"{data['environment']['python']}.",
        "",
        f"Reproduce: `{data.get('command', '')}`",
        "",
        "Extended capabilities claimed: "
        + (", ".join(capabilities.get("claimed", [])) or "none")
        + "; not claimed: "
        + (", ".join(capabilities.get("not_claimed", [])) or "none")
        + ".",
        "",
        "| backend | source | server |",
        "|---|---|---|",
        *[f"| {b['name']} | {b['source']} | {b['server_version']} |" for b in data["backends"]],
        "",
        *_causes(data),
        *_areas(data),
        *_clause_table(data, backends),
        *_problems(data, backends),
        *_figures(data),
    ]
    packages = ", ".join(f"{k} {v}" for k, v in data["environment"]["packages"].items())
    lines += ["", f"Packages: {packages}", ""]
    return "\n".join(lines)


def _causes(data) -> list[str]:
    """The root causes, most damaging first: the section an implementation's maintainers read first."""
    causes = data.get("causes") or []
    if not causes:
        return []
    explained = sum(c["tests"] for c in causes)
    lines = [
        "## Root causes",
        "",
        f"{len(causes)} causes explain the {explained} tests that did not pass (failed, blocked or expected to "
        "fail), most damaging first. A cause is the innermost error, each access path's wrapper peeled off and "
        "its values masked; it *breaks* the rules of its clauses and *blocks* the tests of others.",
        "",
        "| # | tests | breaks | blocks | cause | raised at |",
        "|---|---|---|---|---|---|",
    ]
    for number, cause in enumerate(causes[:30], start=1):
        breaks = ", ".join(cause["rule_clauses"][:8]) + (" ..." if len(cause["rule_clauses"]) > 8 else "")
        blocks = ", ".join(cause["symptom_clauses"][:6]) + (" ..." if len(cause["symptom_clauses"]) > 6 else "")
        lines.append(
            f"| {number} | {cause['tests']} | {breaks} | {blocks} | {_escape(cause['error'])} | `{cause['where']}` |"
        )
    if len(causes) > 30:
        lines.append(f"| | | | | {len(causes) - 30} more in conformance-report.json | |")
    return [*lines, ""]


def _areas(data) -> list[str]:
    """Where the pack is blind on this implementation: per area, tests judged and blocked, and the clauses of
    other areas its arrange steps rely on."""
    areas = data.get("areas") or {}
    if not areas:
        return []
    lines = [
        "## Areas judged",
        "",
        "A test judges its clause when it passes or fails on its own rule; a blocked test's arrange step failed "
        "because of another clause, so it says nothing about its own.",
        "",
        "| area | tests | judged | blocked | blocked by | arrange relies on (other areas) |",
        "|---|---|---|---|---|---|",
    ]
    for area, entry in areas.items():
        blocked_by = ", ".join(f"{c} ({n})" for c, n in entry["blocked_by"].items())
        relies = ", ".join(entry["depends_on"])
        share = f"{entry['judged_share']:.0%}" if entry["judged_share"] is not None else "-"
        lines.append(
            f"| {area} | {entry['tests']} | {entry['judged']} ({share}) | {entry['blocked']} | {blocked_by} | {relies} |"
        )
    return [*lines, ""]


def _clause_table(data, backends) -> list[str]:
    lines = ["| clause | level | " + " | ".join(backends) + " |", "|---|---|" + "---|" * len(backends)]
    for clause_id, entry in data["clauses"].items():
        cells = [entry["results"].get(b, "-") for b in backends]
        lines.append(f"| [{clause_id}](#{clause_id.lower()}) | {entry['level']} | " + " | ".join(cells) + " |")
    if data.get("paths"):
        lines += ["", "Tests passed per access path: " + ", ".join(f"{k} {v}" for k, v in data["paths"].items())]
    if data.get("clauses_not_run"):
        lines += ["", "Clauses not run: " + ", ".join(data["clauses_not_run"])]
    return lines


def _problems(data, backends) -> list[str]:
    by_clause = defaultdict(list)
    for test in data["tests"]:
        if test["outcome"] in NOT_PASSED and test.get("applicable", True):
            for clause_id in test["clauses"]:
                by_clause[clause_id].append(test)
    if not by_clause:
        return []
    lines = ["", "## Clauses that did not pass", ""]
    for clause_id in sorted(by_clause, key=lambda c: (data["clauses"].get(c, {}).get("level") != "MUST", c)):
        entry = data["clauses"].get(clause_id, {})
        results = ", ".join(f"{b}: {entry.get('results', {}).get(b, '-')}" for b in backends)
        tests = by_clause[clause_id]
        lines += [
            f'### <a id="{clause_id.lower()}"></a>{clause_id} · {entry.get("level", "?")} ({results})',
            "",
            entry.get("text", ""),
            "",
            f"<details><summary>{len(tests)} test{'s' if len(tests) != 1 else ''} did not pass</summary>",
            "",
            *[
                f"- `{t['test']}` ({t['outcome']}"
                + (f" by {t['blocked_by']}" if t.get("blocked_by") else "")
                + f"): {_escape(t['message'])}"
                for t in tests
            ],
            "",
            "</details>",
            "",
        ]
    return lines


def _figures(data) -> list[str]:
    """The figures tests measured (a history checker's operations, faults and anomalies), one row each."""
    measured = [t for t in data["tests"] if t.get("figures")]
    if not measured:
        return []
    lines = ["", "## Figures", "", "| test | outcome | figures |", "|---|---|---|"]
    for test in measured:
        figures = ", ".join(f"{k}: {v}" for k, v in test["figures"].items())
        lines.append(f"| `{test['test']}` | {test['outcome']} | {_escape(figures)} |")
    return lines


def _escape(text: str) -> str:
    return (text or "").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
