"""Self-tests of what a history run does (history/plan.py): SQLite for every release, the server backends for the
last release of each minor version, reports made by this kit for this clause set are kept, so a rerun after a
new release runs only that release; a stale report runs again."""

import datetime as dt

from dataflow_conformance.report.provenance import current

from history import store
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
    from history import index

    data = {
        "releases": {"0.4.0": {"backends": {"sqlite": {"ran": False, "reason": "the pack wrote no report (exit 4)"}}}}
    }
    index.record_not_run(data, "0.4.0", "sqlite", "not run yet: only the environments were built", keep_earlier=True)
    assert data["releases"]["0.4.0"]["backends"]["sqlite"]["reason"] == "the pack wrote no report (exit 4)"
    index.record_not_run(data, "0.4.0", "sqlite", "no DFC_SQLITE_URL")  # a run that tried says why, this time
    assert data["releases"]["0.4.0"]["backends"]["sqlite"]["reason"] == "no DFC_SQLITE_URL"
