"""What a history run has left to do: which release runs on which backend, and which reports are already
current (same kit version, same contract fingerprint) and are kept, so a rerun after a new release touches
only that release."""

from dataclasses import dataclass
from pathlib import Path

from . import store
from .releases import Release, last_of_each_minor

SERVERS = ("postgresql", "mysql")  # run for the last release of each minor version only


@dataclass(frozen=True)
class Job:
    release: Release
    backend: str
    report: Path  # reports/history/<version>/<backend>.json


@dataclass
class Plan:
    run: list[Job]
    current: list[Job]  # their reports are current: kept as they are
    not_run: dict[tuple[str, str], str]  # (version, backend) -> why it does not run


def report_path(root: Path, version: str, backend: str) -> Path:
    return root / version / f"{backend}{store.SUFFIX}"


def is_current(report: Path, kit_version: str, fingerprint: str) -> bool:
    """A report made by this kit version for this clause set (anything else is stale and runs again)."""
    try:
        data = store.read(report)
    except (OSError, ValueError, EOFError):
        return False
    return (
        data.get("kit", {}).get("version") == kit_version and data.get("contract", {}).get("fingerprint") == fingerprint
    )


def make(
    releases: list[Release],
    root: Path,
    servers: dict[str, str | None],
    kit_version: str,
    fingerprint: str,
    every_release_on_servers: bool = False,
) -> Plan:
    """`servers`: backend -> URL (None when the run has none for it). SQLite runs for every release; a server
    backend for the last release of each minor version (or every release when asked)."""
    lasts = last_of_each_minor(releases)
    plan = Plan([], [], {})
    for release in releases:
        backends = ["sqlite"]
        if every_release_on_servers or release.version in lasts:
            for name in SERVERS:
                if servers.get(name):
                    backends.append(name)
                else:
                    plan.not_run[(release.version, name)] = f"no DFC_{name.upper()}_URL in this run"
        for backend in backends:
            job = Job(release, backend, report_path(root, release.version, backend))
            (plan.current if is_current(job.report, kit_version, fingerprint) else plan.run).append(job)
    return plan
