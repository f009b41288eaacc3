"""One Cosmic Ray session per target module, under the git-ignored `.mutation/`:

- `.mutation/src/dataflow_reference/`: the copy of the reference that Cosmic Ray mutates (laid anew from
  `reference/` before every run, so a run stopped in the middle of a mutant never leaves it behind, and the
  checkout itself is never mutated), and `.mutation/src/dataflow_conformance/`, the pack as the run began;
  the test command imports both through PYTHONPATH (see pack.py).
- `.mutation/sessions/<module>.toml`: the tool's config (module path, timeout, test command, distributor);
  `<module>.sqlite`: the tool's results database, which makes a run resumable (`cosmic-ray exec` runs only
  the mutants that have no result yet); `<module>.reach.json`: which tests reach each line (reach.py);
  `<module>.json`: the source's digest, the baseline's time and the wall time of every exec.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import reach
from .targets import TARGETS, Target, session_name

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(".mutation")
SOURCE = Path("reference/dataflow_reference")
PACK = Path("conformance/dataflow_conformance")
COPY = WORK / "src"
SESSIONS = WORK / "sessions"
URL_VARIABLES = {"postgresql": "DFC_POSTGRESQL_URL", "mysql": "DFC_MYSQL_URL"}


def lay_copy() -> None:
    """The reference, copied where Cosmic Ray mutates it (relative paths: a worker's checkout has its own), and
    the pack beside it, so that tests edited during a long run do not change the verdicts halfway (the links
    to docs/contract are copied as files)."""
    shutil.rmtree(COPY, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(SOURCE, COPY / "dataflow_reference", ignore=ignore)
    shutil.copytree(PACK, COPY / "dataflow_conformance", ignore=ignore)


def paths(target: Target) -> tuple[Path, Path, Path]:
    name = SESSIONS / session_name(target.module)
    return name.with_suffix(".toml"), name.with_suffix(".sqlite"), name.with_suffix(".json")


def missing_servers(target: Target) -> list[str]:
    return [URL_VARIABLES[b] for b in target.backends if b in URL_VARIABLES and not os.environ.get(URL_VARIABLES[b])]


def write_config(target: Target, timeout: float, workers: list[str], record_reach: bool = False) -> Path:
    config, _, _ = paths(target)
    distributor = '[cosmic-ray.distributor]\nname = "local"\n'
    if workers:
        urls = ", ".join(f'"{url}"' for url in workers)
        distributor = (
            f'[cosmic-ray.distributor]\nname = "http"\n\n[cosmic-ray.distributor.http]\nworker-urls = [{urls}]\n'
        )
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{COPY / target.path}"\n'
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f'test-command = "python -m tools.mutation pack {target.module}{" --record-reach" if record_reach else ""}"\n\n'
        + distributor,
        encoding="utf-8",
    )
    return config


def digest(target: Target) -> str:
    return hashlib.sha256((SOURCE / f"{target.module}.py").read_bytes()).hexdigest()


def load_meta(target: Target) -> dict:
    _, _, meta = paths(target)
    return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}


def save_meta(target: Target, meta: dict) -> None:
    paths(target)[2].write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def cosmic_ray(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], check=True)


def initialise(target: Target, workers: list[str]) -> dict:
    """A new session: the pack must pass on the unmutated copy (its time sets the timeout; it runs under coverage
    to learn which tests reach each line, reach.py), then every mutant the tool's operators make is recorded, and
    those inside annotations are skipped (annotations.py)."""
    config, database, _ = paths(target)
    started = time.monotonic()
    reach.map_path(SESSIONS, target).unlink(missing_ok=True)
    write_config(target, 3600, [], record_reach=True)
    cosmic_ray("baseline", str(config))
    baseline = time.monotonic() - started
    # A mutant that makes the pack hang or crawl is killed after 3x the unmutated run (and at least 2 minutes);
    # that run is under coverage, slower than a mutant's, so the limit errs long.
    meta = {"module": target.module, "source": digest(target), "baseline_seconds": round(baseline, 1), "runs": []}
    meta["timeout"] = max(120.0, 3 * baseline)
    write_config(target, meta["timeout"], workers)
    database.unlink(missing_ok=True)
    cosmic_ray("init", str(config), str(database))
    from .annotations import skip_annotations

    skip_annotations(database)
    save_meta(target, meta)
    return meta


def census(target: Target) -> tuple[int, int]:
    """(mutants, skipped in annotations) that a session of the module would hold, without running any: the
    tool's `init` on the checkout's source into `.mutation/census/` (kept while the source is unchanged)."""
    folder = WORK / "census"
    folder.mkdir(parents=True, exist_ok=True)
    name = folder / f"{session_name(target.module)}-{digest(target)[:12]}"
    config, database = name.with_suffix(".toml"), name.with_suffix(".sqlite")
    if not database.exists():
        config.write_text(
            f'[cosmic-ray]\nmodule-path = "{SOURCE / (target.module + ".py")}"\ntimeout = 1\n'
            'excluded-modules = []\ntest-command = "false"\n\n[cosmic-ray.distributor]\nname = "local"\n',
            encoding="utf-8",
        )
        cosmic_ray("init", str(config), str(database))
        from .annotations import skip_annotations

        skip_annotations(database)
    with sqlite3.connect(database) as db:
        total = db.execute("SELECT count(*) FROM work_items").fetchone()[0]
        skipped = db.execute("SELECT count(*) FROM work_results WHERE worker_outcome = 'SKIPPED'").fetchone()[0]
    return total - skipped, skipped


def counts(database: Path) -> tuple[int, int]:
    """(mutants, with a result) in the tool's database."""
    with sqlite3.connect(database) as db:
        total = db.execute("SELECT count(*) FROM work_items").fetchone()[0]
        done = db.execute("SELECT count(*) FROM work_results").fetchone()[0]
    return total, done


def watch(target: Target, database: Path, stop: threading.Event, every: float = 60) -> None:
    """Progress from the tool's database, every minute."""
    started = time.monotonic()
    while not stop.wait(every):
        total, done = counts(database)
        with sqlite3.connect(database) as db:
            survived = db.execute("SELECT count(*) FROM work_results WHERE test_outcome = 'SURVIVED'").fetchone()[0]
        elapsed = time.monotonic() - started
        print(f"[mutation] {target.module}: {done}/{total} done, {survived} survived, {elapsed:.0f} s", flush=True)


def outcomes(database: Path) -> dict[str, int]:
    """How many mutants ended how, as the tool recorded them (report.py says what each means)."""
    from .report import classify

    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT worker_outcome, test_outcome, output FROM work_results").fetchall()
    found: dict[str, int] = {}
    for row in rows:
        found[classify(*row)] = found.get(classify(*row), 0) + 1
    return found


# A mutant not run yet, set aside while the survivors of a partial session are retested (they go first).
DEFERRED = "deferred while the survivors are retested"


def forget_survivors(target: Target, database: Path, meta: dict, timeouts: bool = False) -> None:
    """Survivors not triaged as equivalent become pending again (their results are removed from the tool's
    database), so the next exec runs them against the pack as it is now; the outcomes before are kept for the
    report. In a session not run to its end, the mutants not run yet are set aside for that exec (a result the
    tool skips), so the retest is not spread among them; `restore_deferred` makes them pending again after it."""
    from .report import mutant_key, triage

    meta.setdefault("before", outcomes(database))
    equivalent = {key for key, entry in triage().items() if entry["kind"] == "equivalent"}
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO work_results (worker_outcome, output, job_id) SELECT 'SKIPPED', ?, job_id FROM work_items"
            " WHERE job_id NOT IN (SELECT job_id FROM work_results)",
            (DEFERRED,),
        )
        survivors = db.execute(
            "SELECT r.job_id, s.start_pos_row, s.operator_name, s.occurrence FROM work_results r"
            " JOIN mutation_specs s ON s.job_id = r.job_id WHERE r.test_outcome = 'SURVIVED'"
        ).fetchall()
        # A survivor triaged as equivalent is not run again: no test can kill it.
        again = [(job,) for job, *spec in survivors if mutant_key(target.module, *spec) not in equivalent]
        db.executemany("DELETE FROM work_results WHERE job_id = ?", again)
        if timeouts:  # judged under a timeout a busier machine made too short (run --timeout)
            db.execute("DELETE FROM work_results WHERE test_outcome = 'KILLED' AND output = 'timeout'")


