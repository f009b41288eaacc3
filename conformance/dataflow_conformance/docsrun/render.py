"""Render a docs run (docsrun.DocsReport) for the terminal and as Markdown."""

OUTCOME_MARK = {"passed": "ran", "failed": "FAILED", "skipped": "skipped"}


def totals_line(report) -> str:
    t = report.totals()
    return (
        f"{_plural(t['blocks'], 'block')} in {_plural(t['documents'], 'document')}: {t['passed']} ran without "
        f"error, {t['failed']} failed, {t['skipped']} skipped"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def render_text(report) -> str:
    lines = [f"Docs run against {report.implementation} {report.version} on {report.database}", ""]
    for document in report.documents:
        lines.append(f"{document.name}" + (f" ({document.note})" if document.note else ""))
        for block in document.blocks:
            detail = f": {block.detail}" if block.detail else ""
            lines.append(f"  line {block.line:>5}  {block.language:<16} {OUTCOME_MARK[block.outcome]}{detail}")
    lines += ["", totals_line(report)]
    return "\n".join(lines) + "\n"


def render_markdown(report) -> str:
    lines = [
        f"# Docs run: {report.implementation} {report.version} on {report.database}",
        "",
        totals_line(report) + ".",
        "",
        "| document | line | block | outcome | detail |",
        "|---|---|---|---|---|",
    ]
    for document in report.documents:
        if not document.blocks:
            lines.append(f"| {document.name} | - | - | - | {document.note} |")
        for block in document.blocks:
            detail = block.detail.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {document.name} | {block.line} | {block.language} | {block.outcome} | {detail} |")
    return "\n".join(lines) + "\n"
