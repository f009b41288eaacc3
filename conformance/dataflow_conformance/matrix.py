"""Support matrix (implementation x backend: clauses passed) from conformance reports."""

import re
from pathlib import Path

START, END = "<!-- support-matrix:start -->", "<!-- support-matrix:end -->"


def render(reports: list[dict]) -> str:
    backends = []
    for report in reports:
        backends += [b["name"] for b in report["backends"] if b["name"] not in backends]
    lines = [
        "| implementation | version | verdict | " + " | ".join(backends) + " |",
        "|---|---|---|" + "---|" * len(backends),
    ]
    for report in reports:
        impl = report["implementation"]
        cells = []
        for backend in backends:
            results = [e["results"][backend] for e in report["clauses"].values() if backend in e["results"]]
            cells.append(f"{sum(r == 'passed' for r in results)}/{len(results)}" if results else "-")
        lines.append(f"| `{impl['module']}` | {impl['version']} | {report['verdict']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Cells: clauses passed / clauses run on that backend (a clause passes when all its tests pass).")
    return "\n".join(lines)


def update(document: Path, table: str) -> bool:
    """Replace the text between the markers; returns whether the document changed."""
    text = document.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{document} has no {START} ... {END} markers")
    new = pattern.sub(lambda _: f"{START}\n{table}\n{END}", text)
    document.write_text(new, encoding="utf-8")
    return new != text
