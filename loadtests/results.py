"""Read what Locust wrote (--csv: <prefix>_stats.csv, _failures.csv, _stats_history.csv) and the
server samples, into plain numbers for the report and the check."""

import csv
import datetime as dt
import re
from pathlib import Path

PERCENTILES = {"p50_ms": "50%", "p95_ms": "95%", "p99_ms": "99%"}


def read_locust(prefix: Path) -> dict:
    """Per request name: counts, p50/p95/p99, mean, min, max, throughput; plus the failure messages."""
    operations = {}
    for row in _rows(Path(f"{prefix}_stats.csv")):
        if row["Name"] == "Aggregated":
            continue
        entry = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "mean_ms": _number(row["Average Response Time"]),
            "min_ms": _number(row["Min Response Time"]),
            "max_ms": _number(row["Max Response Time"]),
            "rps": _number(row["Requests/s"]),
        }
        entry.update({key: _number(row[column]) for key, column in PERCENTILES.items()})
        operations[row["Name"]] = entry
    failures = [
        {"name": row["Name"], "error": row["Error"], "occurrences": int(row["Occurrences"])}
        for row in _rows(Path(f"{prefix}_failures.csv"))
    ]
    return {"operations": operations, "failures": failures}


def memory_per_request(outcome: dict, samples_csv: Path) -> dict:
    """RSS growth of the server under load, divided by the requests in flight at that load.

    Taken at the highest step the app sustained (or the first step when it sustained none): the
    peak RSS during that step minus the idle RSS after warm-up, over the step's mean number of
    requests in flight (Little's law: throughput x mean response time).
    """
    steps = outcome.get("steps") or []
    if not steps:
        return {"memory": None}
    sustained = [s for s in steps if s["sustained"]]
    step = sustained[-1] if sustained else steps[0]
    samples = [
        int(row["server_rss_bytes"]) for row in _rows(samples_csv) if step["start"] <= float(row["time"]) <= step["end"]
    ]
    peak = max(samples) if samples else None
    growth = None if peak is None else peak - outcome["idle_rss_bytes"]
    per_request = growth / step["in_flight"] if growth is not None and step["in_flight"] > 0 else None
    return {
        "memory": {
            "step_users": step["users"],
            "idle_rss_bytes": outcome["idle_rss_bytes"],
            "peak_rss_bytes": peak,
            "growth_bytes": growth,
            "in_flight": step["in_flight"],
            "per_request_bytes": per_request,
        }
    }


def cpu_peaks(samples_csv: Path) -> dict:
    """The busiest moment of the server and of Locust (percent of one core, summed over processes):
    a load generator near its cores' limit means the step load measured Locust, not the app."""
    rows = _rows(samples_csv)
    return {
        "server_cpu_peak": max((float(r["server_cpu_percent"]) for r in rows), default=None),
        "generator_cpu_peak": max((float(r["generator_cpu_percent"]) for r in rows), default=None),
    }


# A Locust log line: "[2026-11-29 21:48:03,123] host/WARNING/locust.runners: CPU usage above 90%! ..."
_LOG_LINE = re.compile(
    r"^\[(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(?P<ms>\d{3})\] [^/]*/(?P<level>WARNING|ERROR|CRITICAL)/"
    r"(?P<source>[^:]+): (?P<message>.*)$"
)
GENERATOR_LIMIT = 0.9  # of its cores: above it, a step may measure Locust rather than the app


def locust_warnings(prefix: Path) -> list[dict]:
    """Locust's own warnings and errors (its CPU near the limit, a worker lost...), with their time."""
    log = Path(f"{prefix}.log")
    found = []
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if match := _LOG_LINE.match(line):
            when = dt.datetime.strptime(match["when"], "%Y-%m-%d %H:%M:%S").timestamp() + int(match["ms"]) / 1000
            found.append({"time": when, "level": match["level"], "message": f"{match['source']}: {match['message']}"})
    return found


def mark_generator_limits(steps: list[dict], samples_csv: Path, warnings: list[dict], cores: int) -> None:
    """Per step: Locust's CPU peak, its warnings, and whether it was near its limit (then the step may
    have measured the generator, and a step the app did not sustain is no upper bound)."""
    rows = _rows(samples_csv)
    for step in steps:
        inside = [float(r["generator_cpu_percent"]) for r in rows if step["start"] <= float(r["time"]) <= step["end"]]
        step["generator_cpu_peak"] = max(inside, default=None)
        step["generator_warnings"] = [w["message"] for w in warnings if step["start"] <= w["time"] <= step["end"]]
        busy = step["generator_cpu_peak"] is not None and step["generator_cpu_peak"] >= GENERATOR_LIMIT * 100 * cores
        step["generator_limited"] = busy or any("CPU usage" in text for text in step["generator_warnings"])


def sustained_users(steps: list[dict]) -> int:
    """The largest step sustained before the first one that was not (0 when the first step failed)."""
    best = 0
    for step in steps:
        if not step["sustained"]:
            break
        best = step["users"]
    return best


def read_history(prefix: Path) -> list[dict]:
    """Locust's per-second history, all request names together (the 'Aggregated' rows)."""
    rows = []
    for row in _rows(Path(f"{prefix}_stats_history.csv")):
        if row["Name"] != "Aggregated":
            continue
        rows.append(
            {
                "time": float(row["Timestamp"]),
                "users": int(row["User Count"]),
                "rps": _number(row["Requests/s"]),
                **{key: _number(row[column]) for key, column in PERCENTILES.items()},
            }
        )
    return rows


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None  # Locust writes N/A when there were no requests
