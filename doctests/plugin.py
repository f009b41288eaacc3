"""pytest plugin (loaded by the root conftest.py): the code blocks of README.md and docs/**/*.md as tests.

- Sybil collects every fenced `python` block. The blocks of one document share a namespace and run in
  order, once per backend: SQLite always, PostgreSQL and MySQL when DFC_POSTGRESQL_URL / DFC_MYSQL_URL are
  set. Each document gets a database of its own on each backend (created and dropped around it); its URL
  is `database_url` in the namespace and `DATABASE_URL` in the environment while the document runs.
- Under xdist every block of a document is marked `xdist_group(<document>)`; the run must keep groups
  together (`--dist loadgroup`, or `loadfile`), or it stops with a usage error.
- `bash` blocks that call nox, pytest or dataflow-conformance are checked once (doctests/commands.py).
- A skip needs a reason (`<!-- skip: next "why" -->`); a document that shows code must have a block that
  runs. The run ends with a count of the blocks run, passed, failed and skipped.
"""

import contextlib
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from _pytest._code.code import Traceback
from dataflow_conformance import backends
from dataflow_conformance.docblocks import DocsDocument, python_parsers, shows_code
from dataflow_conformance.docsrun import close_instances, document_database
from sybil import Sybil
from sybil.integration.pytest import example_module_path as SYBIL_EXAMPLE_MODULE
from sybil.sybil import SybilCollection

from .commands import CommandBlocks

ROOT = Path(__file__).resolve().parents[1]
GROUPING_MODES = ("loadgroup", "loadfile", "loadscope")
_DOCUMENTS: dict[int, DocsDocument] = {}  # id(namespace) -> document, until its DocumentRun takes it
_RUNS: dict[int, "DocumentRun"] = {}  # id(namespace) -> the document's run on one backend
_STATE = pytest.StashKey[dict]()


def is_doc(path: Path) -> bool:
    try:
        relative = Path(path).resolve().relative_to(ROOT)
    except ValueError:
        return False
    return relative.suffix == ".md" and (relative == Path("README.md") or relative.parts[0] == "docs")


class TrackedDocument(DocsDocument):
    """A document whose namespace teardown can find it again (to close its event loop)."""

    @classmethod
    def parse(cls, path, *parsers, encoding="utf-8"):
        document = super().parse(path, *parsers, encoding=encoding)
        _DOCUMENTS[id(document.namespace)] = document
        return document


class CheckedDocument(TrackedDocument):
    """Parsed once per run (by the first backend's Sybil): a document that shows code must prove it."""

    @classmethod
    def parse(cls, path, *parsers, encoding="utf-8"):
        document = super().parse(path, *parsers, encoding=encoding)
        runnable = [r for _, r in document.regions if not isinstance(r.parsed, tuple)]  # tuples: skip directives
        if shows_code(document.text) and not runnable:
            raise ValueError(f"{path} shows code but has no block that runs (python, or a checked bash command)")
        return document


class DocumentRun:
    """One document on one backend: its database, its scratch directory (the working directory while its
    blocks run, so `sqlite:///relative.db` lands there), its environment and its clean-up."""

    def __init__(self, backend: backends.Backend, dataflow_class, namespace: dict):
        self.backend = backend
        self.dataflow_class = dataflow_class
        self.document = _DOCUMENTS.pop(id(namespace), None)
        self.stack = contextlib.ExitStack()
        self.scratch = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="dfc-doc-")))
        url = self.stack.enter_context(document_database(backend.server_url, self.scratch))
        saved = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = namespace["database_url"] = url
        self.stack.callback(_restore, "DATABASE_URL", saved)

    def close(self, namespace: dict) -> None:
        try:
            close_instances(namespace, self.dataflow_class)
            if self.document is not None:
                self.document.close()
        finally:
            self.stack.close()


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _sybil(backend: backends.Backend, first: bool) -> Sybil:
    from dataflow_reference import DataFlow

    def setup(namespace):
        _RUNS[id(namespace)] = DocumentRun(backend, DataFlow, namespace)

    def teardown(namespace):
        _RUNS.pop(id(namespace)).close(namespace)

    return Sybil(
        parsers=[*python_parsers(), *([CommandBlocks()] if first else [])],
        patterns=["*.md"],  # is_doc() decides which files are docs
        path=str(ROOT),
        setup=setup,
        teardown=teardown,
        name=backend.name,
        document_types={".md": CheckedDocument if first else TrackedDocument},
    )


