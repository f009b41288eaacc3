"""nox -s mutation (tools/mutation/): every module of the reference is a target or left out with a reason, and
every target's suite modules exist, so a new module or a renamed suite cannot drop out of the score unseen; the
weekly workflow runs every target with the servers it needs."""

import json
import re
from pathlib import Path

import yaml

from tools.mutation.targets import EXCLUDED, TARGETS, session_name

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "dataflow_reference"
SUITE = ROOT / "conformance" / "dataflow_conformance" / "suite"


def test_every_reference_module_is_a_target_or_left_out_with_a_reason():
    modules = {p.relative_to(REFERENCE).with_suffix("").as_posix() for p in REFERENCE.rglob("*.py")}
    assert modules == set(TARGETS) | set(EXCLUDED)
    assert not set(TARGETS) & set(EXCLUDED)


def test_every_target_runs_existing_suite_modules_on_known_backends():
    for target in TARGETS.values():
        assert target.suites and target.backends, target.module
        for suite in target.suites:
            assert (SUITE / f"test_{suite}.py").exists(), f"{target.module}: no suite module test_{suite}.py"
        assert set(target.backends) <= {"sqlite", "postgresql", "mysql"}
        for suite in target.server_suites:
            module, _, name = suite.partition("::")
            path = SUITE / f"test_{module}.py"
            assert path.exists(), f"{target.module}: no suite module test_{module}.py"
            assert f"def {name}" in path.read_text(encoding="utf-8"), f"{target.module}: no test {name} in {path.name}"
        assert not target.server_suites or len(target.backends) > 1, f"{target.module}: server suites, no server"


WORKFLOW = ROOT / ".github" / "workflows" / "mutation.yml"
NEEDS = re.compile(r"contains\(fromJSON\('(\[.*?\])'\), matrix\.module\)")


def test_the_weekly_workflow_gives_each_module_the_servers_its_target_names():
    job = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["module"]
    assert sorted(job["strategy"]["matrix"]["module"]) == sorted(session_name(m) for m in TARGETS)
    for backend, service, variable in (
        ("postgresql", "postgres", "DFC_POSTGRESQL_URL"),
        ("mysql", "mysql", "DFC_MYSQL_URL"),
    ):
        needed = sorted(session_name(t.module) for t in TARGETS.values() if backend in t.backends)
        for where, expression in (
            (f"services.{service}.image", job["services"][service]["image"]),
            (f"env.{variable}", job["env"][variable]),
        ):
            listed = NEEDS.search(expression)
            assert listed, f"mutation.yml {where}: no contains(fromJSON('[...]'), matrix.module) in {expression}"
            assert sorted(json.loads(listed.group(1))) == needed, f"mutation.yml {where}: the modules needing {backend}"
