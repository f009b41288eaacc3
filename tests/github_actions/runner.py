"""A local runner for this project's GitHub action (action.yml) and reusable workflow, for self-tests:
GitHub cannot run here, so its steps run here in order, as GitHub documents them, and what GitHub would
receive (outputs, the step summary, annotations, artifacts) is recorded for the tests to check.

What it does as GitHub does: inputs and their defaults; `${{ }}` in `with:`, `env:`, `if:` and outputs
(tests/github_actions/expressions.py); `run:` steps with bash `-eo pipefail` in the workspace, with GITHUB_OUTPUT,
GITHUB_STEP_SUMMARY, GITHUB_ACTION_PATH, GITHUB_WORKSPACE and RUNNER_TEMP; a failed step skips the
steps without always(); a job's matrix and `needs` outputs. What it does in place of a hosted runner,
and says so: `actions/setup-python` makes a fresh virtual environment of this machine's Python (it must
be the version asked for); `actions/checkout` copies the repository under test into the workspace;
`actions/upload-artifact` records the artifact's name and files; service containers are this machine's
servers (the test gives the URLs that replace the workflow's, see `service_env`); this repository's action
named at a tag is run from the checkout under test (the tag must be the kit's version). Any other `uses:`
is an error.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .expressions import condition, render, to_string

ACTION_REPOSITORY = "dataflow-conformance/dataflow-conformance"


class RunnerError(Exception):
    pass


@dataclass
class StepRecord:
    name: str
    outcome: str  # success | failure | skipped
    stdout: str = ""
    summary: str = ""

    @property
    def annotations(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith(("::error", "::warning", "::notice"))]


@dataclass
class JobRecord:
    name: str
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)  # name -> files
    failed: bool = False

    @property
    def summary(self) -> str:
        return "".join(step.summary for step in self.steps)


class Runner:
    def __init__(self, kit_checkout: Path, scratch: Path, *, service_env: dict | None = None):
        self.kit = Path(kit_checkout)  # this repository at the ref under test: the action's own path
        self.scratch = Path(scratch)
        self.service_env = service_env or {}
        self.artifact_names: list[str] = []  # every upload in the run: GitHub refuses a duplicate name

    # -- composite action ------------------------------------------------------------------------

    def run_action(self, inputs: dict, job: JobRecord, workspace: Path, env: dict, context: dict) -> dict:
        action = yaml.safe_load((self.kit / "action.yml").read_text(encoding="utf-8"))
        given = {}
        for name, spec in action["inputs"].items():
            if name in inputs:
                given[name] = to_string(inputs[name])
            elif spec.get("required"):
                raise RunnerError(f"action.yml: required input {name!r} not given")
            else:
                given[name] = to_string(spec.get("default", ""))
        unknown = sorted(set(inputs) - set(action["inputs"]))
        if unknown:
            raise RunnerError(f"action.yml has no input(s) {unknown}")
        contexts = {
            **context,
            "inputs": given,
            "steps": {},
            "github": {**context["github"], "action_path": str(self.kit)},
        }
        self.run_steps(action["runs"]["steps"], job, workspace, env, contexts, action_path=self.kit)
        return {name: to_string(render(spec["value"], contexts)) for name, spec in action.get("outputs", {}).items()}

    # -- steps -----------------------------------------------------------------------------------

    def run_steps(self, steps, job: JobRecord, workspace: Path, env: dict, contexts: dict, action_path=None) -> None:
        status = {"failed": job.failed}
        for number, step in enumerate(steps):
            name = step.get("name") or step.get("uses") or f"step {number}"
            if not condition(step.get("if"), contexts, status):
                job.steps.append(StepRecord(name, "skipped"))
                continue
            step_env = {
                **env,
                **{k: to_string(render(v, contexts, status)) for k, v in (step.get("env") or {}).items()},
            }
            record = StepRecord(name, "success")
            try:
                if "uses" in step:
                    self.use(step, job, workspace, env, contexts, status)
                else:
                    outputs = self.shell(step, record, workspace, step_env, action_path)
                    if "id" in step:
                        contexts["steps"][step["id"]] = {"outputs": outputs}
            except StepFailed as exc:
                record.outcome, record.stdout = "failure", record.stdout + str(exc)
                status["failed"] = job.failed = True
            job.steps.append(record)
            if "id" in step and step["id"] not in contexts["steps"]:
                contexts["steps"][step["id"]] = {"outputs": {}}

    def shell(self, step, record: StepRecord, workspace: Path, env: dict, action_path) -> dict:
        if step.get("shell", "bash") != "bash":
            raise RunnerError(f"step {record.name!r}: only bash is supported by the local runner")
        with tempfile.TemporaryDirectory(dir=self.scratch) as files:
            files = Path(files)
            output, summary, script = files / "output", files / "summary", files / "script.sh"
            output.touch()
            summary.touch()
            script.write_text(step["run"], encoding="utf-8")
            full_env = {
                **env,
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_WORKSPACE": str(workspace),
                "RUNNER_TEMP": str(self.scratch),
                **({"GITHUB_ACTION_PATH": str(action_path)} if action_path else {}),
            }
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workspace, env=full_env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            record.stdout, record.summary = done.stdout + done.stderr, summary.read_text(encoding="utf-8")
            if done.returncode != 0:
                raise StepFailed(f"\n[exit status {done.returncode}]")
            return _read_outputs(output.read_text(encoding="utf-8"))

    def use(self, step, job: JobRecord, workspace: Path, env: dict, contexts: dict, status: dict) -> None:
        """A `uses:` step; `env` is the job's, which setup-python extends (as its GITHUB_PATH entry does)."""
        uses, given = step["uses"], {k: render(v, contexts, status) for k, v in (step.get("with") or {}).items()}
        target, _, ref = uses.partition("@")
        if target == "actions/setup-python":
            self.setup_python(to_string(given.get("python-version", "")), env)
        elif target == "actions/checkout":
            if given.get("persist-credentials") is not False:
                raise RunnerError("actions/checkout without persist-credentials: false")
            shutil.copytree(self.repository, workspace, dirs_exist_ok=True)
        elif target == "actions/upload-artifact":
            self.upload(job, workspace, to_string(given["name"]), to_string(given["path"]))
        elif target in (ACTION_REPOSITORY, "./"):
            self.check_own_ref(ref, target)
            job.outputs |= self.run_action(given, job, workspace, env, contexts)
        else:
            raise RunnerError(f"the local runner does not run {uses}")
        if job.failed:
            raise StepFailed("")

    def setup_python(self, version: str, env: dict) -> None:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        if version != here:
            raise RunnerError(f"setup-python asks for Python {version!r}; this machine runs {here}")
        venv = self.scratch / f"python-{len(os.listdir(self.scratch))}"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"  # as setup-python's GITHUB_PATH entry

    def upload(self, job: JobRecord, workspace: Path, name: str, path: str) -> None:
        root = workspace / path
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        if not files:
            raise StepFailed(f"upload-artifact {name}: no files at {path}")
        if name in self.artifact_names:
            raise StepFailed(f"upload-artifact {name}: an artifact of that name exists in this run (a 409 on GitHub)")
        self.artifact_names.append(name)
        job.artifacts[name] = files

    def check_own_ref(self, ref: str, target: str) -> None:
        if target == "./":
            return
        version = _kit_version(self.kit)
        if ref != f"v{version}":
            raise RunnerError(f"{target}@{ref}: the workflow must name this release's tag v{version}")

    # -- reusable workflow -----------------------------------------------------------------------

    def run_workflow(self, path: Path, inputs: dict, repository: Path, python_env: dict) -> dict[str, JobRecord]:
        """Every job of a workflow_call workflow, in `needs` order, every matrix cell; returns the jobs by
        `<job id>` or `<job id> (<matrix values>)`."""
        self.repository = Path(repository)
        workflow = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        declared = workflow[True]["workflow_call"]["inputs"]  # PyYAML reads the key `on` as True
        given = {}
        for name, spec in declared.items():
            given[name] = inputs[name] if name in inputs else spec.get("default")
            if spec.get("required") and name not in inputs:
                raise RunnerError(f"workflow input {name!r} is required")
        jobs, done = {}, {}
        for job_id, spec in _in_needs_order(workflow["jobs"]):
            needs = {n: {"outputs": done[n].outputs, "result": "failure" if done[n].failed else "success"}
                     for n in _needs(spec)}  # fmt: skip
            base = {"inputs": given, "needs": needs, "github": {"job": job_id, "workspace": ""}, "env": {}}
            matrix = spec.get("strategy", {}).get("matrix")
            cells = [{}] if matrix is None else _cells(matrix, base)
            for cell in cells:
                label = f"{job_id} ({', '.join(map(to_string, cell.values()))})" if cell else job_id
                jobs[label] = self.run_job(job_id, spec, {**base, "matrix": cell}, python_env)
            done[job_id] = jobs[label]
        return jobs

    def run_job(self, job_id: str, spec: dict, contexts: dict, python_env: dict) -> JobRecord:
        job = JobRecord(job_id)
        workspace = Path(tempfile.mkdtemp(prefix=f"{job_id}-", dir=self.scratch))
        contexts = {**contexts, "steps": {}, "github": {**contexts["github"], "workspace": str(workspace)}}
        for service, definition in (spec.get("services") or {}).items():
            job.outputs[f"service:{service}"] = to_string(render(definition["image"], contexts))
        env = {}
        for key, value in (spec.get("env") or {}).items():
            env[key] = to_string(render(value, {**contexts, "env": env}))
        env |= {k: v for k, v in self.service_env.items() if k in env}  # the workflow's servers are this machine's
        contexts["env"] = env
        self.run_steps(spec["steps"], job, workspace, {**python_env, **env}, contexts)
        for name, value in (spec.get("outputs") or {}).items():
            job.outputs[name] = to_string(render(value, contexts))
        return job


class StepFailed(Exception):
    pass


def _read_outputs(text: str) -> dict:
    """GITHUB_OUTPUT: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delimiter = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def _needs(spec) -> list[str]:
    needs = spec.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _in_needs_order(jobs: dict) -> list[tuple[str, dict]]:
    ordered, seen = [], set()
    while len(ordered) < len(jobs):
        ready = [(j, s) for j, s in jobs.items() if j not in seen and set(_needs(s)) <= seen]
        if not ready:
            raise RunnerError("the jobs' needs form a cycle")
        for job_id, spec in ready:
            ordered.append((job_id, spec))
            seen.add(job_id)
    return ordered


def _cells(matrix: dict, contexts: dict) -> list[dict]:
    """The matrix's cells (one dimension per key; include/exclude are not used here)."""
    if set(matrix) & {"include", "exclude"}:
        raise RunnerError("matrix include/exclude are not supported by the local runner")
    cells = [{}]
    for key, values in matrix.items():
        values = render(values, contexts)
        cells = [{**cell, key: value} for cell in cells for value in values]
    return cells


def _kit_version(checkout: Path) -> str:
    for line in (checkout / "conformance/dataflow_conformance/__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split('"')[1]
    raise RunnerError("no __version__ in the kit")
