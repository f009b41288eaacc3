"""A short summary of docs runs for a README: the figures of each report side by side and the most common
root causes, between `<!-- docs-summary:start -->` and `<!-- docs-summary:end -->` (generated from the
reports' JSON by `dataflow-conformance docs-summary`, never written by hand)."""

import json
import os
from pathlib import Path

from ..report import marked
from .render import TEMPLATES

START, END = "<!-- docs-summary:start -->", "<!-- docs-summary:end -->"
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL"}


class SummaryError(Exception):
    pass


def read(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path}: not a docs report: {exc}") from None
    if not isinstance(report, dict) or not {"totals", "causes", "database"} <= set(report):
        raise SummaryError(f"{path}: not a docs report (the JSON `dataflow-conformance docs --report` writes)")
    return report


def render(paths: list[Path], relative_to: Path, top: int = 10) -> str:
    """The summary of the reports at `paths`, with links relative to the folder of the page it goes into."""
    runs = []
    for path in paths:
        report = read(path)
        page = path.with_name("docs-report.md")
        link = Path(os.path.relpath(page if page.exists() else path, relative_to)).as_posix()
        runs.append({"report": report, "label": LABELS.get(report["database"], report["database"]), "link": link})
    text = TEMPLATES.get_template("summary.md.j2").render(runs=runs, top=top)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def update(document: Path, summary: str) -> bool:
    """Replace the summary between the markers; returns whether the document changed."""
    try:
        return marked.update(document, START, END, summary)
    except marked.MarkedRegionError as exc:
        raise SummaryError(str(exc)) from None
