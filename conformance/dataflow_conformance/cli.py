"""`dataflow-conformance` command line."""

import argparse
import json
import sys
from pathlib import Path

from . import clauses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dataflow-conformance", description="DataFlow conformance kit tools")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("clauses", help="build the clause registry from the contract pages")
    gen.add_argument("--contract-dir", type=Path, default=Path("docs/contract"))
    gen.add_argument("--write", action="store_true", help="write clauses.json (default: check it is up to date)")
    exp = sub.add_parser("expectations", help="write an expectations file from a conformance report")
    exp.add_argument("report", type=Path, help="conformance-report.json of the implementation")
    exp.add_argument("--write", type=Path, required=True, metavar="PATH", help="the expectations file to (over)write")
    badge = sub.add_parser("badges", help="shields.io endpoint JSON per backend from a conformance report")
    badge.add_argument("report", type=Path)
    badge.add_argument("--out", type=Path, required=True, metavar="DIR")
    mat = sub.add_parser("matrix", help="support matrix (implementation x backend) from conformance reports")
    mat.add_argument("reports", type=Path, nargs="+")
    mat.add_argument("--update", type=Path, metavar="DOC", help="rewrite the matrix between the markers of DOC")
    args = parser.parse_args(argv)
    if args.command == "matrix":
        from . import matrix

        table = matrix.render([json.loads(path.read_text(encoding="utf-8")) for path in args.reports])
        if args.update:
            matrix.update(args.update, table)
        print(table)
        return 0
    if args.command == "badges":
        from .badges import write_badges

        for path in write_badges(json.loads(args.report.read_text(encoding="utf-8")), args.out):
            print(f"wrote {path}")
        return 0
    if args.command == "expectations":
        from . import expectations

        report = json.loads(args.report.read_text(encoding="utf-8"))
        args.write.parent.mkdir(parents=True, exist_ok=True)
        text = expectations.from_report(report)
        args.write.write_text(text, encoding="utf-8")
        print(
            f"wrote {args.write}: {sum(1 for line in text.splitlines() if line.startswith(chr(34)))} expected failures"
        )
        return 0
    if args.command == "clauses":
        if not args.contract_dir.is_dir():
            parser.error(f"{args.contract_dir} is not a directory")
        parsed = clauses.parse_pages(args.contract_dir)
        text = clauses.dump(parsed)
        if args.write:
            clauses.REGISTRY_FILE.write_text(text, encoding="utf-8")
            print(f"wrote {clauses.REGISTRY_FILE.name}: {len(parsed)} clauses")
            return 0
        current = clauses.REGISTRY_FILE.read_text(encoding="utf-8") if clauses.REGISTRY_FILE.exists() else ""
        if current != text:
            print("clauses.json is out of date: run `dataflow-conformance clauses --write`", file=sys.stderr)
            return 1
        print("clauses.json is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
