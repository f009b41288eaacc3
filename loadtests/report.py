"""The report of one run on one backend: `<date>-<backend>.md` and `.html` (the same content), and PNG
plots of latency percentiles and throughput over time."""

import json
import time
from pathlib import Path

from harness.environment import busy as machine_busy
from harness.report import render_html, render_markdown

from . import plots
from .results import sustained_users
from .verdicts import MB, load_claims, ratio_text, verdicts

NOTES = [
    "Sides run one after another on the same database (never at the same time), so they never compete "
    "for the 2 cores; each side has its own tables.",
    "In-process numbers: one Locust user runs one operation at a time in the application's process "
    "(no HTTP), so they are the cost of the operation itself. They include password hashing where the "
    "operation hashes: user creation hashes one password; the bulk import stores 1,000 users whose "
    "passwords arrive already hashed (hashing 1,000 passwords alone costs 1,000 times the hash time "
    "of the user-creation row).",
    "Locust records response times as whole milliseconds below 100 ms (10 ms steps up to 1 s), so the "
    "percentiles have that resolution; means are exact.",
    "Concurrent users: simulated users with think time step up until a step's p95 passes the bound or a "
    "request fails; the largest step sustained is the result. Memory per request: server RSS growth "
    "(peak during that step minus idle after warm-up, summed over the server's processes) divided by "
    "the step's requests in flight (Little's law: throughput x mean response time).",
    "A claim that does not hold is reported as not holding; the verdicts gate nothing (the thresholds "
    "of `python -m loadtests check` do).",
]


def write_report(run_dir: Path, out: Path) -> list[Path]:
    record = json.loads((run_dir / "results.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y-%m-%d', time.localtime(record['started']))}-{record['backend']}"
    images = plots.draw(run_dir, record, out, stem)
    blocks = _blocks(record, verdicts(record, load_claims()), images)
    paths = [out / f"{stem}.md", out / f"{stem}.html"]
    measured = record.get("environment", {}).get("versions") or {}
    paths[0].write_text(render_markdown(blocks, measured))
    paths[1].write_text(render_html(blocks, f"Load tests: DataFlow vs Django on {record['backend']}", measured))
    return paths + images


def _blocks(record: dict, rows, images: list[Path]) -> list[tuple]:
    env = record["environment"]
    minutes = (record["finished"] - record["started"]) / 60
    blocks = [
        ("h1", f"Load tests: DataFlow vs Django on {record['backend']}"),
        (
            "p",
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(record['started']))}, profile `{record['profile']}`, "
            f"{minutes:.1f} min; database server: {record['server_version']}. "
            f"DataFlow: the reference implementation (`dataflow_reference`); published `kailash-dataflow`: "
            f"{_upstream(record)}. Django {env['versions']['django']} with `django.contrib.auth`.",
        ),
        ("p", _machine_load(record, env["machine"]["cores"])),
        ("h2", "Claims"),
        ("table", _claim_header(), [_claim_row(row) for row in rows]),
        (
            "p",
            "p50 / p95 / p99 in ms (n = requests measured); the verdict uses the median (step load: the "
            "largest sustained step; memory: MB per request in flight, 1 MB = 2^20 bytes). Advantage: Django / "
            "DataFlow for times and memory, DataFlow / Django for users.",
        ),
        ("h2", "In-process operations"),
        (
            "table",
            ["variant", "hasher", "operation", "n", "failed", "p50", "p95", "p99", "mean", "min", "max", "per s"],
            _operation_rows(record),
        ),
        ("h2", "HTTP step load"),
        ("p", _sustain_rule(env["settings"]["profile"])),
    ]
    for app, outcome in record["apps"].items():
        blocks += _app_blocks(app, outcome, env["machine"]["cores"])
    failures = _failure_rows(record)
    if failures:
        blocks += [("h2", "Failures"), ("table", ["where", "request", "count", "error"], failures)]
    blocks += [("h2", "Plots")] + [("img", path.name, path.stem) for path in images]
    blocks += [
        ("h2", "Machine, versions, settings"),
        ("table", ["", ""], [[k, str(v)] for k, v in env["machine"].items()]),
        ("table", ["package", "version"], [[k, v] for k, v in env["versions"].items()]),
        ("table", ["setting", "value"], [[k, _setting(v)] for k, v in env["settings"].items()]),
        ("h2", "Method"),
        ("ul", NOTES),
        (
            "p",
            "Reproduce: `nox -s loadtests` (short profile) or `nox -s loadtests -- --profile full`, with "
            "`DFC_POSTGRESQL_URL` / `DFC_MYSQL_URL` set for the server backends.",
        ),
    ]
    return blocks


def _sustain_rule(profile: dict) -> str:
    return (
        f"A step is sustained when none of its requests fails and its p95 stays under "
        f"{profile['p95_bound_ms']:,.0f} ms; each step lasts {profile['step_seconds']:g} s."
    )


def _machine_load(record: dict, cores: int) -> str:
    before, after = record.get("load_average_before"), record.get("load_average_after")
    if not before or not after:
        return "Machine load during the run was not recorded."
    busy = machine_busy(before[0], cores)  # "after" includes the run's own load
    return (
        f"Load average (1 / 5 / 15 min) before the run {' / '.join(f'{x:.1f}' for x in before)}, after "
        f"{' / '.join(f'{x:.1f}' for x in after)} on {cores} cores"
        + (
            ": the machine was not idle when the run began (1-minute load above half its cores), so absolute "
            "numbers may be inflated and noisy."
            if busy
            else "."
        )
    )