def _collector(config):
    """Sybil's pytest collector for one Sybil per backend, built on first use (resolving backends
    connects to the servers, which a run without docs should not do)."""
    state = config.stash.setdefault(_STATE, {})
    if "collect" not in state:
        try:
            found, _ = backends.resolve([], [])  # SQLite plus every backend with a DFC_*_URL
        except backends.BackendUnavailable as exc:
            raise pytest.UsageError(f"doc tests: {exc}") from None
        state["collect"] = SybilCollection(_sybil(backend, i == 0) for i, backend in enumerate(found)).pytest()
    return state["collect"]


def pytest_collect_file(file_path: Path, parent):
    if is_doc(file_path):
        return _collector(parent.config)(file_path, parent)
    return None


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        if not (is_doc(item.path) and hasattr(item, "example")):
            continue
        item._traceback_filter = _traceback_filter  # see below
        document = item.path.resolve().relative_to(ROOT).as_posix()
        item.add_marker(pytest.mark.xdist_group(document))
        item.user_properties.append(("doc_block", item.name.split(",")[0].removeprefix("sybil:")))


def _traceback_filter(excinfo):
    """Sybil's traceback filter (start at the example's own frames) that also copes with the earlier
    exceptions of a chain, whose tracebacks never pass through Sybil (Sybil 10.1 fails with IndexError)."""
    cut = excinfo.traceback.cut(path=SYBIL_EXAMPLE_MODULE)
    return Traceback(cut[1]._rawentry) if len(cut) > 1 and cut is not excinfo.traceback else excinfo.traceback


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    run = _RUNS.get(id(item.example.namespace)) if hasattr(item, "example") else None
    if run is None:
        return (yield)
    saved = os.getcwd()
    os.chdir(run.scratch)
    try:
        return (yield)
    finally:
        os.chdir(saved)


# -- the count at the end ------------------------------------------------------------------------


class BlockCounter:
    def __init__(self):
        self.counts: Counter = Counter()
        self.unexplained_skips: list[str] = []

    def pytest_runtest_logreport(self, report):
        backend = dict(report.user_properties).get("doc_block")
        if backend is None:
            return
        if report.skipped:
            self.counts[(backend, "skipped")] += 1
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
            if not reason.removeprefix("Skipped:").strip():
                self.unexplained_skips.append(report.nodeid)
        elif report.when == "call" or report.failed:
            self.counts[(backend, "passed" if report.passed else "failed")] += 1

    def line(self) -> str:
        total = Counter()
        per_backend = {}
        for (backend, outcome), n in self.counts.items():
            total[outcome] += n
            per_backend.setdefault(backend, Counter())[outcome] += n
        run = total["passed"] + total["failed"]
        detail = "; ".join(
            f"{name} {c['passed'] + c['failed']} run, {c['skipped']} skipped" for name, c in per_backend.items()
        )
        return (
            f"doc blocks: {run} run, {total['passed']} passed, {total['failed']} failed, "
            f"{total['skipped']} skipped ({detail})"
        )


def pytest_configure(config):
    if getattr(config, "workerinput", None) is not None:
        return  # workers run blocks; the controller checks the options and counts the reports
    distributed = config.getoption("dist", "no") not in ("no", *GROUPING_MODES)
    if distributed and any(_names_docs(Path(arg.split("::")[0])) for arg in config.args):
        raise pytest.UsageError(
            "doc tests: the blocks of a document must run in order on one worker; with -n, use --dist loadgroup"
        )
    config.pluginmanager.register(BlockCounter(), "doc-block-counter")


def _names_docs(path: Path) -> bool:
    """Whether a command-line path is, or contains, a document of the docs."""
    path = path.resolve()
    return is_doc(path) or (path.is_dir() and (path == ROOT or is_doc(path / "x.md")))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    counter = session.config.pluginmanager.get_plugin("doc-block-counter")
    if counter is not None and counter.unexplained_skips:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counter = config.pluginmanager.get_plugin("doc-block-counter")
    if counter is None or not counter.counts:
        return
    terminalreporter.write_line(counter.line())
    for nodeid in counter.unexplained_skips:
        terminalreporter.write_line(f"skipped without a reason (a skip must say why): {nodeid}", red=True)
