"""A docs run (report.DocsReport) for the terminal, and as Markdown, HTML (Jinja2 templates shipped with
the kit) and JUnit XML (one test suite per page, one test case per block)."""

import xml.etree.ElementTree as ET

import jinja2

MARK = {
    "passed": "passed",
    "warned": "WARNED",
    "failed": "FAILED",
    "blocked": "blocked",
    "fragment": "fragment",
    "skipped": "skipped",
    "not-python": "not python",
}
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("dataflow_conformance.docsrun", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
TEMPLATES.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")


def totals_line(report) -> str:
    t = report.totals()
    shell = sum(1 for _, block in report.blocks() if block["language"] == "bash (run)")
    of_which = f" (of which {shell} `bash run`)" if shell else ""
    return (
        f"{_plural(t['python'], 'Python block')}{of_which} in {_plural(t['pages'], 'page')}: {t['passed']} passed, "
        f"{t['warned']} warned, {t['failed']} failed, {t['blocked']} blocked by an earlier block, "
        f"{t['fragment']} fragments, {t['skipped']} skipped; {t['not-python']} not Python"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def progress_line(done: int, total: int, page) -> str:
    counts = page.counts()
    shown = ", ".join(f"{counts[o]} {MARK[o]}" for o in MARK if counts[o] and o != "not-python")
    note = " (harness error)" if page.harness_error else (f" ({page.note})" if page.note else "")
    return f"[{done}/{total}] {page.name}: {shown or 'no Python blocks'} in {page.seconds:.1f} s{note}"


def render_text(report, verbose: bool = False) -> str:
    lines = [f"Docs run against {report.implementation} {report.version} on {report.database}", ""]
    for page in report.pages:
        lines.append(page.name + ("" if page.blocks else " (no code)"))
        for block in page.blocks:
            detail = f": {block['detail']}" if block.get("detail") else ""
            detail += f" (at {block['at']})" if block.get("at") else ""
            lines.append(f"  line {block['line']:>5}  {block['language']:<22} {MARK[block['outcome']]}{detail}")
            if verbose and block["outcome"] == "failed":
                lines += ["    " + line for line in (block.get("source") or "").splitlines()]
                lines += [
                    "    " + line for line in (block.get("traceback") or block.get("difference") or "").splitlines()
                ]
        if page.harness_error:
            lines.append("  harness error: " + page.harness_error.strip().splitlines()[-1])
    causes = report.causes()
    if causes:
        lines += [
            "",
            f"Root causes ({len(causes)}; the 10 most frequent explain {report.top_share():.0%} of the failures):",
        ]
        lines += [f"  {c['count']:>4}  {c['error']}" for c in causes[:10]]
    lines += ["", totals_line(report)]
    return "\n".join(lines) + "\n"


def _context(report) -> dict:
    return {
        "report": report,
        "totals": report.totals(),
        "totals_line": totals_line(report),
        "causes": report.causes(),
        "cascades": report.cascades()[:15],
        "top_share": report.top_share(),
        "skip_reasons": report.reasons("skipped"),
        "fragment_kinds": report.reasons("fragment"),
        "mark": MARK,
        "provenance": _stamp({report.distribution or report.implementation: report.version or ""}),
    }


def _stamp(measured: dict[str, str]) -> str:
    from ..report.provenance import stamp

    return stamp(measured)


def render_markdown(report) -> str:
    return TEMPLATES.get_template("report.md.j2").render(_context(report))


def render_html(report) -> str:
    return TEMPLATES.get_template("report.html.j2").render(_context(report))


def render_junit(report) -> str:
    """JUnit XML: a failed block is a <failure>; blocked, fragment and skipped blocks are <skipped> with
    their reason; blocks in other languages are left out."""
    t = report.totals()
    suites = ET.Element("testsuites", name=f"docs: {report.implementation} {report.version} on {report.database}")
    suites.set("tests", str(t["python"]))
    suites.set("failures", str(t["failed"]))
    for page in report.pages:
        python = [b for b in page.blocks if b["outcome"] != "not-python"]
        suite = ET.SubElement(suites, "testsuite", name=page.name, tests=str(len(python)), time=f"{page.seconds:.2f}")
        suite.set("failures", str(sum(1 for b in python if b["outcome"] == "failed")))
        suite.set("skipped", str(sum(1 for b in python if b["outcome"] in ("blocked", "fragment", "skipped"))))
        suite.set("errors", "1" if page.harness_error else "0")
        for block in python:
            case = ET.SubElement(suite, "testcase", classname=page.name, name=f"line {block['line']}")
            case.set("time", f"{block.get('seconds', 0):.3f}")
            detail = block.get("detail", "")
            if block["outcome"] == "failed":
                failure = ET.SubElement(case, "failure", message=detail[:1000])
                failure.text = block.get("traceback") or block.get("difference") or detail
            elif block["outcome"] in ("blocked", "fragment", "skipped"):
                ET.SubElement(case, "skipped", message=f"{block['outcome']}: {detail}"[:1000])
            if block.get("warnings"):
                ET.SubElement(case, "system-err").text = "\n".join(block["warnings"])
        if page.harness_error:
            ET.SubElement(suite, "error", message="harness error").text = page.harness_error
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
