"""Support matrix from conformance reports: implementation x backend (the README's table) and
implementation x backend x area (docs/support-matrix.md). Generated, never written by hand."""

from pathlib import Path

from . import marked

START, END = "<!-- support-matrix:start -->", "<!-- support-matrix:end -->"


class MatrixError(Exception):
    pass


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
    """Replace the matrix between the markers; returns whether the document changed."""
    try:
        return marked.update(document, START, END, table)
    except marked.MarkedRegionError as exc:
        raise MatrixError(str(exc)) from None


def render_page(reports: list[dict], sources: list[str], page: str) -> str:
    """The support matrix page: the summary table, clauses passed per area, and where the numbers come from."""
    areas = list(dict.fromkeys(e["area"] for report in reports for e in report["clauses"].values()))
    lines = [
        "# Support matrix",
        "",
        f"Generated from the committed conformance reports by `dataflow-conformance matrix {' '.join(sources)} "
        f"--page {page}` (`nox -s reports` runs it); do not edit it by hand.",
        "",
        "## Summary",
        "",
        render(reports),
        "",
        "## By area",
        "",
        "Clauses passed / clauses run, per contract area (one page of `docs/contract/` each); "
        "a SHOULD clause whose capability the implementation does not declare counts as skipped.",
        "",
        "| implementation | backend | " + " | ".join(areas) + " |",
        "|---|---|" + "---|" * len(areas),
    ]
    for report in reports:
        impl = report["implementation"]
        for backend in [b["name"] for b in report["backends"]]:
            cells = [_area_cell(report, area, backend) for area in areas]
            lines.append(f"| `{impl['module']}` {impl['version']} | {backend} | " + " | ".join(cells) + " |")
    lines += ["", "## Reports", ""]
    for report, source in zip(reports, sources, strict=True):
        impl = report["implementation"]
        servers = "; ".join(f"{b['name']} {b['server_version'].split(' on ')[0]}" for b in report["backends"])
        lines.append(
            f"- `{source}`: `{impl['module']}` {impl['version']}, verdict **{report['verdict']}**, "
            f"generated {report['generated']} (Python {report['environment']['python']}; {servers})"
        )
    return "\n".join(lines) + "\n"


def _area_cell(report: dict, area: str, backend: str) -> str:
    results = [
        e["results"][backend] for e in report["clauses"].values() if e["area"] == area and backend in e["results"]
    ]
    if not results:
        return "-"
    skipped = sum(r == "skipped" for r in results)
    cell = f"{sum(r == 'passed' for r in results)}/{len(results) - skipped}"
    return cell + (f" ({skipped} skipped)" if skipped else "")
