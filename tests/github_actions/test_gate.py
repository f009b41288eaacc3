"""The action and the reusable workflow, run as GitHub would (tests/github_actions/runner.py) for a
third-party implementation across a three-backend matrix, in fresh environments outside the checkout; and
the rules every workflow of this repository keeps (pinned actions, least permissions, inputs only through
the environment, timeouts)."""

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from .runner import Runner

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
PATHS = ("local", "async", "express", "express_sync")
FIXED_PER_BACKEND = [
    f"test_crud.py::{test}[{{backend}}-{path}]"
    for test in (
        "test_create_stores_and_returns_record",
        "test_read_returns_the_stored_record",
        "test_delete_removes_the_record",
    )
    for path in PATHS
]  # 12 tests that pass, listed as failing: 12 fixed entries per backend, more than 10 annotations
ADAPTER = '''"""acme's DataFlow: the reference, re-exported under acme's name."""

from dataflow_reference import CONFORMANCE_CAPABILITIES, DataFlow  # noqa: F401
'''
GITHUB_SUMMARY_LIMIT = 1024 * 1024  # GitHub drops a step summary above 1 MiB


def kit_version() -> str:
    return re.search(r'__version__ = "([^"]+)"', (ROOT / "conformance/dataflow_conformance/__init__.py").read_text())[1]


def uses_of(document) -> list[str]:
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            found += [value] if key == "uses" else uses_of(value)
    elif isinstance(document, list):
        for item in document:
            found += uses_of(item)
    return found


def run_scripts(document) -> list[str]:
    if isinstance(document, dict):
        own = [document["run"]] if isinstance(document.get("run"), str) else []
        return own + [s for v in document.values() for s in run_scripts(v)]
    if isinstance(document, list):
        return [s for item in document for s in run_scripts(item)]
    return []


@pytest.mark.parametrize("path", [*WORKFLOWS, ROOT / "action.yml"], ids=lambda p: p.name)
def test_actions_are_pinned_and_inputs_reach_scripts_only_through_the_environment(path):
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for uses in uses_of(document):
        if uses == "./" or uses.startswith("dataflow-conformance/dataflow-conformance"):
            continue  # this repository's own action: at this release's tag (below), or this commit
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses} is not pinned to a commit"
        assert re.search(re.escape(uses) + r" # v\d", path.read_text()), f"{path.name}: {uses} has no version comment"
    for script in run_scripts(document):
        assert "${{" not in script, f"{path.name}: an expression inside a run: script (pass it through env:)"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_least_permissions_and_bound_every_job(path):
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert workflow.get("permissions") == {}, f"{path.name}: no workflow-level permissions: {{}}"
    for job_id, job in workflow["jobs"].items():
        assert "timeout-minutes" in job or "uses" in job, f"{path.name}: job {job_id} has no timeout-minutes"
        assert "permissions" in job or "uses" in job, f"{path.name}: job {job_id} does not say what it needs"
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{path.name}: {job_id} keeps its token"


def test_the_documented_uses_lines_name_this_repository_at_this_release():
    """The reusable workflow's action, and every `uses:` a reader copies from the docs, name the repository in
    pyproject.toml at the tag of this version."""
    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    owner_repo = repository.removeprefix("https://github.com/")
    tag = f"v{kit_version()}"
    texts = {p: p.read_text(encoding="utf-8") for p in [*WORKFLOWS, ROOT / "action.yml", ROOT / "README.md",
                                                         *(ROOT / "docs").rglob("*.md")]}  # fmt: skip
    found = 0
    for path, text in texts.items():
        for match in re.finditer(r"uses: ([\w.-]+/dataflow-conformance[\w./-]*)@([\w.]+)", text):
            found += 1
            assert match[1].startswith(owner_repo) and match[2] == tag, (
                f"{path.name}: {match[0]} (want {owner_repo}@{tag})"
            )
    assert found >= 3


