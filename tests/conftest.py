import shutil
from pathlib import Path

import dataflow_reference
import pytest

REFERENCE = Path(dataflow_reference.__file__).parent

pytest_plugins = ["pytester"]

BROKEN_IMPL = """
class DataFlow:
    '''An implementation whose every operation fails: the pack must report it, not crash.'''
    def __init__(self, url=None, **options):
        self.url = url
    def model(self, cls):
        raise RuntimeError("models are not supported by this fake")
    def create_tables(self):
        raise RuntimeError("no tables")
    def health_check(self):
        return {"status": "unhealthy"}
    def close(self):
        raise RuntimeError("close failed too")
"""


@pytest.fixture
def run_pack(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # no testcontainers fallback here
    for name in ("DFC_POSTGRESQL_URL", "DFC_MYSQL_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(*args):
        return pytester.runpytest_subprocess("-p", "dataflow_conformance", "-p", "no:cacheprovider", *args)

    return run


@pytest.fixture
def broken_impl(pytester):
    """A module `brokenflow` whose DataFlow fails at everything."""
    pytester.makepyfile(brokenflow=BROKEN_IMPL)
    return "brokenflow"


@pytest.fixture
def mutate_reference(pytester):
    """make(module, mutant): a copy of the reference importable as `module` in which `mutant.original`
    (found exactly once in `mutant.file`) reads `mutant.mutated`."""

    def make(module: str, mutant) -> str:
        shutil.copytree(REFERENCE, pytester.path / module, ignore=shutil.ignore_patterns("__pycache__"))
        for change in [mutant, *getattr(mutant, "extra", [])]:
            target = pytester.path / module / change.file
            source = target.read_text(encoding="utf-8")
            assert source.count(change.original) == 1, f"{module}: the code to mutate is not in {change.file} once"
            target.write_text(source.replace(change.original, change.mutated), encoding="utf-8")
        return module

    return make
