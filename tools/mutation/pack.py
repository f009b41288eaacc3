"""The test command Cosmic Ray runs for each mutant of a target: the pack against the mutated copy of the
reference (`.mutation/src` first on PYTHONPATH), only the suite modules mapped to the target, on each of its
backends in turn, stopping at the first failing test (`-x`). Exit status 0 means the mutant survived.

On each backend the tests that reach a changed line run first, then the rest (reach.py); the baseline
(`--record-reach`) runs the suites once under coverage to learn which tests those are."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import reach
from .session import COPY, SESSIONS, SOURCE
from .targets import TARGETS

NO_TESTS = 5  # pytest's exit status when every test was deselected: a pass that had nothing to run


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
        "tools.mutation.passes",
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
            elif first := reach.reaching(found, backend, lines):
                status = in_passes(run, env, first, scratch)
            else:
                status = subprocess.run(run, env=env).returncode
            if status:
                return status
    return 0


def in_passes(run: list[str], env: dict, first: list[str], scratch: Path) -> int:
    """The tests that reach the mutation, then the others: a pass with nothing to run has passed."""
    for name in ("reaching", "rest"):
        chosen = scratch / f"{name}.json"
        chosen.write_text(json.dumps({"pass": name, "tests": first}), encoding="utf-8")
        status = subprocess.run(run, env={**env, "DFC_MUTATION_TESTS": str(chosen)}).returncode
        if status not in (0, NO_TESTS):
            return status
    return 0


def baseline(target, backend: str, run: list[str], env: dict, scratch: Path) -> int:
    args, extra = reach.record_args(SESSIONS, target, COPY, backend)
    durations = scratch / "durations.json"
    status = subprocess.run([*run, *args], env={**env, **extra, "DFC_MUTATION_DURATIONS": str(durations)}).returncode
    if status == 0:
        reach.save(SESSIONS, target, COPY, backend, json.loads(durations.read_text(encoding="utf-8")))
    return status
