"""One release's environment as a user had it on its release day, cached between runs.

The release is resolved alone with uv's `--exclude-newer` at its cut-off (`Release.cutoff`): the versions of its
dependencies are those a user installing it that day got. The kit is then installed beside it with those
versions as constraints, so the pack measures the user's environment, never one the kit's own requirements
changed. Each step that fails ends there with its reason: not installable, not importable, or the kit cannot
run beside it (its core is older than the pack needs)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .releases import Release

EXTRAS = "sqlite,postgres-sync,mysql"  # as the kit's `upstream` extra installs the published package
IMPORT_NAME = "dataflow"
READY, NOT_INSTALLABLE, NOT_IMPORTABLE, KIT_NOT_INSTALLABLE = (
    "ready",
    "not installable",
    "not importable",
    "kit cannot run",
)
STEP_TIMEOUT = 900  # seconds: a resolution or an import that takes longer is a failure with that reason


@dataclass
class Environment:
    version: str
    cutoff: str
    python: str
    status: str = READY
    reason: str = ""
    packages: dict[str, str] = field(default_factory=dict)  # what the release's own resolution installed
    kit_key: str = ""  # the kit's requirements it was installed with
    kit_conflicts: list[str] = field(default_factory=list)  # kit requirements the release's versions do not meet
    seconds: float = 0.0  # how long building it took (0 when it came from the cache)

    @property
    def ready(self) -> bool:
        return self.status == READY


def uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except ImportError:
        found = shutil.which("uv")
        if not found:
            raise SystemExit("uv is needed to build the releases' environments: pip install 'uv>=0.9,<1'") from None
        return found


def kit_key(kit_root: Path) -> str:
    """What decides the kit's installation: its requirements (the code itself is installed editable)."""
    return hashlib.sha256(json.dumps(kit_requirements(kit_root)).encode()).hexdigest()[:12]


