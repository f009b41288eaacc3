"""`dataflow-conformance gate`: the pack as a CI gate in one command, for any CI system (the GitHub action
runs it too). It runs pytest with the pack and the options a gate needs, writes every report into one
directory (JSON, Markdown, JUnit XML, badges), and exits with the gate's status (report/gate.py). With
`--github-output`, it also writes the step outputs a workflow reads: verdict, status, report, artifact.
"""

import json
import shlex
import subprocess
import sys
from pathlib import Path

from .backends.registry import BACKENDS
from .report.gate import Status

REPORT = "conformance-report.json"


def pytest_arguments(args) -> list[str]:
    out = Path(args.report_dir)
    command = [
        "-p", "dataflow_conformance", f"--dataflow-impl={args.module}", "-p", "no:cacheprovider",
        "-n", args.workers, "--timeout", str(args.timeout), "--log-level=WARNING",
        f"--junitxml={out / 'junit-conformance.xml'}", f"--dataflow-report={out / REPORT}",
        f"--dataflow-markdown={out / 'conformance-report.md'}",
    ]  # fmt: skip
    for backend in args.backend:
        command.append(f"--dataflow-db={backend}")
    for url in args.dburi:
        command.append(f"--dataflow-dburi={url}")
    if args.expectations:
        command.append(f"--dataflow-expectations={args.expectations}")
    if args.allow_fixed:
        command.append("--dataflow-allow-fixed")
    return [*command, *shlex.split(args.pytest_args_string or ""), *args.pytest_args]


def run(args) -> int:
    out = Path(args.report_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = out / REPORT
    report.unlink(missing_ok=True)  # a report left by an earlier run must not speak for this one
    status = subprocess.run([sys.executable, "-m", "pytest", *pytest_arguments(args)], check=False).returncode
    outputs = {"status": str(status), "artifact": args.artifact or ""}
    if report.is_file():
        from .report.badges import write_badges

        data = json.loads(report.read_text(encoding="utf-8"))
        write_badges(data, out / "badges")
        outputs |= {"verdict": data["verdict"], "report": str(report)}
    else:
        print(f"dataflow-conformance gate: the pack wrote no {report} (exit status {status})", file=sys.stderr)
        outputs |= {"verdict": "none", "report": ""}
        if status in (Status.OK, Status.UNEXPECTED_FAILURE):
            status = Status.HARNESS_ERROR  # a gate that cannot show its evidence does not pass
            outputs["status"] = str(status)
    if args.github_output:
        write_outputs(Path(args.github_output), outputs)
    return status


def write_outputs(path: Path, outputs: dict[str, str]) -> None:
    """Append `name=value` lines to $GITHUB_OUTPUT. A line break in a value would end it there and start
    an output of the text after it (a `status=0` after the real one, say): refused."""
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"the {name} output holds a line break: {value!r}")
    with path.open("a", encoding="utf-8", newline="\n") as sink:
        sink.writelines(f"{name}={value}\n" for name, value in outputs.items())


def add_parser(sub) -> None:
    gate = sub.add_parser(
        "gate",
        help="run the pack as a CI gate: every report in one directory, the gate's exit status",
        description="Run the conformance pack against MODULE and exit with the gate's status: 0 every test as "
        "expected, 1 unexpected failure, 2 interrupted (a collection error), 3 harness error, 4 usage error or "
        "stale expectations, 5 no clause ran, 6 tests listed as failing passed. Arguments after `--` go to pytest. "
        "A bad option of this command itself exits 2, as every command-line tool's.",
    )
    gate.add_argument("--module", required=True, help="the module that exposes the DataFlow class under test")
    gate.add_argument("--backend", action="append", default=[], choices=BACKENDS)
    gate.add_argument("--dburi", action="append", default=[], metavar="URL", help="a server for a named backend")
    gate.add_argument("--expectations", metavar="FILE", help="expectations file (or the name of a bundled one)")
    gate.add_argument("--allow-fixed", action="store_true", help="listed failures that pass do not fail the gate")
    gate.add_argument("--report-dir", default="conformance-report", metavar="DIR", help="default: %(default)s")
    gate.add_argument("--workers", default="auto", metavar="N", help="pytest-xdist workers (default: %(default)s)")
    gate.add_argument("--timeout", type=int, default=300, metavar="S", help="per test (default: %(default)s)")
    gate.add_argument("--artifact", metavar="NAME", help="the name the reports are uploaded under (an output)")
    gate.add_argument("--github-output", metavar="FILE", help="append outputs here ($GITHUB_OUTPUT)")
    gate.add_argument(
        "--pytest-args",
        dest="pytest_args_string",
        metavar="STRING",
        help="more pytest arguments as one string, split as a shell would (-k 'crud or bulk')",
    )
    gate.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARG", help="more pytest arguments")
