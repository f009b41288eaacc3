"""Turn runs into a pass/fail exit code for CI, from the thresholds file (see thresholds.toml)."""

import json
import tomllib
from pathlib import Path

from .results import sustained_users


def thresholds_for(path: Path, profile: str) -> dict:
    data = tomllib.loads(path.read_text())
    if profile not in data.get("profiles", {}):
        raise SystemExit(f"loadtests check: {path} has no [profiles.{profile}] table")
    merged = {**data["defaults"], **data["profiles"][profile]}
    merged["max_p95_ms"] = {**data["defaults"].get("max_p95_ms", {}), **data["profiles"][profile].get("max_p95_ms", {})}
    return merged


def check_record(record: dict, limits: dict) -> list[tuple[str, bool, str]]:
    """(what, passed, detail) for every gate that applies to this run."""
    results = []
    for name in limits["gated_variants"]:
        variant = record["variants"].get(name)
        if variant is None:
            results.append((f"in-process {name}", False, "did not run"))
            continue
        for operation, stats in variant["operations"].items():
            where = f"in-process {name} {operation}"
            results.append(
                (f"{where} ran", stats["requests"] >= limits["min_requests"], f"{stats['requests']} requests")
            )
            results.append(
                (f"{where} failures", stats["failures"] <= limits["max_failures"], f"{stats['failures']} failed")
            )
            bound = limits["max_p95_ms"].get(operation)
            if bound is not None and stats["p95_ms"] is not None:
                results.append((f"{where} p95", stats["p95_ms"] <= bound, f"{stats['p95_ms']:.0f} ms (max {bound})"))
    for name in limits["gated_apps"]:
        app = record["apps"].get(name)
        if app is None:
            results.append((f"HTTP {name}", False, "did not run"))
            continue
        served = app["steps"][0]["requests"] if app["steps"] else 0
        results.append(
            (f"HTTP {name} served requests", served >= limits["min_requests"], f"{served} at the first step")
        )
        users = sustained_users(app["steps"])
        results.append((f"HTTP {name} sustained users", users >= limits["min_sustained_users"], f"{users} users"))
        failed = app["steps"][0]["failures"] if app["steps"] else 0  # errors under light load are bugs, not load
        results.append(
            (f"HTTP {name} failures at the first step", failed <= limits["max_failures"], f"{failed} failed")
        )
    return results


def check_runs(run_dirs: list[Path], thresholds: Path) -> int:
    passed = failed = 0
    for run_dir in run_dirs:
        results_file = run_dir / "results.json"
        if not results_file.exists():
            raise SystemExit(f"loadtests check: {results_file} does not exist (is {run_dir} a run directory?)")
        record = json.loads(results_file.read_text())
        for what, ok, detail in check_record(record, thresholds_for(thresholds, record["profile"])):
            print(f"{'ok  ' if ok else 'FAIL'} {record['backend']}: {what}: {detail}")
            passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
