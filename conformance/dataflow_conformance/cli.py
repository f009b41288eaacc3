"""`dataflow-conformance` command line."""

import argparse
import sys
from pathlib import Path

from . import clauses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dataflow-conformance", description="DataFlow conformance kit tools")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("clauses", help="build the clause registry from the contract pages")
    gen.add_argument("--contract-dir", type=Path, default=Path("docs/contract"))
    gen.add_argument("--write", action="store_true", help="write clauses.json (default: check it is up to date)")
    args = parser.parse_args(argv)
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
