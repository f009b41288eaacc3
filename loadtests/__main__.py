"""`python -m loadtests run | report | check`: the load tests' command line (README: "Load tests")."""

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dataflow_conformance.backends.registry import BACKENDS

HERE = Path(__file__).parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests", description="DataFlow vs Django load tests")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the jobs on every configured backend and write the reports")
    run.add_argument("--profile", default="short", help="smoke, short (default) or full")
    run.add_argument("--backend", action="append", help=f"{', '.join(BACKENDS)} (repeatable; default: all configured)")
    run.add_argument(
        "--out", type=Path, help="where the reports go (default: loadtests/reports; smoke: the run directory)"
    )
    run.add_argument("--runs", type=Path, default=HERE / "runs", help="where Locust's raw output goes")
    run.add_argument("--no-upstream", action="store_true", help="skip the published kailash-dataflow")
    run.add_argument("--check", action="store_true", help="apply the thresholds afterwards (exit 1 on a breach)")

    report = commands.add_parser("report", help="(re)write the report of a run directory")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--out", type=Path, default=HERE / "reports")

    check = commands.add_parser("check", help="exit 1 when a run breaches its profile's thresholds")
    check.add_argument("run_dirs", type=Path, nargs="+")
    check.add_argument("--thresholds", type=Path, default=HERE / "thresholds.toml")

    args = parser.parse_args(argv)
    return {"run": _run, "report": _report, "check": _check}[args.command](args)


def _run(args) -> int:
    from harness.databases import configured_backends

    from .check import check_runs
    from .profiles import get_profile
    from .report import write_report
    from .run import run_backend

    profile = get_profile(args.profile)
    backends = configured_backends(args.backend)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dirs = [args.runs / f"{stamp}-{profile.name}-{backend}" for backend in backends]

    def run(backend: str, run_dir: Path) -> None:
        run_backend(backend, profile, run_dir, upstream=not args.no_upstream)

    if profile.backends_side_by_side:  # every job runs in processes of its own: threads only wait for them
        with ThreadPoolExecutor(len(backends)) as pool:
            list(pool.map(run, backends, run_dirs))  # list(): the first backend's error is raised here
    for backend, run_dir in zip(backends, run_dirs, strict=True):
        if not profile.backends_side_by_side:
            run(backend, run_dir)
        out = args.out or (run_dir if profile.name == "smoke" else HERE / "reports")
        for path in write_report(run_dir, out):  # one at a time: matplotlib's pyplot is not thread-safe
            print(f"[loadtests] wrote {path}")
    return check_runs(run_dirs, HERE / "thresholds.toml") if args.check else 0


def _report(args) -> int:
    from .report import write_report

    for path in write_report(args.run_dir, args.out):
        print(f"[loadtests] wrote {path}")
    return 0


def _check(args) -> int:
    from .check import check_runs

    return check_runs(args.run_dirs, args.thresholds)


if __name__ == "__main__":
    sys.exit(main())