@pytest.fixture(scope="module")
def kit_checkout(tmp_path_factory) -> Path:
    """This repository as the action's ref holds it: the tracked and new files of the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.split()  # fmt: skip
    target = tmp_path_factory.mktemp("kit")
    for name in listed:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture(scope="module")
def acme_repository(tmp_path_factory) -> Path:
    """A third-party implementation's repository: its module and an expectations file whose entries name
    tests that pass (they are reported fixed)."""
    repository = tmp_path_factory.mktemp("acme")
    (repository / "acme_dataflow.py").write_text(ADAPTER, encoding="utf-8")
    lines = ["# acme's known failures", ""]
    for backend in ("sqlite", "postgresql", "mysql"):
        lines += [
            f"[{backend}]",
            *(f'"{t.format(backend=backend)}" = "pretend it fails"' for t in FIXED_PER_BACKEND),
            "",
        ]
    (repository / "conformance-expectations.toml").write_text("\n".join(lines), encoding="utf-8")
    return repository


def test_the_reusable_workflow_gates_a_third_party_implementation_on_three_backends(
    kit_checkout, acme_repository, tmp_path
):
    if not (os.environ.get("DFC_POSTGRESQL_URL") and os.environ.get("DFC_MYSQL_URL")):
        pytest.skip(
            "the workflow's service containers are this machine's servers: needs DFC_POSTGRESQL_URL and DFC_MYSQL_URL"
        )
    runner = Runner(
        kit_checkout,
        tmp_path,
        service_env={
            "POSTGRESQL_URL": os.environ["DFC_POSTGRESQL_URL"],
            "MYSQL_URL": os.environ["DFC_MYSQL_URL"],
            "MYSQL_PWD": "",  # the machine's MariaDB root has no password
        },
    )
    # The machine's own settings (certificates, proxies, package indexes) without this test run's state.
    job_env = {k: v for k, v in os.environ.items() if not k.startswith(("DFC_", "PYTEST", "VIRTUAL_ENV", "NOX"))}
    job_env = {k: v for k, v in job_env.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
    jobs = runner.run_workflow(
        kit_checkout / ".github/workflows/conformance.yml",
        {
            "module": "acme_dataflow",
            "expectations": "conformance-expectations.toml",
            "python-version": "3.11",
            "pytest-args": "-k test_crud",
        },
        acme_repository,
        job_env,
    )
    assert jobs["plan"].outputs["backends"] == '["sqlite","postgresql","mysql"]'
    cells = {name: job for name, job in jobs.items() if name.startswith("conformance")}
    assert sorted(cells) == ["conformance (mysql)", "conformance (postgresql)", "conformance (sqlite)"]
    for name, job in cells.items():
        backend = name.split("(")[1].rstrip(")")
        # each job starts only its own server
        assert job.outputs["service:postgres"] == ("postgres:16" if backend == "postgresql" else "")
        assert job.outputs["service:mysql"] == ("mysql:8.4" if backend == "mysql" else "")
        # the gate: every test passed, twelve listed as failing passed -> fixed, exit status 6, the job fails
        steps = {step.name: step for step in job.steps}
        assert (job.outputs["verdict"], job.outputs["status"]) == ("success", "6"), steps["Run the conformance pack"]
        assert job.failed and steps["Gate"].outcome == "failure" and "exit status 6" in steps["Gate"].stdout
        summary = job.summary
        assert len(summary.encode()) <= 64 * 1024 < GITHUB_SUMMARY_LIMIT
        assert "exit status 6" in summary and "Fixed: listed as failing, now passing (12)" in summary
        annotated = steps["Summary and annotations"]
        errors = [a for a in annotated.annotations if a.startswith("::error")]
        notices = [a for a in annotated.annotations if a.startswith("::notice")]
        assert len(errors) == 10 and len(notices) == 1 and "2 more problems" in notices[0]
        expected_lines = acme_repository.joinpath("conformance-expectations.toml").read_text().splitlines()
        for error in errors:
            line = int(re.search(r"line=(\d+)", error)[1])
            assert "file=conformance-expectations.toml" in error and f"[{backend}-" in expected_lines[line - 1]
        artifact = f"conformance-acme_dataflow-{backend}-py3.11"
        assert job.outputs["artifact"] == artifact
        assert {"conformance-report.json", "conformance-report.md", "junit-conformance.xml"} <= set(
            job.artifacts[artifact]
        )
    assert len(runner.artifact_names) == len(set(runner.artifact_names)) == 3
