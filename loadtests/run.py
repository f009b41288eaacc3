"""One load-test run on one backend: create the run's database, migrate and seed both sides, run the
in-process job per variant and the HTTP job per app (one after the other, so they never compete for
the CPU), and collect everything into the run directory's results.json.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import servers
from harness.databases import scratch_database
from harness.django_side import SETTINGS_MODULE as DJANGO_SETTINGS
from harness.environment import settle

from . import results
from .conditions import describe
from .plan import write_plan
from .profiles import Profile

JOBS = Path(__file__).parent / "jobs"
RNG_SEED = 20240601  # the same permission-check sequence on every side
REFERENCE, UPSTREAM = "dataflow_reference", "dataflow"
TABLE_PREFIX = {REFERENCE: "dfr", UPSTREAM: "dfu"}


def variants(upstream: bool) -> list[dict]:
    """Who runs in the in-process job. DataFlow hashes with bcrypt (the Kailash SDK's hasher) in every
    variant; Django runs with its default hasher, and once more with bcrypt for user creation."""
    found = [
        {"variant": REFERENCE, "side": REFERENCE, "hasher": "default", "operations": "all"},
        {"variant": "django", "side": "django", "hasher": "default", "operations": "all"},
        {"variant": "django_bcrypt", "side": "django", "hasher": "bcrypt", "operations": ["create_user"]},
    ]
    if upstream:
        found.append({"variant": UPSTREAM, "side": UPSTREAM, "hasher": "default", "operations": "all"})
    return found


def upstream_status() -> str:
    """'installed' or why the published kailash-dataflow cannot be measured here."""
    if importlib.util.find_spec(UPSTREAM) is None:
        return "not installed (pip install kailash-dataflow)"
    return "installed"


def run_backend(backend: str, profile: Profile, run_dir: Path, *, upstream: bool) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    status = upstream_status() if upstream else "skipped (--no-upstream)"
    settle(profile.settle_seconds, _log)
    record = {"backend": backend, "profile": profile.name, "started": time.time(), "upstream": status}
    record["min_samples"] = profile.min_samples  # a claim cell with fewer requests gets no verdict
    record["load_average_before"] = os.getloadavg()  # other work on the machine skews every number
    record["variants"], record["apps"] = {}, {}
    with scratch_database(backend, run_dir) as database:
        record["server_version"] = database.server_version
        _log(f"{backend}: {database.server_version}")
        django_env = {"DFC_LOAD_DATABASE_URL": database.url, "DJANGO_SETTINGS_MODULE": DJANGO_SETTINGS}
        _step(run_dir, "migrate", [sys.executable, "-m", "django", "migrate", "--noinput"], django_env)
        seeded = {"django": _seed(run_dir, "django", database.url, profile.seed_users)}
        sides = [REFERENCE] + ([UPSTREAM] if record["upstream"] == "installed" else [])
        for side in sides:
            try:
                seeded[side] = _seed(run_dir, side, database.url, profile.seed_users)
            except RuntimeError as exc:
                if side == REFERENCE:
                    raise
                record["upstream"] = f"failed while seeding: {exc}"  # reported, never fatal
        for spec in variants(UPSTREAM in seeded):
            _log(f"{backend}: in-process job, {spec['variant']}")
            try:
                outcome = _inprocess(run_dir, spec, database.url, seeded[spec["side"]], profile)
            except RuntimeError as exc:
                if spec["side"] != UPSTREAM:
                    raise
                record["upstream"] = f"failed in the in-process job: {exc}"  # reported, never fatal
                continue
            record["variants"][spec["variant"]] = outcome
        for app in (REFERENCE, "django"):
            _log(f"{backend}: HTTP job, {app} server")
            record["apps"][app] = _http(run_dir, app, database.url, seeded[app], profile)
    record["finished"] = time.time()
    record["load_average_after"] = os.getloadavg()
    record["environment"] = describe(profile)
    path = run_dir / "results.json"
    path.write_text(json.dumps(record, indent=1, default=str))
    return record


def _inprocess(run_dir: Path, spec: dict, url: str, user_ids: list[int], profile: Profile) -> dict:
    name = spec["variant"]
    operations = profile.phase_seconds if spec["operations"] == "all" else spec["operations"]
    plan = write_plan(
        run_dir / f"plan-{name}.json",
        variant=name,
        side=spec["side"],
        database_url=url,
        table_prefix=TABLE_PREFIX.get(spec["side"], "django"),
        user_ids=user_ids,
        rng_seed=RNG_SEED,
        phases={op: profile.phase_seconds[op] for op in operations},
        min_samples=profile.min_samples,
        max_phase_seconds=max(profile.max_phase_seconds, *(profile.phase_seconds[op] for op in operations)),
    )
    env = {"DFC_LOAD_PLAN": str(plan), "DFC_LOAD_DATABASE_URL": url, "LOCUST_SKIP_MONKEY_PATCH": "1"}
    env["DFC_LOAD_DJANGO_HASHER"] = spec["hasher"]
    prefix = run_dir / f"inprocess-{name}"
    code = _locust(run_dir, "inprocess", prefix, env, [])
    outcome = results.read_locust(prefix)
    outcome.update(hasher=_hasher_label(spec), locust_exit_code=code)
    return outcome


def _http(run_dir: Path, app: str, url: str, user_ids: list[int], profile: Profile) -> dict:
    steps_file = run_dir / f"http-{app}-steps.json"
    plan = write_plan(
        run_dir / f"plan-http-{app}.json",
        user_ids=user_ids,
        steps=list(profile.steps),
        step_seconds=profile.step_seconds,
        p95_bound_ms=profile.p95_bound_ms,
        think_time=list(profile.think_time),
        steps_file=str(steps_file),
    )
    env = servers.child_env(DFC_LOAD_DATABASE_URL=url, DFC_LOAD_TABLE_PREFIX=TABLE_PREFIX[REFERENCE])
    env["DFC_LOAD_POOL_SIZE"] = str(servers.CONNECTIONS_PER_WORKER)
    env["DJANGO_SETTINGS_MODULE"] = DJANGO_SETTINGS
    prefix = run_dir / f"http-{app}"
    with servers.running_server(app, profile.server_workers, env, run_dir / f"server-{app}.log") as (base, process):
        servers.warm_up(base, user_ids[0])
        time.sleep(1)
        idle_rss = servers.tree_rss(process)
        sampler = servers.Sampler(process, run_dir / f"http-{app}-samples.csv")
        sampler.start()
        processes = [] if profile.locust_processes == 1 else ["--processes", str(profile.locust_processes)]
        try:
            code = _locust(run_dir, "http", prefix, {"DFC_LOAD_PLAN": str(plan)}, ["--host", base, *processes], sampler)
        finally:
            sampler.stop()
    outcome = results.read_locust(prefix)
    outcome.update(
        server=servers.describe(app, profile.server_workers),
        idle_rss_bytes=idle_rss,
        steps=json.loads(steps_file.read_text()) if steps_file.exists() else [],
        locust_exit_code=code,
    )
    outcome.update(results.memory_per_request(outcome, run_dir / f"http-{app}-samples.csv"))
    outcome.update(results.cpu_peaks(run_dir / f"http-{app}-samples.csv"))
    outcome["locust_warnings"] = results.locust_warnings(prefix)
    cores = (os.cpu_count() or 1) if profile.locust_processes == -1 else profile.locust_processes
    results.mark_generator_limits(
        outcome["steps"], run_dir / f"http-{app}-samples.csv", outcome["locust_warnings"], cores
    )
    return outcome


def _locust(run_dir: Path, job: str, prefix: Path, env: dict, args: list[str], sampler=None) -> int:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(JOBS / f"{job}.py"),
        "--headless",
        "--only-summary",
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--json-file",
        str(prefix),
        "--loglevel",
        "WARNING",
        *args,
    ]
    with open(f"{prefix}.log", "w") as log:
        process = subprocess.Popen(command, env=servers.child_env(**env), stdout=log, stderr=subprocess.STDOUT)
        if sampler is not None:
            import psutil

            sampler.generator = psutil.Process(process.pid)
        # Locust exits 1 when any request failed: that is a result to report, not a crash.
        code = process.wait()
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"Locust ({job}) produced no statistics; see {prefix}.log:\n{_tail(Path(f'{prefix}.log'))}")
    return code


def _seed(run_dir: Path, side: str, url: str, count: int) -> list[int]:
    env = {"DFC_LOAD_DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": DJANGO_SETTINGS}
    command = [sys.executable, "-m", "harness", "seed", "--side", side, "--users", str(count)]
    command += ["--table-prefix", TABLE_PREFIX.get(side, "django"), "--out", str(run_dir / f"seed-{side}.json")]
    _step(run_dir, f"seed-{side}", command, env)
    return json.loads((run_dir / f"seed-{side}.json").read_text())


def _step(run_dir: Path, name: str, command: list[str], env: dict) -> None:
    log = run_dir / f"{name}.log"
    with open(log, "w") as handle:
        done = subprocess.run(command, env=servers.child_env(**env), stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}); see {log}:\n{_tail(log)}")


def _hasher_label(spec: dict) -> str:
    if spec["side"] == "django":
        return "PBKDF2-SHA256 (Django default)" if spec["hasher"] == "default" else "bcrypt, cost 12 (Django)"
    return "bcrypt, cost 12 (Kailash SDK hash_password)"


def _tail(path: Path, chars: int = 2500) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def _log(message: str) -> None:
    print(f"[loadtests {time.strftime('%H:%M:%S')}] {message}", flush=True)
