"""Self-tests of the load-test code (loadtests/): verdicts, the check command, the report, and the
reading of Locust's output. The load tests themselves run with `nox -s loadtests` / `loadtests_smoke`."""

import importlib.util
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Not importorskip: importing Locust monkey-patches the process with gevent, which breaks xdist workers.
if importlib.util.find_spec("locust") is None:
    pytest.skip("needs the loadtests extra: pip install -e '.[loadtests]'", allow_module_level=True)

from loadtests import results, verdicts  # noqa: E402
from loadtests.check import check_record, thresholds_for  # noqa: E402
from loadtests.conditions import describe  # noqa: E402
from loadtests.profiles import PROFILES  # noqa: E402
from loadtests.report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = verdicts.load_claims()


def op(p50, *, requests=100, failures=0, p95=None, p99=None):
    return {
        "requests": requests,
        "failures": failures,
        "mean_ms": p50,
        "min_ms": p50,
        "max_ms": p99 or p50,
        "rps": 10.0,
        "p50_ms": p50,
        "p95_ms": p95 or p50,
        "p99_ms": p99 or p50,
    }


def step(users, *, sustained=True, p95=50, requests=100, failures=0, start=0.0):
    return {
        "users": users,
        "start": start,
        "end": start + 10,
        "requests": requests,
        "failures": failures,
        "p50_ms": 10,
        "p95_ms": p95,
        "p99_ms": p95,
        "mean_ms": 20.0,
        "rps": requests / 10,
        "in_flight": requests / 10 * 0.02,
        "sustained": sustained,
    }


def variant(hasher="bcrypt", failures=(), **operations):
    return {"operations": operations, "failures": list(failures), "hasher": hasher, "locust_exit_code": 0}


def app(steps, per_request_mb=1.0):
    users = results.sustained_users(steps) or steps[0]["users"]
    memory = {
        "step_users": users,
        "idle_rss_bytes": 100 * verdicts.MB,
        "peak_rss_bytes": 110 * verdicts.MB,
        "growth_bytes": 10 * verdicts.MB,
        "in_flight": 10.0,
        "per_request_bytes": per_request_mb * verdicts.MB,
    }
    return {"operations": {}, "failures": [], "server": "test server", "steps": steps, "memory": memory}


def record(variants_=None, apps=None, profile="smoke"):
    now = time.time()
    return {
        "backend": "sqlite",
        "profile": profile,
        "started": now - 60,
        "finished": now,
        "upstream": "not installed (pip install kailash-dataflow)",
        "server_version": "SQLite 3",
        "variants": variants_ or {},
        "apps": apps or {},
        "environment": describe(PROFILES[profile]),
        "min_samples": PROFILES[profile].min_samples,
    }


def rows_for(rec, claim_id):
    return [row for row in verdicts.verdicts(rec, CLAIMS) if row.claim["id"] == claim_id]


def test_a_latency_claim_holds_only_when_value_and_advantage_both_meet_it():
    holding = record(
        {
            "dataflow_reference": variant(check_permission=op(1.5)),
            "django": variant(check_permission=op(25)),
        }
    )
    (row,) = rows_for(holding, "permission_check")
    assert row.verdict == verdicts.HOLDS
    assert row.ratio == (25 / 1.5, 25 / 1.5)

    fast_but_not_enough_ahead = record(
        {"dataflow_reference": variant(check_permission=op(2)), "django": variant(check_permission=op(3))}
    )
    (row,) = rows_for(fast_but_not_enough_ahead, "permission_check")
    assert row.verdict == verdicts.FAILS
    assert "advantage 1.5x" in row.reason


def test_user_creation_is_compared_with_both_hashers_and_bulk_import_in_seconds():
    rec = record(
        {
            "dataflow_reference": variant(create_user=op(300), bulk_import=op(40)),
            "django": variant("pbkdf2", create_user=op(360), bulk_import=op(90)),
            "django_bcrypt": variant(create_user=op(310)),
        }
    )
    creation = rows_for(rec, "user_creation")
    assert [r.django_name for r in creation] == ["django", "django_bcrypt"]
    assert all(r.verdict == verdicts.FAILS for r in creation)
    (bulk,) = rows_for(rec, "bulk_import")
    assert bulk.dataflow.low == pytest.approx(0.040)  # 40 ms in the claim's unit, seconds
    assert bulk.verdict == verdicts.FAILS  # 0.04 s meets "7 s", but 90/40 = 2.25x is short of 45/7 = 6.4x
    assert bulk.reason == "advantage 2.25x vs 6.43x claimed"