class Builder:
    """Builds environments under `cache` (one directory per release) with the running Python's version."""

    def __init__(
        self,
        cache: Path,
        kit_root: Path | None,
        requirement: str = "kailash-dataflow",
        import_name: str = IMPORT_NAME,
        extras: str = EXTRAS,
    ):
        """`kit_root` None: the release's environment alone, without the kit (the self-tests build small ones)."""
        self.cache, self.kit_root = cache, kit_root
        self.requirement, self.import_name, self.extras = requirement, import_name, extras
        self.python = f"{sys.version_info.major}.{sys.version_info.minor}"
        self.uv = uv_binary()

    def path(self, release: Release) -> Path:
        return self.cache / f"py{self.python}" / release.version

    def python_of(self, release: Release) -> Path:
        return self.path(release) / "bin" / "python"

    def cached(self, release: Release) -> Environment | None:
        record = self.path(release) / "environment.json"
        if not record.exists():
            return None
        env = Environment(**json.loads(record.read_text(encoding="utf-8")))
        if env.cutoff != release.cutoff.isoformat() or env.python != self.python:
            return None
        env.seconds = 0.0
        if env.ready and self.kit_root is not None and env.kit_key != kit_key(self.kit_root):
            import time

            started = time.monotonic()  # the kit's requirements changed: install it again, keep the release's part
            self._install_kit(env, release)
            env.seconds = round(time.monotonic() - started, 1)
            self._save(release, env)
        return env

    def build(self, release: Release) -> Environment:
        found = self.cached(release)
        if found is not None:
            return found
        import time

        started = time.monotonic()
        env = self._build(release)
        env.seconds = round(time.monotonic() - started, 1)
        self._save(release, env)
        return env

    def _save(self, release: Release, env: Environment) -> None:
        self.path(release).mkdir(parents=True, exist_ok=True)
        (self.path(release) / "environment.json").write_text(json.dumps(asdict(env), indent=1) + "\n", encoding="utf-8")

    def _build(self, release: Release) -> Environment:
        env = Environment(release.version, release.cutoff.isoformat(), self.python)
        target, python = self.path(release), str(self.python_of(release))
        if target.exists():
            shutil.rmtree(target)
        self._step(env, [self.uv, "venv", "-q", "--python", sys.executable, str(target)], "venv")
        if not env.ready:
            return env
        extras = f"[{self.extras}]" if self.extras else ""
        wanted = f"{self.requirement}{extras}=={release.version}"
        cutoff = release.cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
        install = [self.uv, "pip", "install", "-q", "--python", python, "--exclude-newer", cutoff, wanted]
        if not self._step(env, install, NOT_INSTALLABLE):
            return env
        env.packages = self.freeze(python)
        if not self._step(env, [python, "-c", f"import {self.import_name}"], NOT_IMPORTABLE) or self.kit_root is None:
            return env
        self._install_kit(env, release)
        return env

    def _install_kit(self, env: Environment, release: Release) -> None:
        target, python = self.path(release), str(self.python_of(release))
        constraints = target / "constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in env.packages.items()), encoding="utf-8")
        pinned = [self.uv, "pip", "install", "-q", "--python", python, "-c", str(constraints)]
        # The kit with nothing of the release's environment changed. Where a requirement of the kit disagrees with a
        # version the release resolved (an old core, an old markdown-it-py), the release's version stays and the
        # disagreement is recorded: the pack then runs, or says itself why it cannot (its core check).
        env.kit_conflicts = unmet(kit_requirements(self.kit_root), env.packages)
        missing = [r for r in kit_requirements(self.kit_root) if canonical(_name(r)) not in _names(env.packages)]
        if missing and not self._step(env, [*pinned, *_strip_markers(missing)], KIT_NOT_INSTALLABLE):
            return
        if self._step(env, [*pinned, "--no-deps", "-e", str(self.kit_root)], KIT_NOT_INSTALLABLE):
            env.kit_key = kit_key(self.kit_root)

    def freeze(self, python: str) -> dict[str, str]:
        out = subprocess.run(
            [self.uv, "pip", "freeze", "--python", python], capture_output=True, text=True, check=True
        ).stdout
        return dict(line.split("==", 1) for line in out.splitlines() if "==" in line)

    def _step(self, env: Environment, command: list[str], failure: str) -> bool:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT, env=_quiet_env())
        except subprocess.TimeoutExpired:
            env.status, env.reason = failure, f"took longer than {STEP_TIMEOUT} s"
            return False
        if done.returncode == 0:
            return True
        env.status, env.reason = failure, self.reason(done.stderr or done.stdout)
        return False

    def reason(self, output: str) -> str:
        """The end of a failure's output, the part that says why (uv's hints, an exception's last line),
        with this machine's paths replaced so that a committed row names none."""
        lines = [line.rstrip() for line in output.splitlines() if line.strip()]
        text = " / ".join(line.strip() for line in lines[-6:])
        for path, name in ((self.cache, "<cache>"), (self.kit_root, "<kit>"), (Path.home(), "~")):
            if path is None:
                continue
            text = text.replace(str(path), name)
        return text[:600]


def kit_requirements(kit_root: Path) -> list[str]:
    import tomllib

    return tomllib.loads((kit_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]


def canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name.strip())


def _name(requirement: str) -> str:
    from packaging.requirements import Requirement

    return Requirement(requirement).name


def _names(packages: dict[str, str]) -> set[str]:
    return {canonical(n) for n in packages}


def _strip_markers(requirements: list[str]) -> list[str]:
    return [r.split(";")[0].strip() for r in requirements]


def unmet(requirements: list[str], packages: dict[str, str]) -> list[str]:
    """`name spec (the release has X)` for each requirement whose package the release resolved to a version
    outside the requirement's range."""
    from packaging.requirements import Requirement

    installed = {canonical(n): v for n, v in packages.items()}
    found = []
    for text in requirements:
        requirement = Requirement(text)
        version = installed.get(canonical(requirement.name))
        if version is not None and not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name} {requirement.specifier} (the release has {version})")
    return found


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # uv would otherwise warn that the session's environment is not the target
    return env
