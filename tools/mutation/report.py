"""docs/mutation/report.md from Cosmic Ray's results databases (`.mutation/sessions/*.sqlite`), the sessions'
timings (`*.json`) and the triage of equivalent mutants (docs/mutation/triage.toml).

Each mutant ends as one of: killed (a test failed), timed out (the pack ran past the session's timeout: a hang
is caught, so it counts as killed), survived, equivalent (survived, and the triage file says why no behaviour can
tell it apart), skipped (inside an annotation, annotations.py), incompetent or error (the tool could not run it).
Score: (killed + timed out) / (killed + timed out + survived), equivalents left out.
"""

import json
import sqlite3
import tomllib
from pathlib import Path

from .session import SESSIONS, census, paths
from .targets import TARGETS

REPORT = Path("docs/mutation/report.md")
TRIAGE = Path("docs/mutation/triage.toml")
COLUMNS = ("mutants", "run", "killed", "timed out", "survived", "equivalent", "no verdict", "skipped")


def classify(worker_outcome: str, test_outcome: str | None, output: str | None) -> str:
    """What one result of the tool's database means (it stores its enums by name: `KILLED`, `SKIPPED`, ...)."""
    worker_outcome, test_outcome = worker_outcome.lower(), (test_outcome or "").lower()
    if worker_outcome == "skipped":
        return "skipped"
    if worker_outcome != "normal":
        return "error"
    if test_outcome == "killed":
        return "timed out" if output == "timeout" else "killed"
    return {"survived": "survived", "incompetent": "incompetent"}.get(test_outcome, "error")


def mutant_key(module: str, line: int, operator: str, occurrence: int) -> str:
    return f"{module}:{line} {operator.removeprefix('core/')} #{occurrence}"


def triage() -> dict[str, dict]:
    """Triaged survivors: key -> {"kind": "equivalent" | "outside", "why": ...}. An equivalent mutant leaves the
    score; one outside the contract (observable only through an API the contract does not cover) stays a
    survivor, listed with its reason."""
    if not TRIAGE.exists():
        return {}
    entries = tomllib.loads(TRIAGE.read_text(encoding="utf-8")).get("mutant", [])
    return {mutant_key(e["module"], e["line"], e["operator"], e["occurrence"]): e for e in entries}


def changed_line(diff: str | None) -> str:
    """The mutated line, from the tool's diff."""
    added = [
        line[1:].strip() for line in (diff or "").splitlines() if line.startswith("+") and not line.startswith("++")
    ]
    return added[0] if added else ""


def module_results(module: str, triaged: dict[str, dict]) -> tuple[dict[str, int], list[dict]]:
    _, database, _ = paths(TARGETS[module])
    query = (
        "SELECT s.start_pos_row, s.operator_name, s.occurrence, r.worker_outcome, r.test_outcome, r.output, r.diff "
        "FROM mutation_specs s LEFT JOIN work_results r ON r.job_id = s.job_id ORDER BY s.start_pos_row"
    )
    with sqlite3.connect(database) as db:
        rows = db.execute(query).fetchall()
    tally = dict.fromkeys(COLUMNS, 0)
    survivors = []
    for line, operator, occurrence, worker, test, output, diff in rows:
        outcome = "pending" if worker is None else classify(worker, test, output)
        key = mutant_key(module, line, operator, occurrence)
        kind = triaged.get(key, {}).get("kind")
        if outcome == "survived" and kind == "equivalent":
            outcome = "equivalent"
        if outcome == "skipped":
            tally["skipped"] += 1
            continue
        tally["mutants"] += 1
        if outcome != "pending":
            tally["run"] += 1
        if outcome in ("error", "incompetent"):
            outcome = "no verdict"
        if outcome in tally:
            tally[outcome] += 1
        if outcome == "survived":
            survivors.append({"key": key, "line": changed_line(diff), "why": triaged.get(key, {}).get("why")})
    return tally, survivors


def score(tally: dict[str, int]) -> str:
    killed = tally["killed"] + tally["timed out"]
    judged = killed + tally["survived"]
    return f"{100 * killed / judged:.1f}%" if judged else "–"


def wall_time(meta: dict) -> str:
    runs = meta.get("runs", [])
    if not runs:
        return "–"
    shown = [f"{r['seconds'] / 60:.1f} min ({r['mutants']})" for r in runs]
    baseline = f"baseline {meta['baseline_seconds'] / 60:.1f} min; " if "baseline_seconds" in meta else ""
    return baseline + " + ".join(shown)


def earlier(module: str, report: str) -> tuple[str | None, list[str]]:
    """A module's row and survivor lines in the report as it stands, when they come from a session this
    checkout does not have (the sessions are local): kept, marked as earlier, so that writing the report
    where only some modules ran does not drop the others' results."""
    starts = (f"| `{module}` |", f"| `{module}` (earlier session) |")
    row = next((line for line in report.splitlines() if line.startswith(starts)), None)
    if row is None or "| not run |" in row:
        return None, []
    cells = row.strip("|").split("|")
    if len(cells) == len(COLUMNS) + 3:  # a report from before the *no verdict* column
        cells.insert(8, " – ")
    if "(earlier session)" not in cells[0]:
        cells[0] = cells[0].rstrip() + " (earlier session) "
    lines = [line for line in report.splitlines() if line.startswith(f"- `{module}:")]
    return "|" + "|".join(cells) + "|", lines


