"""The dashboard as one static HTML page (no script, no outside resource: it opens from the file system), its
Markdown twin and a shields.io endpoint badge per backend, from Jinja2 templates.

The plot is inline SVG drawn by the template from points computed here: a line per area of the passed clauses
over releases. It stays in the page itself (no image file beside it, no plotting library in the kit's
dependencies); matplotlib, which the load tests use, would add a dependency for a handful of polylines."""

import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .dashboard import BackendHistory, History, build

TEMPLATES = Path(__file__).parent / "templates"
SYMBOLS = {"passed": "✓", "failed": "✗", "blocked": "⊘", "skipped": "–", "xfailed": "x", "xpassed": "!", "": "·"}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354"]  # fmt: skip
WIDTH, HEIGHT, MARGIN = 760, 300, 40


def plot(history: BackendHistory) -> dict:
    """Polylines in SVG coordinates: x spreads the releases evenly, y is the passed clauses of the area."""
    top = max((max(counts) for counts in history.areas.values() if counts), default=0) or 1
    steps = max(len(history.versions) - 1, 1)

    def x(i):
        return MARGIN + (WIDTH - 2 * MARGIN) * i / steps

    def y(count):
        return HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) * count / top

    series = [
        {
            "area": area,
            "color": PALETTE[n % len(PALETTE)],
            "points": " ".join(f"{x(i):.1f},{y(c):.1f}" for i, c in enumerate(counts)),
            "dots": [
                (round(x(i), 1), round(y(c), 1), version, c)
                for i, (version, c) in enumerate(zip(history.versions, counts, strict=True))
            ],
            "last": counts[-1] if counts else 0,
        }
        for n, (area, counts) in enumerate(history.areas.items())
    ]
    ticks = [{"x": round(x(i), 1), "label": v} for i, v in enumerate(history.versions)]
    return {"width": WIDTH, "height": HEIGHT, "margin": MARGIN, "top": top, "series": series, "ticks": ticks,
            "y_top": y(top), "y_zero": y(0)}  # fmt: skip


def environment() -> Environment:
    autoescape = select_autoescape(enabled_extensions=("html.j2",), default_for_string=False)
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=autoescape)
    env.filters["symbol"] = lambda outcome: SYMBOLS.get(outcome, outcome)
    return env


def render(history: History) -> tuple[str, str]:
    plots = {b.name: plot(b) for b in history.backends}
    env = environment()
    from dataflow_conformance.report.provenance import stamp

    newest = {b.name: b.versions[-1] for b in history.backends if b.versions}
    context = {"history": history, "plots": plots, "symbols": SYMBOLS, "provenance": stamp(newest)}
    return env.get_template("dashboard.html.j2").render(**context), env.get_template("dashboard.md.j2").render(
        **context
    )


def files(root: Path) -> dict[Path, str]:
    """Every file the dashboard is made of (page, Markdown twin, plots, badges) and its text, from the reports
    under `root`: what `write` writes, and what a committed dashboard must equal."""
    history = build(root)
    html, markdown = render(history)
    made = {root / "index.html": html, root / "dashboard.md": markdown}
    for backend in history.backends:  # the Markdown twin shows the plot as an image (no inline SVG there)
        if backend.versions:
            svg = environment().get_template("plot.svg.j2").render(p=plot(backend), name=backend.name)
            made[root / "plots" / f"{backend.name}.svg"] = svg
    for backend in history.backends:
        made[root / "badges" / f"{backend.name}.json"] = json.dumps(backend.badge, indent=1, ensure_ascii=False) + "\n"
    return made


def write(root: Path) -> list[Path]:
    made = files(root)
    for path, text in made.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(made)
