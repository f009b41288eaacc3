"""Self-tests of the history's environments (history/environments.py) on small real packages from the index:
the release-day cut-off decides the dependencies' versions, and a release that does not install or import is a
row with its reason. Needs the package index (as `nox -s history` does)."""

import datetime as dt
import json

import pytest

from history.environments import NOT_IMPORTABLE, NOT_INSTALLABLE, READY, Builder, unmet
from history.releases import Release, last_of_each_minor, parse, select

pytest.importorskip("uv", reason="needs uv: pip install 'uv>=0.9,<1'")

# pytest 7.0.0 came out on 2022-02-04 and asks for pluggy>=0.12,<2; pluggy 1.0.0 was the newest then (1.1.0: 2023).
PYTEST_7 = Release("7.0.0", dt.datetime(2022, 2, 4, 10, 21, 26, tzinfo=dt.timezone.utc))


def builder(tmp_path, **options):
    return Builder(tmp_path / "cache", None, requirement=options.pop("requirement", "pytest"), extras="", **options)


def test_the_release_day_decides_the_dependencies(tmp_path):
    env = builder(tmp_path, import_name="pytest").build(PYTEST_7)
    assert env.status == READY, env.reason
    assert env.packages["pytest"] == "7.0.0"
    assert env.packages["pluggy"] == "1.0.0"  # not the newest pluggy: the one a user got on 2022-02-04
    assert env.cutoff == "2022-02-04T23:59:59+00:00"
    record = json.loads((tmp_path / "cache" / f"py{env.python}" / "7.0.0" / "environment.json").read_text())
    assert record["packages"] == env.packages


def test_a_cached_environment_is_not_built_again(tmp_path):
    first = builder(tmp_path, import_name="pytest").build(PYTEST_7)
    again = builder(tmp_path, import_name="pytest").build(PYTEST_7)
    assert first.seconds > 0 and again.seconds == 0 and again.packages == first.packages


def test_a_release_that_cannot_be_installed_is_a_row_with_its_reason(tmp_path):
    missing = Release("0.0.1", dt.datetime(2022, 2, 3, tzinfo=dt.timezone.utc))  # pytest never had a 0.0.1
    env = builder(tmp_path, import_name="pytest").build(missing)
    assert env.status == NOT_INSTALLABLE
    assert "0.0.1" in env.reason and str(tmp_path) not in env.reason


def test_a_release_that_cannot_be_imported_is_a_row_with_its_reason(tmp_path):
    env = builder(tmp_path, import_name="no_such_module_here").build(PYTEST_7)
    assert env.status == NOT_IMPORTABLE
    assert "ModuleNotFoundError" in env.reason and str(tmp_path) not in env.reason


def test_kit_requirements_the_release_does_not_meet_are_named():
    found = unmet(["kailash>=2.2,<3", "jinja2>=3.1,<4", "absent>=1"], {"kailash": "0.8.1", "Jinja2": "3.1.4"})
    assert found == ["kailash <3,>=2.2 (the release has 0.8.1)"]


INDEX = {
    "releases": {
        "2.19.0": [{"upload_time_iso_8601": "2026-07-21T09:05:17.1Z", "yanked": False}],
        "2.19.1": [{"upload_time_iso_8601": "2026-07-21T12:43:49.5Z", "yanked": False}],
        "2.20.1": [{"upload_time_iso_8601": "2026-09-11T09:50:48Z", "yanked": False}],
        "2.10.0": [{"upload_time_iso_8601": "2026-05-18T20:33:32Z", "yanked": False}],
        "1.0.0": [],  # no file: nothing to install
    }
}


def test_releases_are_ordered_by_version_and_the_last_of_each_minor_is_known():
    releases = parse(INDEX)
    assert [r.version for r in releases] == ["2.10.0", "2.19.0", "2.19.1", "2.20.1"]
    assert last_of_each_minor(releases) == {"2.10.0", "2.19.1", "2.20.1"}
    assert [r.version for r in select(releases, [">=2.19,<2.20", "==2.10.0"])] == ["2.10.0", "2.19.0", "2.19.1"]
    assert releases[1].cutoff.isoformat() == "2026-07-21T23:59:59+00:00"