def test_failed_requests_or_a_missing_side_make_a_claim_not_measurable():
    rec = record(
        {
            "dataflow_reference": variant(check_permission=op(1)),
            "django": variant(
                check_permission=op(20, failures=3),
                failures=[{"name": "check_permission", "error": "boom", "occurrences": 3}],
            ),
        }
    )
    (row,) = rows_for(rec, "permission_check")
    assert row.verdict == verdicts.UNKNOWN
    assert "3 of 100 failed (boom)" in row.reason
    (missing,) = rows_for(rec, "bulk_import")
    assert missing.verdict == verdicts.UNKNOWN


def test_step_load_results_are_ranges():
    capped = record(apps={"dataflow_reference": app([step(10), step(20)]), "django": app([step(10), step(20)])})
    (row,) = rows_for(capped, "concurrent_users")
    assert row.verdict == verdicts.UNKNOWN  # both sustained every step: only lower bounds
    assert row.dataflow.low == 20 and row.dataflow.high == math.inf

    failed_early = record(
        apps={
            "dataflow_reference": app([step(100), step(200, sustained=False, p95=900)]),
            "django": app([step(100), step(200)]),
        }
    )
    (row,) = rows_for(failed_early, "concurrent_users")
    assert row.verdict == verdicts.FAILS  # DataFlow held below 200 users, nowhere near 10,000
    assert (row.dataflow.low, row.dataflow.high) == (100, 200)
    # Django sustained every step (no upper bound), DataFlow failed at 200: the advantage is below 200 / 200.
    assert row.ratio == (0, 1) and "advantage < 1x vs 100x claimed" in row.reason


def test_memory_per_request_verdict_uses_megabytes_per_request_in_flight():
    rec = record(
        apps={
            "dataflow_reference": app([step(10)], per_request_mb=0.5),
            "django": app([step(10)], per_request_mb=6.0),
        }
    )
    (row,) = rows_for(rec, "memory_per_request")
    assert row.dataflow.low == pytest.approx(0.5)
    assert row.verdict == verdicts.HOLDS  # 0.5 MB <= 5 MB and 6 / 0.5 = 12x >= 10x


def test_a_latency_cell_with_fewer_requests_than_the_profile_asks_gets_no_verdict():
    few = {
        "dataflow_reference": variant(check_permission=op(1, requests=29)),
        "django": variant(check_permission=op(20)),
    }
    rec = record(few, profile="short")
    (row,) = rows_for(rec, "permission_check")
    assert row.verdict == verdicts.UNKNOWN
    assert "29 check_permission requests within the profile's longest phase, fewer than the 30" in row.reason
    rec["variants"]["dataflow_reference"]["operations"]["check_permission"]["requests"] = 30
    (row,) = rows_for(rec, "permission_check")
    assert row.verdict == verdicts.HOLDS


def test_the_step_load_doubles_from_10_users_past_the_largest_claim():
    claimed = max(max(c["django"], c["dataflow"]) for c in CLAIMS["claims"] if c["measured_by"] == "step_load")
    for name in ("short", "full"):
        steps = PROFILES[name].steps
        assert steps[0] == 10 and all(b == 2 * a for a, b in itertools.pairwise(steps)), name
    assert PROFILES["full"].steps[-1] >= claimed


def test_memory_per_request_reads_peak_rss_of_the_sustained_step(tmp_path):
    samples = tmp_path / "samples.csv"
    samples.write_text(
        "time,server_rss_bytes,server_cpu_percent,generator_cpu_percent\n"
        "5,1100,0,0\n15,1300,0,0\n25,9999,0,0\n"  # the 25 s sample belongs to the failed step
    )
    steps = [step(10, start=0.0), step(20, start=10.0), step(40, start=20.0, sustained=False)]
    memory = results.memory_per_request({"steps": steps, "idle_rss_bytes": 1000}, samples)["memory"]
    assert memory["step_users"] == 20
    assert memory["peak_rss_bytes"] == 1300
    assert memory["per_request_bytes"] == pytest.approx(300 / steps[1]["in_flight"])


def passing_record():
    return record(
        {
            name: variant(create_user=op(300), bulk_import=op(50), check_permission=op(5), list_users=op(2))
            for name in ("dataflow_reference", "django")
        }
        | {"django_bcrypt": variant(create_user=op(300))},
        {"dataflow_reference": app([step(5), step(10)]), "django": app([step(5), step(10)])},
    )


def test_only_the_full_profile_gates_on_capacity():
    starved = passing_record()
    starved["apps"]["django"]["steps"] = [step(5, sustained=False, p95=900)]
    smoke = thresholds_for(ROOT / "loadtests" / "thresholds.toml", "smoke")
    assert all(ok for _, ok, _ in check_record(starved, smoke))
    full = thresholds_for(ROOT / "loadtests" / "thresholds.toml", "full")
    assert [what for what, ok, _ in check_record(starved, full) if not ok] == [
        "HTTP dataflow_reference sustained users",  # 10 users < 25
        "HTTP django sustained users",
    ]


