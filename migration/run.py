"""`python -m migration run`: on every configured backend (SQLite, DFC_POSTGRESQL_URL, DFC_MYSQL_URL), seed a
Django source, migrate it into each DataFlow implementation twice (the second run must change nothing), and
verify. Prints one line per backend and implementation; exit 1 when the reference fails anywhere."""

import importlib.util
import os
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness.databases import configured_backends, scratch_database
from harness.report import render_markdown

from .django_calls import django, seed_source
from .migrate import migrate
from .verify import verify

REFERENCE = "dataflow_reference"
PREFIXES = {"dataflow_reference": "dfm_ref", "dataflow": "dfm_pub"}  # each implementation its own tables
DISTRIBUTIONS = {"dataflow_reference": "dataflow-conformance", "dataflow": "kailash-dataflow"}


def run_all(modules: list[str], users: int, markdown: Path | None) -> int:
    rows, failed = [], False
    started, load = time.time(), os.getloadavg()
    for backend in configured_backends(None):
        with tempfile.TemporaryDirectory() as scratch, scratch_database(backend, Path(scratch)) as database:
            seed_source(database.url, users)
            answers = django(database.url)
            for module in modules:
                row = [backend, database.server_version.split(" on ")[0].split(", compiled")[0], _label(module)]
                row += _one(database.url, module, answers)
                failed |= module == REFERENCE and row[-1] != "passes"
                rows.append(row)
                print(" | ".join(row), flush=True)
    header = ["backend", "server", "implementation", "migrate", "second run", "verify", "time", "verdict"]
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        intro = (
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}: the load tests' Django project seeded with "
            f"{users} users (plus a superuser, an inactive user, direct grants and one user per password hash "
            "format), migrated into each implementation, migrated again, then verified (row counts, per-table "
            "checksums, Django's has_perm against the DataFlow permission check for every user and permission). "
            f"Load average before: {' / '.join(f'{x:.1f}' for x in load)} on {os.cpu_count()} cores. "
            "Reproduce: `nox -s migration`."
        )
        blocks = [("h1", "Migration: Django contrib.auth to DataFlow"), ("p", intro), ("table", header, rows)]
        from harness.environment import versions

        markdown.write_text(render_markdown(blocks, versions(["kailash", "kailash-dataflow", "django"])))
    return 1 if failed else 0


def _one(url: str, module: str, answers: dict) -> list[str]:
    if importlib.util.find_spec(module) is None:
        return ["—", "—", "—", "—", f"not installed (import {module})"]
    prefix = PREFIXES.get(module, f"dfm_{module.replace('.', '_')}")
    started = time.monotonic()
    try:
        first = migrate(url, module, url, prefix, log=lambda *a, **k: None)
        second = migrate(url, module, url, prefix, log=lambda *a, **k: None)
        report = verify(url, module, url, prefix, answers)
    except Exception as exc:  # an implementation that cannot run the migration is a result to report
        return ["failed", "—", "—", f"{time.monotonic() - started:.1f} s", f"fails: {type(exc).__name__}: {exc}"[:400]]
    inserted = sum(r.inserted for r in first.values())
    changed = sum(r.inserted + len(r.updated) for r in second.values())
    checked = f"{sum(t.source_count for t in report.tables)} rows, {report.pairs} has_perm pairs"
    verdict = "passes" if report.ok and changed == 0 else "fails: " + "; ".join(report.failures())[:700]
    if changed:
        verdict += f"; the second run wrote {changed} rows"
    return [f"{inserted} rows", f"{changed} rows written", checked, f"{time.monotonic() - started:.1f} s", verdict]


def _label(module: str) -> str:
    try:
        return f"{module} {version(DISTRIBUTIONS.get(module, module))}"
    except PackageNotFoundError:
        return module
