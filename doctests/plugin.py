"""pytest plugin (loaded by the root conftest.py): the code blocks of README.md and docs/**/*.md as tests.

- Sybil collects every fenced `python` block. The blocks of one document share a namespace and run in
  order, once per backend: SQLite always, PostgreSQL and MySQL when DFC_POSTGRESQL_URL / DFC_MYSQL_URL are
  set. Each document gets a database of its own on each backend (created and dropped around it); its URL
  is `database_url` in the namespace and `DATABASE_URL` in the environment while the document runs.
- Under xdist the run must keep each file on one worker (`--dist loadfile`), or it stops with a usage
  error.
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
from dataflow_conformance.backends.resolve import Backend, BackendUnavailable, resolve
from dataflow_conformance.docsrun.blocks import DocsDocument, python_parsers, shows_code
from dataflow_conformance.docsrun.page import close_instances
from dataflow_conformance.docsrun.runner import document_database
from sybil import Sybil
from sybil.evaluators.skip import Skipper
from sybil.integration.pytest import example_module_path as SYBIL_EXAMPLE_MODULE
from sybil.sybil import SybilCollection

from .commands import CommandBlocks, RunnableBlocks

# xdist modes that keep a file's tests on one worker, in order. Not loadgroup: with pytest 9.2 its
# xdist_group marks are silently ignored (pytest-xdist issue #1386).
GROUPING_MODES = ("loadfile", "loadscope")
_DOCUMENTS: dict[int, DocsDocument] = {}  # id(namespace) -> document, until its DocumentRun takes it
_RUNS: dict[int, "DocumentRun"] = {}  # id(namespace) -> the document's run on one backend
_STATE = pytest.StashKey[dict]()


def is_doc(path: Path, root: Path) -> bool:
    """README.md at the project's root (pytest's rootdir) and every *.md under its docs/."""
    try:
        relative = Path(path).resolve().relative_to(root.resolve())
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
    """One document on one backend: its database and its scratch directory (the working directory while
    its blocks run, so `sqlite:///relative.db` lands there), and their clean-up."""

    def __init__(self, backend: Backend, dataflow_class, namespace: dict):
        self.backend = backend
        self.dataflow_class = dataflow_class
        self.document = _DOCUMENTS.pop(id(namespace), None)
        self.stack = contextlib.ExitStack()
        self.scratch = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="dfc-doc-")))
        self.url = namespace["database_url"] = self.stack.enter_context(
            document_database(backend.server_url, self.scratch)
        )

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


def _sybil(backend: Backend, first: bool, root: Path) -> Sybil:
    def setup(namespace):
        # Imported when a document runs, not when files are collected: pytest offers every file
        # beside a collected one (README.md beside the suite in an editable install), and importing
        # the reference registers its transaction nodes over another implementation's.
        from dataflow_reference import DataFlow

        _RUNS[id(namespace)] = DocumentRun(backend, DataFlow, namespace)

    def teardown(namespace):
        _RUNS.pop(id(namespace)).close(namespace)

    return Sybil(
        parsers=[*python_parsers(), *([CommandBlocks(), RunnableBlocks()] if first else [])],
        patterns=["*.md"],  # is_doc() decides which files are docs
        path=str(root),
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
            found, _ = resolve([], [])  # SQLite plus every backend with a DFC_*_URL
        except BackendUnavailable as exc:
            raise pytest.UsageError(f"doc tests: {exc}") from None
        state["collect"] = SybilCollection(
            _sybil(backend, i == 0, config.rootpath) for i, backend in enumerate(found)
        ).pytest()
    return state["collect"]


def pytest_collect_file(file_path: Path, parent):
    if is_doc(file_path, parent.config.rootpath):
        return _collector(parent.config)(file_path, parent)
    return None


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        if not (hasattr(item, "example") and is_doc(item.path, config.rootpath)):
            continue
        item._traceback_filter = _traceback_filter  # see below
        if isinstance(item.example.region.evaluator, Skipper):
            continue  # a skip directive: it runs (to skip what follows) but is not a block of its own
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
    # Per block, not per document: the documents of every backend are set up together, at the file's start.
    saved_cwd, saved_url = os.getcwd(), os.environ.get("DATABASE_URL")
    os.chdir(run.scratch)
    os.environ["DATABASE_URL"] = run.url
    try:
        return (yield)
    finally:
        os.chdir(saved_cwd)
        _restore("DATABASE_URL", saved_url)


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
            if not reason.removeprefix("Skipped").removeprefix(":").strip():  # pytest writes "Skipped: why"
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
    if distributed and any(_names_docs(Path(arg.split("::")[0]), config.rootpath) for arg in config.args):
        raise pytest.UsageError(
            "doc tests: the blocks of a document must run in order on one worker; with -n, use --dist loadfile"
        )
    config.pluginmanager.register(BlockCounter(), "doc-block-counter")


def _names_docs(path: Path, root: Path) -> bool:
    """Whether a command-line path is, or contains, a document of the docs."""
    path = path.resolve()
    return is_doc(path, root) or (path.is_dir() and (path == root.resolve() or is_doc(path / "x.md", root)))


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