def render() -> str:
    triaged = triage()
    standing = REPORT.read_text(encoding="utf-8") if REPORT.exists() else ""
    rows, survivors, totals, not_run, partly = [], [], dict.fromkeys(COLUMNS, 0), [], []
    carried: list[str] = []
    for module, target in TARGETS.items():
        _, database, meta_path = paths(target)
        row, lines = (None, []) if database.exists() else earlier(module, standing)
        if row is not None:
            rows.append(row)
            carried += lines
            continue
        if not database.exists():
            mutants, skipped = census(target)
            not_run.append(module)
            totals["mutants"] += mutants
            totals["skipped"] += skipped
            backends = ", ".join(target.backends)
            rows.append(f"| `{module}` | {backends} | {mutants} | not run | | | | | | {skipped} | | |")
            continue
        tally, found = module_results(module, triaged)
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        before = meta.get("before")
        cells = [str(tally[c]) for c in COLUMNS]
        if before:  # survivors run again after new tests: the outcomes before them, then now
            cells[2] = f"{before.get('killed', 0)} → {cells[2]}"
            cells[4] = f"{before.get('survived', 0)} → {cells[4]}"
            if before.get("timed out", 0) != tally["timed out"]:  # timed-out mutants run again (--retest-timeouts)
                cells[3] = f"{before.get('timed out', 0)} → {cells[3]}"
        backends = ", ".join(target.backends)
        rows.append(f"| `{module}` | {backends} | " + " | ".join(cells) + f" | {score(tally)} | {wall_time(meta)} |")
        survivors += found
        totals = {c: totals[c] + tally[c] for c in COLUMNS}
        if tally["run"] < tally["mutants"]:
            partly.append(f"`{module}` ({tally['run']} of {tally['mutants']})")
    out = [
        "# Mutation report",
        "",
        "Generated by `nox -s mutation` (tools/mutation/report.py) from Cosmic Ray's results databases; see",
        "[README.md](README.md) for what runs and [triage.toml](triage.toml) for the equivalent mutants.",
        "",
    ]
    if carried or any("(earlier session)" in row for row in rows):
        out += [
            "Rows marked *(earlier session)* are kept from this report as it stood: their sessions are not in this",
            "checkout's `.mutation/` (nor in the total below); a run of those modules here replaces them.",
            "",
        ]
    if not_run:
        out += [
            f"**Partial:** {len(rows) - len(not_run)} of {len(TARGETS)} behaviour modules have run; not run yet: "
            + ", ".join(f"`{m}`" for m in not_run)
            + ".",
            "",
        ]
    if partly:
        out += [
            "**Partly run** (resumable: `nox -s mutation -- run MODULE` goes on where it stopped): "
            + ", ".join(partly)
            + "; their scores are over the mutants run so far.",
            "",
        ]
    out += [
        "| module | backends | " + " | ".join(COLUMNS) + " | score | wall time (mutants) per exec |",
        "|---|---|" + "---|" * (len(COLUMNS) + 2),
        *rows,
        "| **total** | | " + " | ".join(str(totals[c]) for c in COLUMNS) + f" | {score(totals)} | |",
        "",
        "*mutants*: made by Cosmic Ray's operators (for a module not run yet, counted by its `init`), less those",
        "inside annotations (*skipped*); *score*: killed and timed out over those plus the survivors (those outside",
        "the contract included), equivalents left out, over the modules that ran; *killed*, *survived*: `a → b` when",
        "survivors were run again after new tests (`run --retest-survivors`); wall time: the baseline (the pack on",
        "the unmutated copy, once per session), then one entry per `cosmic-ray exec` (the first is the full run, the",
        "others resumed or retested runs), with the mutants it ran; *no verdict*: the tool recorded no outcome (an",
        "HTTP worker's request that passed the distributor's 5-minute limit): run again by the next run.",
        "",
        "## Survivors outside the contract",
        "",
        "Observable only through an API the contract does not cover (triage.toml says which); they count against",
        "the score.",
        "",
    ]
    out += [f"- `{s['key']}`: `{s['line']}`: {s['why']}" for s in survivors if s["why"]] + carried or ["None."]
    out += ["", "## Survivors not triaged", ""]
    out += [f"- `{s['key']}`: `{s['line']}`" for s in survivors if not s["why"]] or ["None."]
    return "\n".join(out) + "\n"


def write() -> None:
    SESSIONS.mkdir(parents=True, exist_ok=True)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(render(), encoding="utf-8")
    print(f"[mutation] wrote {REPORT}")