def _upstream(record: dict) -> str:
    status = record.get("upstream", "not measured")
    return "measured (variant `dataflow`)" if status == "installed" and "dataflow" in record["variants"] else status


def _claim_header() -> list[str]:
    return [
        "claim",
        "comparison",
        "claimed Django",
        "claimed DataFlow",
        "claimed advantage",
        "Django measured",
        "DataFlow measured",
        "measured advantage",
        "verdict",
    ]


def _claim_row(row) -> list[str]:
    claim, unit = row.claim, row.claim["unit"]
    dataflow_label = "published dataflow" if row.dataflow_name == "dataflow" else "reference"
    return [
        claim["title"],
        "; ".join(filter(None, [row.comparison, f"DataFlow = {dataflow_label}", f"Django = {row.django_name}"])),
        f"{claim['django']:,} {unit}",
        f"{claim['dataflow']:,} {unit}",
        f"{row.claimed_ratio:.3g}x",
        _measured(row.django, unit),
        _measured(row.dataflow, unit),
        "—" if row.ratio is None else ratio_text(row.ratio),
        f"{row.verdict.upper()}: {row.reason}",
    ]


def _measured(measure, unit: str) -> str:
    if measure.low is None and not measure.percentiles:
        return f"— ({measure.problem})"
    value = "" if measure.low is None else _value(measure, unit)
    pct = measure.percentiles
    spread = f"{_ms(pct.get('p50_ms'))} / {_ms(pct.get('p95_ms'))} / {_ms(pct.get('p99_ms'))} ms" if pct else ""
    parts = [p for p in (value, measure.detail, spread, f"n={measure.requests}" if measure.requests else "") if p]
    if measure.problem:
        parts.append(f"({measure.problem})")
    return "; ".join(parts)


def _value(measure, unit: str) -> str:
    if unit == "users":
        return f"{measure.low:,.0f} users" + (
            "" if measure.high == float("inf") else f" (fails at {measure.high:,.0f})"
        )
    if unit == "MB":
        return f"{measure.low:.3g} MB per request"
    return f"{measure.low:.3g} {unit}"


def _operation_rows(record: dict) -> list[list[str]]:
    rows = []
    for name, variant in record["variants"].items():
        for operation, s in variant["operations"].items():
            rows.append(
                [
                    name,
                    variant["hasher"],
                    operation,
                    str(s["requests"]),
                    str(s["failures"]),
                    _ms(s["p50_ms"]),
                    _ms(s["p95_ms"]),
                    _ms(s["p99_ms"]),
                    _ms(s["mean_ms"], 2),
                    _ms(s["min_ms"], 2),
                    _ms(s["max_ms"], 1),
                    f"{s['rps']:.1f}",
                ]
            )
    return rows


def _app_blocks(app: str, outcome: dict, cores: int) -> list[tuple]:
    steps = outcome["steps"]
    memory = outcome.get("memory") or {}
    lines = [f"Server: {outcome['server']}. Largest step sustained: {sustained_users(steps)} users."]
    if outcome.get("server_cpu_peak") is not None:
        lines.append(
            f"CPU peaks (100% = one core of {cores}): server {outcome['server_cpu_peak']:.0f}%, "
            f"Locust {outcome['generator_cpu_peak']:.0f}%."
        )
    if memory:
        lines.append(
            f"Memory at {memory['step_users']} users: idle RSS {memory['idle_rss_bytes'] / MB:.1f} MB, peak "
            f"{_mb(memory['peak_rss_bytes'])}, growth {_mb(memory['growth_bytes'])}, "
            f"{memory['in_flight']:.2f} requests in flight, {_mb(memory['per_request_bytes'])} per request."
        )
    warnings = sorted({w["message"] for w in outcome.get("locust_warnings", [])})
    lines.append("Locust warnings: " + ("; ".join(warnings) if warnings else "none") + ".")
    rows = [
        [
            str(s["users"]),
            str(s["requests"]),
            str(s["failures"]),
            _ms(s["p50_ms"]),
            _ms(s["p95_ms"]),
            _ms(s["p99_ms"]),
            f"{s['rps']:.1f}",
            f"{s['in_flight']:.2f}",
            "-" if s.get("generator_cpu_peak") is None else f"{s['generator_cpu_peak']:.0f}%",
            "yes" if s["sustained"] else "no",
            _generator_note(s),
        ]
        for s in steps
    ]
    header = [
        "users",
        "requests",
        "failed",
        "p50",
        "p95",
        "p99",
        "req/s",
        "in flight",
        "Locust CPU",
        "sustained",
        "note",
    ]
    return [("h3", f"{app}"), ("p", " ".join(lines)), ("table", header, rows)]


def _generator_note(step: dict) -> str:
    if not step.get("generator_limited"):
        return ""
    return "Locust near its limit: this step may measure the load generator" + (
        "" if step["sustained"] else ", so the app's ceiling is not known to be here"
    )


def _failure_rows(record: dict) -> list[list[str]]:
    rows = []
    for kind, group in (("in-process", record["variants"]), ("HTTP", record["apps"])):
        for name, outcome in group.items():
            for failure in outcome["failures"]:
                rows.append([f"{kind} {name}", failure["name"], str(failure["occurrences"]), failure["error"][:300]])
    return rows


def _setting(value) -> str:
    return json.dumps(value) if isinstance(value, dict) else str(value)


def _ms(value, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _mb(value) -> str:
    return "—" if value is None else f"{value / MB:.3g} MB"
