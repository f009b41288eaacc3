"""reports/history/releases.json: one row per release attempted, also for those that never ran (with the reason),
and one entry per history run (how long it took, what it touched, the machine's load)."""

import json
import os
from dataclasses import asdict
from pathlib import Path

from .environments import Environment
from .releases import Release
from .runner import Outcome

NAME = "releases.json"


def load(root: Path) -> dict:
    path = root / NAME
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"package": "kailash-dataflow", "releases": {}, "runs": []}


def save(root: Path, index: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    ordered = dict(sorted(index["releases"].items(), key=lambda item: _key(item[0])))
    text = json.dumps({**index, "releases": ordered}, indent=1, ensure_ascii=False) + "\n"
    written = root / f"{NAME}.tmp"  # then renamed: a run stopped while it writes leaves the earlier index whole
    written.write_text(text, encoding="utf-8")
    os.replace(written, root / NAME)


def _key(version: str):
    from packaging.version import Version

    return Version(version)


def record_environment(index: dict, release: Release, env: Environment) -> dict:
    row = index["releases"].setdefault(release.version, {"backends": {}})
    row.update(
        {
            "uploaded": release.uploaded.isoformat(),
            "cutoff": release.cutoff.isoformat(),
            "yanked": release.yanked,
            "environment": env.status,
            "reason": env.reason,
            "kailash": env.packages.get("kailash", ""),
            "kit_conflicts": env.kit_conflicts,
            "packages": env.packages,
        }
    )
    return row


def record_outcome(index: dict, version: str, outcome: Outcome, report: Path | None, root: Path) -> None:
    entry = {k: v for k, v in asdict(outcome).items() if k != "backend"}
    if report is not None and outcome.ran:
        entry["report"] = report.relative_to(root).as_posix()
    index["releases"][version]["backends"][outcome.backend] = entry


def record_not_run(index: dict, version: str, backend: str, reason: str, keep_earlier: bool = False) -> None:
    """Why `backend` has no report of `version`; a report it has stays (its outcome is kept), and so does an earlier
    run's reason with `keep_earlier` (a run that only builds environments learns nothing new about the pack)."""
    backends = index["releases"][version]["backends"]
    if backends.get(backend, {}).get("ran") or (keep_earlier and backend in backends):
        return
    backends[backend] = {"ran": False, "reason": reason}


def record_attempt(index: dict, version: str, backend: str, what: str) -> None:
    """What became of the job running now, when it gave no outcome: the backend's reason, or, beside a report it
    still has (a stale one the job was to replace), its `attempt`; the row never shows an earlier run's as this
    run's. The job's outcome, when it comes, replaces both."""
    backends = index["releases"][version]["backends"]
    if backends.get(backend, {}).get("ran"):
        backends[backend]["attempt"] = what
    else:
        record_not_run(index, version, backend, what)


def counts(index: dict, versions: list[str]) -> dict:
    """Releases attempted, installed, imported, and run per backend, over `versions`."""
    rows = [index["releases"][v] for v in versions if v in index["releases"]]
    ran: dict[str, int] = {}
    for row in rows:
        for backend, entry in row["backends"].items():
            ran[backend] = ran.get(backend, 0) + bool(entry.get("ran"))
    return {
        "attempted": len(rows),
        "installed": sum(r["environment"] not in ("not installable",) for r in rows),
        "imported": sum(r["environment"] in ("ready", "kit cannot run") for r in rows),
        "kit_installed": sum(r["environment"] == "ready" for r in rows),
        "run": ran,
    }