def test_thresholds_pass_a_clean_run_and_fail_wrong_answers_and_slow_operations():
    limits = thresholds_for(ROOT / "loadtests" / "thresholds.toml", "smoke")
    assert all(ok for _, ok, _ in check_record(passing_record(), limits))

    broken = passing_record()
    broken["variants"]["dataflow_reference"]["operations"]["check_permission"] = op(5, failures=1)
    broken["variants"]["django"]["operations"]["list_users"] = op(5000, p95=5000)
    failed = [what for what, ok, _ in check_record(broken, limits) if not ok]
    assert failed == [
        "in-process dataflow_reference check_permission failures",
        "in-process django list_users p95",
    ]


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "loadtests", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_check_command_turns_a_run_into_an_exit_code(tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    for directory, rec in ((good, passing_record()), (bad, passing_record())):
        directory.mkdir()
        if directory is bad:
            rec["apps"]["django"]["steps"] = [step(5, sustained=False, failures=2)]
        (directory / "results.json").write_text(json.dumps(rec))
    done = run_cli("check", str(good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "33 passed, 0 failed"
    done = run_cli("check", str(good), str(bad))
    assert done.returncode == 1
    assert "FAIL sqlite: HTTP django failures at the first step: 2 failed" in done.stdout
    assert done.stdout.splitlines()[-1] == "65 passed, 1 failed"


def test_bad_input_gets_a_clear_error(tmp_path):
    done = run_cli("run", "--profile", "nope")
    assert done.returncode != 0 and "unknown profile 'nope'" in done.stderr
    done = run_cli("run", "--backend", "postgresql", env={"DFC_POSTGRESQL_URL": ""})
    assert done.returncode != 0 and "DFC_POSTGRESQL_URL is not set" in done.stderr
    done = run_cli("check", str(tmp_path))
    assert done.returncode != 0 and "results.json does not exist" in done.stderr


def test_report_has_every_claim_with_both_sides_and_a_verdict(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps(passing_record()))
    paths = write_report(run_dir, tmp_path / "reports")
    markdown = next(p for p in paths if p.suffix == ".md").read_text()
    for claim in CLAIMS["claims"]:
        assert f"| {claim['title']} |" in markdown
    assert "enable_monitoring=False" in markdown
    assert "DOES NOT HOLD: DataFlow 300 ms vs 8 ms claimed" in markdown
    # the memory row shows memory (the step's latencies belong to the concurrent-users row)
    (memory_row,) = [line for line in markdown.splitlines() if line.startswith("| Memory per request |")]
    assert "| 1 MB per request; RSS growth 10 MB over 10.00 requests in flight at 10 users; n=100 |" in memory_row
    assert " ms" not in memory_row
    html = next(p for p in paths if p.suffix == ".html").read_text()
    assert html.count("<table>") >= 4 and "<code>smoke</code>" in html
    assert any(p.suffix == ".png" for p in paths)


LOCUSTFILE = """
from locust import User, constant, events, task

class Timed(User):
    wait_time = constant(0.01)

    @task
    def fire(self):
        ok = self.environment.runner.stats.total.num_requests % 10 != 9
        events.request.fire(request_type="demo", name="op", response_time=12.0 if ok else 250.0,
                            response_length=0, exception=None if ok else ValueError("wrong answer"), context={})
"""


def test_read_locust_parses_what_a_real_locust_run_writes(tmp_path):
    (tmp_path / "job.py").write_text(LOCUSTFILE)
    prefix = tmp_path / "out"
    command = [sys.executable, "-m", "locust", "-f", str(tmp_path / "job.py"), "--headless", "-u", "1", "-r", "1"]
    command += ["-t", "5s", "--csv", str(prefix), "--csv-full-history", "--only-summary"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # exit 1: failures
    parsed = results.read_locust(prefix)
    assert "op" in parsed["operations"], f"Locust ran no request (exit {done.returncode}):\n{done.stderr[-2000:]}"
    stats = parsed["operations"]["op"]
    assert stats["requests"] > 10 and 0 < stats["failures"] < stats["requests"]
    assert stats["p50_ms"] == 12 and stats["max_ms"] == 250
    assert parsed["failures"] == [
        {"name": "op", "error": "ValueError('wrong answer')", "occurrences": stats["failures"]}
    ]
    history = results.read_history(prefix)
    assert any(row["users"] == 1 for row in history)
