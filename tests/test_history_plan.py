"""Self-tests of what a history run does (history/plan.py): SQLite for every release, the server backends for the
last release of each minor version, reports made by this kit for this clause set are kept, so a rerun after a
new release runs only that release; a stale report runs again."""

import argparse
import datetime as dt
import os
import signal
import threading
import time

import pytest
from dataflow_conformance.report.provenance import current

from history import index, store
from history.__main__ import run_job
from history.environments import Environment
from history.plan import make
from history.releases import Release

DAY = dt.datetime(2026, 7, 21, 9, 5, tzinfo=dt.timezone.utc)
RELEASES = [Release("2.19.0", DAY), Release("2.19.1", DAY), Release("2.20.1", DAY + dt.timedelta(days=52))]
SERVERS = {"postgresql": "postgresql://postgres@127.0.0.1:5432/test", "mysql": None}
KIT, CONTRACT = current()["kit"]["version"], current()["contract"]["fingerprint"]


def planned(plan):
    return sorted((job.release.version, job.backend) for job in plan.run)


def write_report(root, version, backend, kit=KIT):
    report = {"kit": {"version": kit}, "contract": {"fingerprint": CONTRACT}}
    store.write(root / version / f"{backend}.json.gz", report, {})


def test_sqlite_for_every_release_servers_for_the_last_of_each_minor(tmp_path):
    plan = make(RELEASES, tmp_path, SERVERS, KIT, CONTRACT)
    assert planned(plan) == [("2.19.0", "sqlite"), ("2.19.1", "postgresql"), ("2.19.1", "sqlite"),
                             ("2.20.1", "postgresql"), ("2.20.1", "sqlite")]  # fmt: skip
    # a server without a URL is said, per release, never skipped in silence
    assert plan.not_run == {
        ("2.19.1", "mysql"): "no DFC_MYSQL_URL in this run",
        ("2.20.1", "mysql"): "no DFC_MYSQL_URL in this run",
    }


def test_a_rerun_after_a_new_release_touches_only_that_release(tmp_path):
    for version, backend in planned(make(RELEASES[:2], tmp_path, SERVERS, KIT, CONTRACT)):
        write_report(tmp_path, version, backend)  # the first run's reports
    plan = make(RELEASES, tmp_path, SERVERS, KIT, CONTRACT)  # 2.20.1 is out
    assert planned(plan) == [("2.20.1", "postgresql"), ("2.20.1", "sqlite")]
    assert len(plan.current) == 3


def test_a_report_of_another_kit_runs_again(tmp_path):
    write_report(tmp_path, "2.19.0", "sqlite", kit="0.0.1")
    assert ("2.19.0", "sqlite") in planned(make(RELEASES, tmp_path, SERVERS, KIT, CONTRACT))


def test_a_stored_report_names_no_machine_path(tmp_path):
    """history/store.py: gzipped compact JSON, the same bytes for the same report, machine paths replaced."""
    report = {"tests": [{"message": "at /home/me/.cache/envs/2.20.1/lib/x.py and /home/me/y"}]}
    store.write(tmp_path / "a.json.gz", report, {"/home/me/.cache/envs/2.20.1": "<env>", "/home/me": "~"})
    store.write(tmp_path / "b.json.gz", report, {"/home/me/.cache/envs/2.20.1": "<env>", "/home/me": "~"})
    assert store.read(tmp_path / "a.json.gz") == {"tests": [{"message": "at <env>/lib/x.py and ~/y"}]}
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_an_environments_only_run_keeps_what_an_earlier_run_learnt():
    data = {
        "releases": {"0.4.0": {"backends": {"sqlite": {"ran": False, "reason": "the pack wrote no report (exit 4)"}}}}
    }
    index.record_not_run(data, "0.4.0", "sqlite", "not run yet: only the environments were built", keep_earlier=True)
    assert data["releases"]["0.4.0"]["backends"]["sqlite"]["reason"] == "the pack wrote no report (exit 4)"
    index.record_not_run(data, "0.4.0", "sqlite", "no DFC_SQLITE_URL")  # a run that tried says why, this time
    assert data["releases"]["0.4.0"]["backends"]["sqlite"]["reason"] == "no DFC_SQLITE_URL"


EARLIER_ROWS = {
    "no report": {"ran": False, "reason": "an earlier run's reason"},
    "a stale report": {"ran": True, "report": "2.19.0/sqlite.json.gz", "passed": 30, "failed": 90},
}


@pytest.mark.parametrize("earlier", list(EARLIER_ROWS))
def test_an_interrupted_job_stops_its_pack_and_its_row_says_so(tmp_path, earlier):
    """history/__main__.py run_job and history/runner.py: Ctrl-C or SIGTERM during a job stops pytest and its
    workers (they run in their own session, so no signal reaches them otherwise) and the release's row says the
    job was interrupted, not what an earlier run found: as its reason, or beside the stale report it keeps."""
    pids = tmp_path / "pids"
    python = tmp_path / "python"  # stands in for the release's interpreter: a pack run with one worker that hangs
    python.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pids}\nwait\n")
    python.chmod(0o755)
    job = make(RELEASES[:1], tmp_path, SERVERS, KIT, CONTRACT).run[0]
    data = {"releases": {"2.19.0": {"backends": {"sqlite": dict(EARLIER_ROWS[earlier])}}}}
    args = argparse.Namespace(out=tmp_path, workers=1, pytest_args=[])
    env = Environment("2.19.0", "", str(python))

    def interrupt_once_the_worker_runs():
        deadline = time.monotonic() + 30
        while not pids.exists() or not pids.read_text().strip():
            if time.monotonic() > deadline:  # run_job failed before the pack started: pytest.raises says so
                return
            time.sleep(0.05)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # as Ctrl-C does

    threading.Thread(target=interrupt_once_the_worker_runs, daemon=True).start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # pytest-xdist's workers ignore SIGINT
    try:
        with pytest.raises(KeyboardInterrupt):
            run_job(data, job, python, env, args)
    finally:
        signal.signal(signal.SIGINT, previous)
    worker = int(pids.read_text())
    time.sleep(0.2)  # the kill is sent; a zombie or a gone process both read as stopped
    state = open(f"/proc/{worker}/stat").read().split()[2] if os.path.exists(f"/proc/{worker}/stat") else "gone"
    assert state in ("Z", "gone"), f"the pack's worker {worker} still runs ({state})"
    row = index.load(tmp_path)["releases"]["2.19.0"]["backends"]["sqlite"]
    said = row["attempt"] if row["ran"] else row["reason"]
    assert said.startswith("interrupted after "), row
    assert row["ran"] == EARLIER_ROWS[earlier]["ran"], "the row lost the report it had"