def restore_deferred(database: Path) -> None:
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM work_results WHERE output = ?", (DEFERRED,))


def retry_abnormal(target: Target, database: Path) -> None:
    """Mutants that ended without a verdict (ABNORMAL: a worker that went away, or the HTTP distributor's own
    limit of 5 minutes per request, which a slow pack can pass before the tool's timeout) become pending
    again: the next exec runs them (without `--workers`, the local distributor has no such limit)."""
    with sqlite3.connect(database) as db:
        found = db.execute("DELETE FROM work_results WHERE worker_outcome = 'ABNORMAL'").rowcount
    if found:
        print(f"[mutation] {target.module}: {found} mutant(s) without a verdict run again")


def run(
    target: Target, workers: list[str], retest: bool = False, timeout: float | None = None, timeouts: bool = False
) -> None:
    config, database, _ = paths(target)
    meta = load_meta(target)
    if not database.exists() or meta.get("source") != digest(target):
        if database.exists():
            print(f"[mutation] {target.module}: the source changed since its session began: starting anew")
        meta = initialise(target, workers)
    else:
        restore_deferred(database)  # left by a retest that was stopped
        if retest or timeouts:
            forget_survivors(target, database, meta, timeouts)
        retry_abnormal(target, database)
    write_config(target, timeout or meta["timeout"], workers)  # the distributor and timeout of this run
    before = counts(database)[1]
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(target, database, stop), daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        cosmic_ray("--verbosity", "INFO", "exec", str(config), str(database))
    finally:
        stop.set()
        ran = counts(database)[1] - before  # before the mutants set aside are pending again
        restore_deferred(database)
        total, done = counts(database)
        meta["runs"].append({"seconds": round(time.monotonic() - started, 1), "mutants": ran})
        save_meta(target, meta)
    print(f"[mutation] {target.module}: {done}/{total} done after this run")


def run_all(
    modules: list[str], workers: list[str], retest: bool = False, timeout: float | None = None, timeouts: bool = False
) -> list[str]:
    """Run or resume each module's session; returns the modules whose baseline failed (the pack does not pass
    on the unmutated reference, so their mutants cannot be judged)."""
    SESSIONS.mkdir(parents=True, exist_ok=True)
    lay_copy()
    failed = []
    for module in modules:
        target = TARGETS[module]
        if missing := missing_servers(target):
            print(f"[mutation] {module}: not run, it runs only on a server: set {', '.join(missing)}")
            continue
        try:
            run(target, workers, retest, timeout, timeouts)
        except subprocess.CalledProcessError:
            print(f"[mutation] {module}: the pack fails on the unmutated reference (the baseline above): not run")
            failed.append(module)
    return failed


def worker(port: int) -> None:
    """A Cosmic Ray HTTP worker in this checkout: it mutates its own copy and runs the pack here."""
    lay_copy()
    cosmic_ray("--verbosity", "INFO", "http-worker", "--port", str(port))
