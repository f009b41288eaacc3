"""`dataflow-conformance` command line: tools around the pack's reports, and the docs runner.

Tables and reports go to stdout; status lines ("wrote ...") to stderr. A bad argument or an unreadable
input file is a usage error (exit status 2) that says what is wrong, never a traceback.
"""

import argparse
import json
import signal
import sys
from pathlib import Path

from . import __version__, ci


class CommandError(Exception):
    """Bad input to a command: reported as a usage error."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dataflow-conformance", description="DataFlow conformance kit tools")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser(
        "clauses",
        help="check (or --write) the clause registry and the pages' *Tests:* lines against the suite "
        "(maintainers, in a checkout of the kit)",
    )
    gen.add_argument("--contract-dir", type=Path, default=Path("docs/contract"))
    gen.add_argument(
        "--write", action="store_true", help="rewrite clauses.json and the *Tests:* lines (default: check them)"
    )
    exp = sub.add_parser(
        "expectations",
        help="create or update an expectations file from conformance reports (a test failing in only some "
        "runs is listed as intermittent); an existing file keeps its comments and reasons",
    )
    exp.add_argument("reports", type=Path, nargs="+", metavar="report", help="conformance-report.json files")
    exp.add_argument(
        "--write", type=Path, required=True, metavar="PATH", help="the expectations file to create or update"
    )
    exp.add_argument(
        "--partial",
        action="store_true",
        help="accept reports of partial runs (a -k selection): entries of tests they did not run are kept",
    )
    exp.add_argument(
        "--remove-fixed",
        action="store_true",
        help="only remove the entries of tests the reports call fixed (listed as failing, passed); add nothing",
    )
    summ = sub.add_parser(
        "summary",
        help="a pull-request-sized Markdown summary of a report (the gate, failed clauses, top causes), size-capped",
    )
    summ.add_argument("report", type=Path)
    summ.add_argument("--artifact", metavar="NAME", help="the name of the artifact that holds the full report")
    summ.add_argument(
        "--max-bytes", type=int, default=64 * 1024, metavar="N", help="size cap in bytes (default: %(default)s)"
    )
    ann = sub.add_parser(
        "annotations", help="GitHub Actions annotations for what failed the gate (at most --limit, then a notice)"
    )
    ann.add_argument("report", type=Path)
    ann.add_argument("--limit", type=int, default=10, metavar="N", help="annotations at most (default: %(default)s)")
    ann.add_argument(
        "--expectations-file", type=Path, metavar="PATH", help="put fixed and stale entries on their lines of this file"
    )
    ann.add_argument("--artifact", metavar="NAME", help="the name of the artifact that holds the full report")
    badge = sub.add_parser("badges", help="shields.io endpoint JSON per backend from a conformance report")
    badge.add_argument("report", type=Path)
    badge.add_argument("--out", type=Path, required=True, metavar="DIR")
    mat = sub.add_parser("matrix", help="support matrix (implementation x backend) from conformance reports")
    mat.add_argument("reports", type=Path, nargs="+")
    mat.add_argument("--update", type=Path, metavar="DOC", help="rewrite the matrix between the markers of DOC")
    mat.add_argument(
        "--page", type=Path, metavar="PATH", help="also write the full page (implementation x backend x area)"
    )
    diff = sub.add_parser(
        "diff",
        help="what changed between two conformance reports: fixed, regressed and newly blocked clauses and tests "
        "(exit status 1 on a regression, for release gates)",
    )
    diff.add_argument("old", type=Path, help="the earlier report (e.g. the last release's)")
    diff.add_argument("new", type=Path, help="the later report")
    diff.add_argument("--markdown", type=Path, metavar="PATH", help="also write the diff as Markdown")
    ci.add_parser(sub)
    docs = sub.add_parser(
        "docs",
        help="run the Python examples of Markdown docs against an implementation and report what runs",
        description="Run every Python block of the Markdown pages under PATH..., in order, one namespace and one "
        "database per page, each page in a process of its own, and report per block: passed, warned, failed (with "
        "its root cause), blocked by an earlier block, fragment, skipped (with what it needs) or not Python. "
        "Exit status: 0 when no block failed, 1 when a block failed, 2 for a usage error, 3 when the runner itself "
        "failed on a page (a harness error), 128 + N when stopped by signal N (130: Ctrl-C, 143: SIGTERM).",
    )
    docs.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="directories of *.md files, Markdown files, wheels or METADATA files",
    )
    docs.add_argument(
        "--include", action="append", default=[], metavar="GLOB", help="run only pages that match (repeatable)"
    )
    docs.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="leave out pages that match (repeatable)"
    )
    docs.add_argument(
        "--dataflow-impl",
        default="dataflow",
        metavar="MODULE",
        help="what `import dataflow` gives the examples (default: %(default)s)",
    )
    docs.add_argument(
        "--dataflow-dburi",
        metavar="URL",
        help="server to run on (each page gets its own database there); default: a SQLite file per page",
    )
    docs.add_argument("--timeout", type=float, default=60, metavar="S", help="limit per block (default: %(default)s s)")
    docs.add_argument(
        "--isolation",
        choices=("page", "block"),
        default="page",
        help="one namespace per page (default), or a fresh namespace for every block",
    )
    docs.add_argument("--jobs", type=int, default=1, metavar="N", help="pages run at once (default: %(default)s)")
    docs.add_argument(
        "--decisions",
        metavar="FILE",
        help="a TOML file of decisions about a corpus you do not own (pages, fragments, skips, packages), or "
        "the name of one the kit ships (kailash-dataflow)",
    )
    docs.add_argument("--corpus-commit", metavar="SHA", help="the docs' commit, for the report (default: from git)")
    docs.add_argument("--report", type=Path, metavar="PATH", help="also write the report as JSON")
    docs.add_argument("--markdown", type=Path, metavar="PATH", help="also write the report as Markdown")
    docs.add_argument("--html", type=Path, metavar="PATH", help="also write the report as HTML (tracebacks, sources)")
    docs.add_argument("--junit", type=Path, metavar="PATH", help="also write the report as JUnit XML")
    docs.add_argument("-v", "--verbose", action="store_true", help="print each failure's source and traceback")
    docs.add_argument("-q", "--quiet", action="store_true", help="no progress line per page")
    summary = sub.add_parser(
        "docs-summary",
        help="a README summary of docs reports: their figures side by side and the most common root causes",
    )
    summary.add_argument("reports", type=Path, nargs="+", metavar="REPORT", help="docs-report.json files")
    summary.add_argument(
        "--update", type=Path, metavar="PAGE", help="replace the text between <!-- docs-summary:start/end --> of PAGE"
    )
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CommandError as exc:
        parser.error(str(exc))  # exit status 2


def status(message: str) -> None:
    print(message, file=sys.stderr)


def read_report(path: Path) -> dict:
    """A conformance-report.json, or a CommandError saying why it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"no such report: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path} is not a conformance report (JSON): {exc}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path} is not a conformance report: it holds a {type(data).__name__}")
    missing = [key for key in ("implementation", "backends", "clauses", "verdict") if key not in data]
    if missing:
        raise CommandError(f"{path} is not a conformance report: it lacks {missing}")
    return data


