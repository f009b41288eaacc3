"""The release as a user gets it (`nox -s release`): build the sdist and the wheel, check their metadata and
contents, install each into a fresh virtual environment outside the checkout and run the pack from it,
and install from a git URL at the version's tag (a `git+file://` clone stands for the GitHub URL the
README names). Fails, saying what is wrong, unless every step holds.

Environments are made with uv (fast, the same standards as pip: a wheel that installs with one installs
with the other). Run from the repository's root; `--dist DIR` keeps the distributions (the release
workflow publishes them), `--tag vX.Y.Z` checks that the tag names this version.
"""

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = '''"""A third-party DataFlow implementation as another project would ship one: an adapter that re-exports the
reference under its own name."""

from dataflow_reference import CONFORMANCE_CAPABILITIES, DataFlow  # noqa: F401
'''
# What the pack reads at run time: it must be in every distribution.
SHIPPED = [
    "dataflow_conformance/contract/clauses.json",
    "dataflow_conformance/expectations/dataflow.toml",
    "dataflow_conformance/report/templates/summary.md.j2",
    "dataflow_conformance/docsrun/templates/report.md.j2",
    "dataflow_conformance/docsrun/templates/report.html.j2",
    "dataflow_conformance/docsrun/corpora/kailash-dataflow.toml",
    *(f"dataflow_conformance/contract/pages/{page.name}" for page in sorted((ROOT / "docs/contract").glob("*.md"))),
]
SDIST_ONLY = ["CHANGELOG.md", "LICENSE", "README.md", "pyproject.toml"]
# check-wheel-contents: two top-level packages are the design (the kit and the reference it tests by
# default); the contract pages are copies of docs/contract that the pack links to.
WHEEL_CHECKS_IGNORED = "W009,W002"


class ReleaseError(Exception):
    pass


