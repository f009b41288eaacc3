"""`dataflow-conformance` command line."""

import argparse
import json
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dataflow-conformance", description="DataFlow conformance kit tools")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser(
        "clauses", help="check (or --write) the clause registry and the pages' *Tests:* lines against the suite"
    )
    gen.add_argument("--contract-dir", type=Path, default=Path("docs/contract"))
    gen.add_argument(
        "--write", action="store_true", help="rewrite clauses.json and the *Tests:* lines (default: check them)"
    )
    exp = sub.add_parser(
        "expectations",
        help="write an expectations file from conformance reports (a test failing in only some runs is flaky)",
    )
    exp.add_argument("reports", type=Path, nargs="+", metavar="report", help="conformance-report.json files")
    exp.add_argument("--write", type=Path, required=True, metavar="PATH", help="the expectations file to (over)write")
    badge = sub.add_parser("badges", help="shields.io endpoint JSON per backend from a conformance report")
    badge.add_argument("report", type=Path)
    badge.add_argument("--out", type=Path, required=True, metavar="DIR")
    mat = sub.add_parser("matrix", help="support matrix (implementation x backend) from conformance reports")
    mat.add_argument("reports", type=Path, nargs="+")
    mat.add_argument("--update", type=Path, metavar="DOC", help="rewrite the matrix between the markers of DOC")
    mat.add_argument(
        "--page", type=Path, metavar="PATH", help="also write the full page (implementation x backend x area)"
    )
    docs = sub.add_parser(
        "docs",
        help="run the Python examples of Markdown docs against an implementation and report what runs",
        description="Run every Python block of PATH's Markdown documents, in order, one namespace per "
        "document, and report per block: ran, failed (with the exception) or skipped (with the reason). "
        "Exit status 1 when a block failed.",
    )
    docs.add_argument("path", type=Path, help="a directory of *.md files, a Markdown file, a wheel or a METADATA file")
    docs.add_argument(
        "--impl",
        default="dataflow",
        metavar="MODULE",
        help="what `import dataflow` gives the examples (default: %(default)s)",
    )
    docs.add_argument(
        "--db",
        metavar="URL",
        help="server to run on (each document gets its own database there); default: a SQLite file per document",
    )
    docs.add_argument("--timeout", type=float, default=60, metavar="S", help="limit per block (default: %(default)s s)")
    docs.add_argument("--report", type=Path, metavar="PATH", help="also write the report as JSON")
    docs.add_argument("--markdown", type=Path, metavar="PATH", help="also write the report as Markdown")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args, parser)


def _clauses(args, parser) -> int:
    from . import clauses

    if not args.contract_dir.is_dir():
        parser.error(f"{args.contract_dir} is not a directory")
    if args.write:
        changed = clauses.write_tests_lines(args.contract_dir)
        parsed = clauses.parse_pages(args.contract_dir)
        clauses.REGISTRY_FILE.write_text(clauses.dump(parsed), encoding="utf-8")
        for page in changed:
            print(f"updated the *Tests:* lines of {page}")
        print(f"wrote {clauses.REGISTRY_FILE.name}: {len(parsed)} clauses")
        return 0
    problems = clauses.drift(args.contract_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run `dataflow-conformance clauses --write`", file=sys.stderr)
        return 1
    print("clauses.json and the pages' *Tests:* lines are up to date")
    return 0


def _expectations(args, parser) -> int:
    from . import expectations

    reports = [json.loads(path.read_text(encoding="utf-8")) for path in args.reports]
    args.write.parent.mkdir(parents=True, exist_ok=True)
    previous = expectations.load(args.write) if args.write.exists() else None  # keeps its flaky: entries
    text = expectations.from_reports(reports, previous)
    args.write.write_text(text, encoding="utf-8")
    print(f"wrote {args.write}: {sum(1 for line in text.splitlines() if line.startswith(chr(34)))} expected failures")
    return 0


def _badges(args, parser) -> int:
    from .badges import write_badges

    for path in write_badges(json.loads(args.report.read_text(encoding="utf-8")), args.out):
        print(f"wrote {path}")
    return 0


def _matrix(args, parser) -> int:
    from . import matrix

    missing = [str(path) for path in args.reports if not path.is_file()]
    if missing:
        parser.error(f"no such report: {', '.join(missing)}")
    reports = [json.loads(path.read_text(encoding="utf-8")) for path in args.reports]
    table = matrix.render(reports)
    if args.update:
        matrix.update(args.update, table)
    if args.page:
        args.page.write_text(
            matrix.render_page(reports, [p.as_posix() for p in args.reports], args.page.as_posix()), encoding="utf-8"
        )
        print(f"wrote {args.page}")
    print(table)
    return 0


def _docs(args, parser) -> int:
    from . import docsreport, docsrun

    try:
        report = docsrun.run_docs(args.path, impl=args.impl, db=args.db, timeout=args.timeout)
    except docsrun.DocsError as exc:
        parser.error(str(exc))
    if args.report:
        args.report.write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(docsreport.render_markdown(report), encoding="utf-8")
    sys.stdout.write(docsreport.render_text(report))
    return 1 if report.totals()["failed"] else 0


COMMANDS = {
    "clauses": _clauses,
    "expectations": _expectations,
    "badges": _badges,
    "matrix": _matrix,
    "docs": _docs,
}


if __name__ == "__main__":
    sys.exit(main())
