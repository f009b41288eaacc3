import pytest

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