def _clauses(args) -> int:
    from .contract import clauses

    if not args.contract_dir.is_dir():
        raise CommandError(f"{args.contract_dir} is not a directory (run this in a checkout of the kit)")
    if args.write:
        if "site-packages" in clauses.REGISTRY_FILE.parts or "dist-packages" in clauses.REGISTRY_FILE.parts:
            raise CommandError(
                f"clauses --write rewrites the kit's own registry ({clauses.REGISTRY_FILE}): run it in a checkout "
                "of dataflow-conformance installed with `pip install -e .`, not in an installed kit"
            )
        changed = clauses.write_tests_lines(args.contract_dir)
        parsed = clauses.parse_pages(args.contract_dir)
        clauses.REGISTRY_FILE.write_text(clauses.dump(parsed), encoding="utf-8")
        for page in changed:
            status(f"updated the *Tests:* lines of {page}")
        status(f"wrote {clauses.REGISTRY_FILE.name}: {len(parsed)} clauses")
        return 0
    problems = clauses.drift(args.contract_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        status("run `dataflow-conformance clauses --write`")
        return 1
    status("clauses.json and the pages' *Tests:* lines are up to date")
    return 0


def _expectations(args) -> int:
    from .report import expectations, regenerate

    reports = [read_report(path) for path in args.reports]
    without_tests = [str(path) for path, report in zip(args.reports, reports, strict=True) if "tests" not in report]
    if without_tests:
        raise CommandError(f"{', '.join(without_tests)} lacks 'tests': expectations come from the pack's own report")
    modules = {r["implementation"]["module"] for r in reports}
    if len(modules) > 1:
        raise CommandError(f"the reports are of different implementations: {sorted(modules)}")
    existing = args.write.read_text(encoding="utf-8") if args.write.exists() else None
    try:
        if existing is not None:
            expectations.load(args.write)  # refuse to edit a file that is not a valid expectations file
        if args.remove_fixed:
            if existing is None:
                raise CommandError(f"--remove-fixed edits an expectations file, and {args.write} does not exist")
            text, change = regenerate.remove_fixed(existing, reports)
        else:
            text, change = regenerate.merge(existing, reports, partial=args.partial)
    except expectations.ExpectationsError as exc:
        raise CommandError(str(exc)) from None
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(text, encoding="utf-8")
    for line in change.added:
        status(f"added   {line}")
    for line in change.removed:
        status(f"removed {line}")
    status(f"{'updated' if existing is not None else 'wrote'} {args.write}: {change.summary()}")
    return 0


def _summary(args) -> int:
    from .report import summary

    report = read_report(args.report)
    if "gate" not in report:
        raise CommandError(f"{args.report} was written by a kit before 0.3.0 (no gate): run the pack again")
    try:
        sys.stdout.write(summary.render(report, artifact=args.artifact, max_bytes=args.max_bytes))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _annotations(args) -> int:
    from .report.annotations import annotations

    report = read_report(args.report)
    for line in annotations(report, limit=args.limit, expectations_file=args.expectations_file, artifact=args.artifact):
        print(line)
    return 0


def _badges(args) -> int:
    from .report.badges import write_badges

    for path in write_badges(read_report(args.report), args.out):
        status(f"wrote {path}")
    return 0


def _matrix(args) -> int:
    from .report import matrix

    reports = [read_report(path) for path in args.reports]
    table = matrix.render(reports)
    if args.update:
        try:
            matrix.update(args.update, table)
        except matrix.MatrixError as exc:
            raise CommandError(str(exc)) from None
        status(f"updated {args.update}")
    if args.page:
        args.page.write_text(
            matrix.render_page(reports, [p.as_posix() for p in args.reports], args.page.as_posix()), encoding="utf-8"
        )
        status(f"wrote {args.page}")
    print(table)
    return 0


def _diff(args) -> int:
    from .report import diff

    old, new = read_report(args.old), read_report(args.new)
    if "tests" not in old or "tests" not in new:
        raise CommandError("both reports need their tests (conformance-report.json as the pack writes it)")
    changes = diff.compare(old, new)
    text = diff.render(changes)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
        status(f"wrote {args.markdown}")
    sys.stdout.write(text)
    return 1 if changes.regressions else 0


def _docs(args) -> int:
    from .docsrun import render, runner

    def progress(done, total, page):
        if not args.quiet:
            status(render.progress_line(done, total, page))

    try:
        report = runner.run_docs(
            args.paths,
            impl=args.dataflow_impl,
            db=args.dataflow_dburi,
            timeout=args.timeout,
            isolation=args.isolation,
            jobs=args.jobs,
            include=args.include,
            exclude=args.exclude,
            decisions=args.decisions,
            commit=args.corpus_commit,
            progress=progress,
            started=None if args.quiet else status,
        )
    except runner.DocsError as exc:
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (runner.Stopped)
        status(f"docs run stopped ({exc or 'Ctrl-C'}): every page's process ended, its database dropped; no report")
        return 128 + getattr(exc, "signum", signal.SIGINT)
    writers = {
        args.report: lambda: json.dumps(report.as_dict(), indent=1) + "\n",
        args.markdown: lambda: render.render_markdown(report),
        args.html: lambda: render.render_html(report),
        args.junit: lambda: render.render_junit(report),
    }
    for path, text in writers.items():
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text(), encoding="utf-8")
            status(f"wrote {path}")
    sys.stdout.write(render.render_text(report, verbose=args.verbose))
    return report.exit_status()


def _docs_summary(args) -> int:
    from .docsrun import summary

    try:
        text = summary.render(args.reports, (args.update or Path("README.md")).resolve().parent)
        if args.update:
            summary.update(args.update, text)
            status(f"updated {args.update}")
    except summary.SummaryError as exc:
        raise CommandError(str(exc)) from None
    print(text)
    return 0


COMMANDS = {
    "clauses": _clauses,
    "expectations": _expectations,
    "summary": _summary,
    "annotations": _annotations,
    "badges": _badges,
    "matrix": _matrix,
    "diff": _diff,
    "gate": ci.run,
    "docs": _docs,
    "docs-summary": _docs_summary,
}


if __name__ == "__main__":
    sys.exit(main())
