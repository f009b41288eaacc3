"""`nox -s mutation -- [COMMAND] ...` (docs/mutation/README.md):

- `run [MODULE ...] [--workers URL,...]`: run (or resume) the sessions of the modules (default: every target
  whose backends are configured), then write the report;
- `report`: write docs/mutation/report.md from the sessions' databases and docs/mutation/triage.toml;
- `worker --port N`: serve as a Cosmic Ray HTTP worker for a controller's `run --workers`;
- `pack MODULE`: the test command of one mutant (Cosmic Ray runs it).
"""

import argparse
import sys

from .targets import TARGETS


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nox -s mutation --")
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run or resume the sessions, then write the report")
    run.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(TARGETS))
    run.add_argument("--workers", default="", help="Cosmic Ray HTTP workers' URLs, comma-separated")
    run.add_argument("--retest-survivors", action="store_true", help="run the surviving mutants again (new tests)")
    run.add_argument(
        "--retest-timeouts",
        action="store_true",
        help="run the mutants that timed out again (with --timeout, after a run on a busier machine)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        help="seconds a mutant's pack may take in this run (default: the session's, 3x its baseline): more on a "
        "machine busier than at the baseline, where a slow pack would otherwise count as a kill",
    )
    commands.add_parser("report", help="write docs/mutation/report.md")
    worker = commands.add_parser("worker", help="serve as a Cosmic Ray HTTP worker")
    worker.add_argument("--port", type=int, default=9876)
    pack = commands.add_parser("pack", help="the test command of one mutant")
    pack.add_argument("module", choices=list(TARGETS))
    pack.add_argument("--record-reach", action="store_true", help="the baseline: learn which tests reach each line")
    args = parser.parse_args(argv or ["run"])

    if args.command == "pack":
        from .pack import main as pack_main

        return pack_main(args.module, args.record_reach)
    if args.command == "worker":
        from .session import worker as serve

        serve(args.port)
        return 0
    if args.command == "run":
        from .session import run_all

        args.modules = [m if m in TARGETS else m.replace("-", "/") for m in args.modules]  # dialects-sqlite
        if unknown := [m for m in args.modules if m not in TARGETS]:
            parser.error(f"not a target: {', '.join(unknown)} (targets: {', '.join(TARGETS)})")
        workers = [url for url in args.workers.split(",") if url]
        failed = run_all(
            args.modules or list(TARGETS),
            workers,
            retest=args.retest_survivors,
            timeout=args.timeout,
            timeouts=args.retest_timeouts,
        )
    from .report import write

    write()
    return 1 if args.command == "run" and failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
