"""`python -m history run [--releases SPEC] [-- PYTEST ARGS]` and `python -m history dashboard`."""

import argparse
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

from . import index, plan, releases, runner, store
from .environments import Builder

ROOT = Path(__file__).resolve().parent.parent


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dataflow-conformance" / "history"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m history")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="build each release's environment and run the pack in it")
    run.add_argument(
        "--releases", action="append", default=[], help="a version specifier (`>=2.19`), repeatable; all when left out"
    )
    run.add_argument("--out", type=Path, default=ROOT / "reports" / "history")
    run.add_argument("--cache", type=Path, default=default_cache(), help="where the environments are kept")
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--environments-only", action="store_true", help="build the environments, run nothing")
    run.add_argument("pytest_args", nargs="*", help="after `--`: passed to each pack run")
    board = commands.add_parser("dashboard", help="the dashboard, its Markdown twin and the badges")
    board.add_argument("--out", type=Path, default=ROOT / "reports" / "history")
    args = parser.parse_args(argv)
    if args.command == "dashboard":
        from .render import write

        for path in write(args.out):
            print(f"wrote {path}")
        return 0
    return history(args)


def history(args) -> int:
    from dataflow_conformance.report.provenance import current

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stopped run (CI, nox, kill) ends as Ctrl-C does
    started, load_before = time.monotonic(), os.getloadavg()
    now = current()
    chosen = releases.select(releases.fetch(), args.releases)
    servers = {name: os.environ.get(f"DFC_{name.upper()}_URL") for name in plan.SERVERS}
    todo = plan.make(chosen, args.out, servers, now["kit"]["version"], now["contract"]["fingerprint"])
    builder = Builder(args.cache, ROOT)
    data = index.load(args.out)
    print(f"{len(chosen)} releases; {len(todo.run)} runs to do, {len(todo.current)} reports current", flush=True)
    environments, touched, interrupted = {}, set(), False
    try:
        build_environments(builder, chosen, data, args.out, environments)
        touched = {version for version, env in environments.items() if env.seconds}
        for (version, backend), reason in todo.not_run.items():
            index.record_not_run(data, version, backend, reason)
        for job in todo.current:
            index.record_outcome(data, job.release.version, runner.summarize(job.backend, store.read(job.report)), job.report, args.out)  # fmt: skip
        jobs = sorted(todo.run, key=lambda j: releases.Version(j.release.version), reverse=True)  # newest first
        for job in jobs:
            env = environments[job.release.version]
            if not env.ready:
                index.record_not_run(data, job.release.version, job.backend, f"{env.status}: {env.reason}")
            elif args.environments_only:
                index.record_not_run(data, job.release.version, job.backend, "not run yet: only the environments were built", keep_earlier=True)  # fmt: skip
            else:
                touched.add(job.release.version)
                run_job(data, job, builder.python_of(job.release), env, args)
            index.save(args.out, data)
    except KeyboardInterrupt:  # the jobs that ended are saved; the run is listed as interrupted
        interrupted = True
    record_run(data, args, chosen, environments, touched, time.monotonic() - started, load_before, interrupted)
    index.save(args.out, data)
    print(f"{'interrupted' if interrupted else 'done'} after {data['runs'][-1]['wall_seconds']} s; touched {len(touched)} releases", flush=True)  # fmt: skip
    return 130 if interrupted else 0


def run_job(data: dict, job, python: Path, env, args) -> None:
    """One release on one backend. Its row says so before the pack starts, so a history run killed during the job
    leaves a row that says what happened, never the reason of an earlier run; an interrupted run says it too."""
    version, started = job.release.version, time.monotonic()
    print(f"{version} on {job.backend}: running", flush=True)
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    index.record_attempt(data, version, job.backend, f"did not end: the history run was killed during this job (started {when})")  # fmt: skip
    index.save(args.out, data)
    try:
        outcome = runner.run(job, python, env, args.workers, args.pytest_args)
    except KeyboardInterrupt:
        seconds = round(time.monotonic() - started)
        index.record_attempt(data, version, job.backend, f"interrupted after {seconds} s: the history run was stopped during this job")  # fmt: skip
        index.save(args.out, data)
        raise
    index.record_outcome(data, version, outcome, job.report, args.out)
    print(f"{version} on {job.backend}: {outcome}", flush=True)


def build_environments(builder: Builder, chosen: list, data: dict, out: Path, environments: dict) -> None:
    """Every chosen release's environment into `environments` (cached ones at once), each recorded in its row as it
    is built; newest first, as the runs: a cold run that is stopped early has the releases users are likeliest to
    have."""
    for release in reversed(chosen):
        env = environments[release.version] = builder.build(release)
        index.record_environment(data, release, env)
        if env.seconds:
            index.save(out, data)
            print(f"{release.version}: {env.status} ({env.seconds} s) {env.reason[:160]}", flush=True)


def record_run(data, args, chosen, environments, touched, seconds, load_before, interrupted=False) -> None:
    mode = "environments only" if args.environments_only else "environments and runs"
    data["runs"].append(
        {
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "releases": " | ".join(args.releases) or "all",
            "mode": f"{mode}, interrupted" if interrupted else mode,
            "wall_seconds": round(seconds, 1),
            "environments_built": sum(env.seconds > 0 for env in environments.values()),
            "touched": sorted(touched, key=releases.Version),
            "load_average": {
                "before": [round(x, 2) for x in load_before],
                "after": [round(x, 2) for x in os.getloadavg()],
            },
            "counts": index.counts(data, [r.version for r in chosen]),
        }
    )


if __name__ == "__main__":
    sys.exit(main())
