"""The pack run in one release's environment, on one backend: the kit's own JSON report, plus a `history`
section that says what was measured (the release, its day, the environment's packages, the load average)."""

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import store
from .environments import Environment
from .plan import Job

# How the published package is run (noxfile.py's UPSTREAM_RUN and UPSTREAM_ENV, passed in by `nox -s history`);
# no expectations file: it was written for one release, and history wants every outcome as it is.
PACK = ["-p", "dataflow_conformance", "-p", "no:cacheprovider", "--log-level=WARNING", "-q", "--no-header", "-rN"]
KIT = Path(__file__).resolve().parent.parent  # the checkout the kit is installed from (editable)
RUN_TIMEOUT = 3 * 3600  # one release on one backend; a run that takes longer is stopped and says so


@dataclass
class Outcome:
    backend: str
    ran: bool
    reason: str = ""  # why no report came out
    seconds: float = 0.0
    verdict: str = ""
    passed: int = 0
    failed: int = 0


def run(job: Job, env_python: Path, environment: Environment, workers: int, pytest_args: list[str]) -> Outcome:
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dfc-history-") as work:
        command = [str(env_python), "-m", "pytest", *PACK, "-n", str(workers), "--dataflow-impl=dataflow"]
        command += [f"--dataflow-db={job.backend}", "--dataflow-report=report.json", *pytest_args]
        process = None
        try:
            process = subprocess.Popen(
                command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
            )
            output, _ = process.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop(process)
            return Outcome(job.backend, False, f"stopped after {RUN_TIMEOUT} s", round(time.monotonic() - started))
        except BaseException:  # interrupted: pytest and its workers are in their own session, so stop them here
            stop(process)
            raise
        seconds = round(time.monotonic() - started, 1)
        produced = Path(work) / "report.json"
        if not produced.exists():
            tail = " / ".join(line.strip() for line in output.splitlines() if line.strip())[-600:]
            return Outcome(job.backend, False, f"the pack wrote no report (exit {process.returncode}): {tail}", seconds)
        report = json.loads(produced.read_text(encoding="utf-8"))
        machine = {work: "<work>", str(env_python.parent.parent): "<env>", str(Path.home()): "~", str(KIT): "<kit>"}
        machine[str(Path(work).resolve())] = "<work>"
    report["history"] = {
        "release": job.release.version,
        "uploaded": job.release.uploaded.isoformat(),
        "cutoff": job.release.cutoff.isoformat(),
        "packages": environment.packages,  # the release's environment as resolved on its day
        "workers": workers,
        "seconds": seconds,
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
        "exit_status": process.returncode,
    }
    store.write(job.report, report, machine)
    return summarize(job.backend, report, seconds)


def stop(process: subprocess.Popen | None) -> None:
    """Kill the pack's process group: pytest, its workers and what they started (gone already, or never started)."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def summarize(backend: str, report: dict, seconds: float = 0.0) -> Outcome:
    outcomes = [r.get(backend) for c in report.get("clauses", {}).values() for r in [c["results"]]]
    return Outcome(
        backend,
        True,
        seconds=seconds or report.get("history", {}).get("seconds", 0.0),
        verdict=report.get("verdict", ""),
        passed=sum(o == "passed" for o in outcomes),
        failed=sum(o == "failed" for o in outcomes),
    )
