"""The test command Cosmic Ray runs for each mutant of a target: the pack against the mutated copy of the
reference (`.mutation/src` first on PYTHONPATH), only the suite modules mapped to the target, on each of its
backends in turn, stopping at the first failing test (`-x`). Exit status 0 means the mutant survived.

On each backend the tests that reach a changed line run first, fastest first, then the rest in their own
order (reach.py); the baseline (`--record-reach`) runs the suites once under coverage to learn which tests
those are."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import reach
from .session import COPY, SESSIONS, SOURCE
from .targets import TARGETS


def command(module: str, backend: str, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "dataflow_conformance",
        "-p",
        "no:cacheprovider",
        "--dataflow-impl=dataflow_reference",
        "--dataflow-db",
        backend,
        "-k",
        TARGETS[module].keyword_on(backend),
        "-x",
        "-q",
        "--no-header",
        "--tb=line",
        "--timeout",
        "300",
        "--log-level=WARNING",
        f"--dataflow-report={report}",
        *(["-n", str(workers)] if (workers := TARGETS[module].workers) > 1 else ["-p", "no:xdist"]),
        "-p",
        "tools.mutation.noshrink",
        *(["-p", "tools.mutation.twins"] if TARGETS[module].twins else []),
        "-p",
        "tools.mutation.order",
    ]


def main(module: str, record_reach: bool = False) -> int:
    target = TARGETS[module]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(COPY.resolve()), os.environ.get("PYTHONPATH", "")])}
    found = {} if record_reach else reach.load(SESSIONS, target)
    lines = reach.changed_lines(SOURCE / f"{module}.py", COPY / target.path)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for backend in target.backends:
            run = command(module, backend, scratch / "report.json")
            if record_reach:
                status = baseline(target, backend, run, env, scratch)
            else:
                first = scratch / "first.json"
                first.write_text(json.dumps(reach.reaching(found, backend, lines)), encoding="utf-8")
                status = subprocess.run(run, env={**env, "DFC_MUTATION_FIRST": str(first)}).returncode
            if status:
                return status
    return 0


def baseline(target, backend: str, run: list[str], env: dict, scratch: Path) -> int:
    args, extra = reach.record_args(SESSIONS, target, COPY, backend)
    durations = scratch / "durations.json"
    status = subprocess.run([*run, *args], env={**env, **extra, "DFC_MUTATION_DURATIONS": str(durations)}).returncode
    if status == 0:
        reach.save(SESSIONS, target, COPY, backend, json.loads(durations.read_text(encoding="utf-8")))
    return status