def version() -> str:
    source = (ROOT / "conformance/dataflow_conformance/__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', source, re.M).group(1)


def run(*command, cwd=None, env=None) -> str:
    print("$", " ".join(str(c) for c in command), flush=True)
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ReleaseError(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def check_versions(tag: str | None) -> str:
    current = version()
    if tag is not None and tag != f"v{current}":
        raise ReleaseError(f"the tag {tag} does not name this version ({current}): tag v{current}, or bump __version__")
    if not re.search(rf"^## {re.escape(current)} \(", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M):
        raise ReleaseError(f"CHANGELOG.md has no section '## {current} (date)'")
    return current


def build(dist: Path) -> tuple[Path, Path]:
    old = sorted(dist.glob("dataflow_conformance-*")) if dist.is_dir() else []
    if old:
        raise ReleaseError(f"{dist} already holds distributions ({', '.join(p.name for p in old)}): empty it first")
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT)
    (wheel,) = dist.glob("dataflow_conformance-*.whl")
    (sdist,) = dist.glob("dataflow_conformance-*.tar.gz")
    run("twine", "check", "--strict", wheel, sdist)
    run("check-wheel-contents", "--ignore", WHEEL_CHECKS_IGNORED, wheel)
    return wheel, sdist


def check_contents(wheel: Path, sdist: Path) -> None:
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = [f"wheel: {name}" for name in SHIPPED + modules() if name not in in_wheel]
    missing += [f"sdist: {name}" for name in SDIST_ONLY if name not in in_sdist]
    missing += [f"sdist: conformance/{name}" for name in SHIPPED if f"conformance/{name}" not in in_sdist]
    if missing:
        raise ReleaseError("distributions lack what the kit reads at run time: " + ", ".join(missing))


def modules() -> list[str]:
    """Every Python module of the kit and the reference in the repository, as the wheel names them: a suite module
    left out of the wheel would leave its clauses without tests in every user's run."""
    roots = {
        "conformance/dataflow_conformance": "dataflow_conformance",
        "reference/dataflow_reference": "dataflow_reference",
    }
    tracked = run("git", "-C", ROOT, "ls-files", "--", *(f"{root}/*.py" for root in roots)).split()
    return [
        next(package + path[len(root) :] for root, package in roots.items() if path.startswith(root))
        for path in tracked
    ]


def environment(where: Path, requirement: str) -> Path:
    """A fresh virtual environment with `requirement` installed; returns its bin directory."""
    run("uv", "venv", "-q", "--python", sys.executable, where)
    run("uv", "pip", "install", "-q", "--python", where / "bin/python", requirement)
    return where / "bin"


def run_pack(bin_dir: Path, outside: Path, *selection: str) -> dict:
    """The pack from the environment, in a directory outside the checkout, against a third-party module."""
    (outside / "acme_dataflow.py").write_text(ADAPTER, encoding="utf-8")
    run(bin_dir / "python", "-m", "pytest", "-p", "dataflow_conformance", "--dataflow-impl=acme_dataflow",
        "--dataflow-db=sqlite", "-n", "4", "-q", "--timeout", "300", "--log-level=WARNING", "-p", "no:cacheprovider",
        *selection, cwd=outside)  # fmt: skip
    report = json.loads((outside / "conformance-report.json").read_text(encoding="utf-8"))
    if report["implementation"]["module"] != "acme_dataflow" or report["verdict"] != "success":
        raise ReleaseError(f"the pack from {bin_dir.parent.name}: verdict {report['verdict']}")
    return report


def check_installed(bin_dir: Path, expected: str) -> None:
    shown = run(bin_dir / "dataflow-conformance", "--version").split()[-1]
    if shown != expected:
        raise ReleaseError(f"{bin_dir.parent.name} installed dataflow-conformance {shown}, not {expected}")


def git_clone_at_tag(scratch: Path, current: str) -> str:
    """A clone of this repository's HEAD with the tag v<version> (made in the clone when the repository does
    not have it yet); returns the pip requirement that installs from it as from the GitHub URL."""
    clone = scratch / "clone"
    run("git", "clone", "-q", "--no-hardlinks", ROOT, clone)
    tag = f"v{current}"
    if run("git", "-C", clone, "tag", "--list", tag).strip():
        tagged, head = (run("git", "-C", clone, "rev-parse", f"{ref}^{{commit}}").strip() for ref in (tag, "HEAD"))
        if tagged != head:
            raise ReleaseError(f"the tag {tag} is on {tagged[:12]}, not on HEAD {head[:12]}: bump the version")
    else:
        run("git", "-C", clone, "-c", "user.name=release", "-c", "user.email=release@localhost", "tag", tag)
    return f"dataflow-conformance @ git+file://{clone}@{tag}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, help="keep the distributions here (default: a temporary directory)")
    parser.add_argument("--tag", help="the tag being released (vX.Y.Z): it must name this version")
    args = parser.parse_args(argv)
    try:
        current = check_versions(args.tag)
        with tempfile.TemporaryDirectory(prefix="dfc-release-") as scratch_dir:
            scratch = Path(scratch_dir)
            dist = (args.dist or scratch / "dist").resolve()
            wheel, sdist = build(dist)
            check_contents(wheel, sdist)
            for name, requirement in (
                ("wheel", str(wheel)),
                ("sdist", str(sdist)),
                ("git", git_clone_at_tag(scratch, current)),
            ):
                bin_dir = environment(scratch / f"venv-{name}", requirement)
                check_installed(bin_dir, current)
                outside = scratch / f"outside-{name}"
                outside.mkdir()
                # The CRUD tests: every module and data file the pack needs is in the wheel (checked above); the
                # whole pack runs from the checkout in the self-tests.
                report = run_pack(bin_dir, outside, "-k", "test_crud")
                ran = sum(1 for c in report["clauses"].values() if "sqlite" in c["results"])
                print(f"release check: {name} installs {current}; the pack from it: {report['verdict']}, {ran} clauses")
    except ReleaseError as exc:
        print(f"release check failed: {exc}", file=sys.stderr)
        return 1
    print(f"release check: dataflow-conformance {current} is ready (sdist, wheel, git URL at v{current})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
