"""The security claims report: `<date>-security.md` and `.html`, one row per claim and side, rendered with the
comparisons' renderers (harness/report.py) so every report reads alike."""

import os
import platform
import time
from pathlib import Path

from harness.report import render_html, render_markdown

from .findings import DJANGO, KAILASH, Finding, claims, package

PACKAGES = ["kailash", "dataflow-conformance", "django", "django-otp", "django-ratelimit", "django-axes", "pyotp"]
NOTES = [
    "Each claim is checked on both sides against an oracle nobody here wrote: the RFCs' published vectors, "
    "Django's own behaviour, ground truth fixed by how a scenario is built, the data read back.",
    "Kailash components are used as their documentation presents them (import path in the component column); "
    "the Django side uses Django itself or the third-party package a Django user installs for what Django lacks.",
    "A component that is missing, cannot be imported, or needs a service that cannot run here is reported as not "
    "measurable here, with the import path or service, never as holding.",
    "Verdicts gate nothing: a claim that does not hold is a finding, reported with its evidence.",
]


def write_report(findings: list[Finding], out: Path, started: float, load: tuple, server: str | None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y-%m-%d', time.localtime(started))}-security"
    blocks = _blocks(findings, started, load, server)
    paths = [out / f"{stem}.md", out / f"{stem}.html"]
    measured = {p: package(p).split(" ", 1)[1] for p in PACKAGES}
    paths[0].write_text(render_markdown(blocks, measured))
    paths[1].write_text(render_html(blocks, "Security claims: Django vs Kailash SDK", measured))
    return paths


def _blocks(findings, started, load, server) -> list[tuple]:
    table = claims()
    order = {cid: n for n, cid in enumerate(table)}
    rows = []
    for f in sorted(findings, key=lambda f: (order.get(f.claim, len(order)), f.side != KAILASH)):
        claim = table.get(f.claim, {"title": f"(probe {f.claim})", "kailash": "?", "django": "?"})
        claimed = claim["kailash"] if f.side == KAILASH else claim["django"]
        rows.append(
            [
                claim["title"],
                f"{f.side}: {claimed}",
                f.component,
                f.tried,
                f.measured,
                f"{f.verdict.upper()}: {f.reason}",
            ]
        )
    counts = {}
    for f in findings:
        counts.setdefault(f.side, {}).setdefault(f.verdict, 0)
        counts[f.side][f.verdict] += 1
    summary = "; ".join(
        f"{side}: " + ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.get(side, {}).items()))
        for side in (KAILASH, DJANGO)
    )
    minutes = (time.time() - started) / 60
    return [
        ("h1", "Security claims: Django vs Kailash SDK"),
        (
            "p",
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}, {minutes:.1f} min; Python "
            f"{platform.python_version()}; PostgreSQL for the stored audit log: {server or 'not configured'}. "
            f"Load average (1 / 5 / 15 min) before {' / '.join(f'{x:.1f}' for x in load[0])}, after "
            f"{' / '.join(f'{x:.1f}' for x in load[1])} on {os.cpu_count()} cores (no claim here is a timing, "
            "except the alert latency bound).",
        ),
        ("p", f"Rows: {summary}."),
        ("h2", "Claims"),
        (
            "table",
            ["claim", "side: claimed", "component (built in / third party)", "what was tried", "measured", "verdict"],
            rows,
        ),
        ("h2", "Versions"),
        ("table", ["package", "version"], [[p, package(p).split(" ", 1)[1]] for p in PACKAGES]),
        ("h2", "Method"),
        ("ul", NOTES),
        ("p", "Reproduce: `nox -s security` (set `DFC_POSTGRESQL_URL` for the stored audit log)."),
    ]
