"""The test command Cosmic Ray runs for each mutant of a target: the pack against the mutated copy of the
reference (`.mutation/src` first on PYTHONPATH), only the suite modules mapped to the target, on each of its
backends in turn, stopping at the first failing test (`-x`). Exit status 0 means the mutant survived."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .session import COPY
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
    ]


def main(module: str) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(COPY.resolve()), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as scratch:
        for backend in TARGETS[module].backends:
            status = subprocess.run(command(module, backend, Path(scratch) / "report.json"), env=env).returncode
            if status:
                return status
    return 0
