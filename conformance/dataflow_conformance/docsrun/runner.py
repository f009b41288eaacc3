"""Run the Python examples of any project's Markdown docs against a DataFlow implementation.

`dataflow-conformance docs PATH` uses this module: each document's blocks run in order in one shared
namespace (with top-level `await`, see blocks.py), in a scratch directory, on a database of its own, and
every block gets an outcome: passed (it ran without an error), failed (with the exception), or skipped
(with the reason: no code, not Python, a skip comment, or it needs what this machine does not have;
diagnosis.py reads the failures).
"""

import contextlib
import email.parser
import os
import signal
import sys
import tempfile
import threading
import unittest
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sybil.evaluators.skip import Skipper

from ..backends.provision import WorkerDatabase
from ..backends.resolve import Backend, BackendUnavailable, backend_of
from ..plugin.implementation import ImplementationError
from ..plugin.implementation import load as load_implementation
from . import diagnosis
from .blocks import DocsDocument, OtherBlocks, evaluate_python, not_python, python_parsers

PUBLISHED_MODULE = "dataflow"  # the name the published docs import; --dataflow-impl decides what it resolves to


class DocsError(Exception):
    """Bad input to the docs runner (a path that does not exist, a file it cannot read)."""


class BlockTimeout(Exception):
    pass


@dataclass
class BlockResult:
    line: int
    language: str
    outcome: str  # passed | failed | skipped
    detail: str = ""  # failed: "ExceptionType: first line" (+ a hint); skipped: the reason


@dataclass
class DocumentResult:
    name: str
    blocks: list[BlockResult] = field(default_factory=list)

    @property
    def note(self) -> str:
        return "" if self.blocks else "no code"


@dataclass
class DocsReport:
    implementation: str
    version: str
    database: str
    documents: list[DocumentResult]

    def totals(self) -> dict[str, int]:
        counts = {"documents": len(self.documents), "blocks": 0, "passed": 0, "failed": 0, "skipped": 0}
        for document in self.documents:
            for block in document.blocks:
                counts["blocks"] += 1
                counts[block.outcome] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "implementation": {"module": self.implementation, "version": self.version},
            "database": self.database,
            "totals": self.totals(),
            "documents": [asdict(d) | {"note": d.note} for d in self.documents],
        }


# -- finding the documents -----------------------------------------------------------------------


def find_documents(path: Path) -> list[tuple[str, str]]:
    """(name, Markdown text) of every document under PATH: a directory (its *.md files), a Markdown file,
    a wheel (the README published as its long description) or a METADATA / PKG-INFO file."""
    if not path.exists():
        raise DocsError(f"{path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.md") if not any(part.startswith(".") for part in p.parts))
        if not files:
            raise DocsError(f"{path} holds no Markdown (*.md) files")
        return [(p.relative_to(path).as_posix(), p.read_text(encoding="utf-8")) for p in files]
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
            if not names:
                raise DocsError(f"{path} has no .dist-info/METADATA")
            return [(f"{path.name}:{names[0]}", _long_description(wheel.read(names[0]).decode("utf-8"), path))]
    if path.name in ("METADATA", "PKG-INFO"):
        return [(path.name, _long_description(path.read_text(encoding="utf-8"), path))]
    if path.suffix.lower() in (".md", ".markdown"):
        return [(path.name, path.read_text(encoding="utf-8"))]
    raise DocsError(f"{path}: expected a directory, a Markdown file, a wheel or a METADATA file")


def _long_description(metadata: str, path: Path) -> str:
    message = email.parser.Parser().parsestr(metadata)
    body = message.get_payload() or message.get("Description", "")
    if not body.strip():
        raise DocsError(f"{path}: the package metadata has no long description")
    return body


# -- running -------------------------------------------------------------------------------------


@contextlib.contextmanager
def document_database(server_url: str | None, scratch: Path):
    """The URL of a fresh, empty database for one document: a new SQLite file in `scratch`, or a database
    created on the server of `server_url` (and dropped afterwards), so documents cannot see each other."""
    if server_url is None or backend_of(server_url) == "sqlite":
        yield f"sqlite:///{scratch / f'docs-{uuid.uuid4().hex[:8]}.db'}"
        return
    backend = Backend(backend_of(server_url), server_url, "--dataflow-dburi")
    database = WorkerDatabase(backend, "docs")
    database.create()
    try:
        yield database.url
    finally:
        database.drop()


@contextlib.contextmanager
def implementation_as_published_name(module_name: str):
    """While examples run, `import dataflow` gives the implementation under test."""
    implementation = load_implementation(module_name)
    if module_name == PUBLISHED_MODULE:
        yield implementation
        return
    saved = sys.modules.get(PUBLISHED_MODULE)
    sys.modules[PUBLISHED_MODULE] = implementation.module
    try:
        yield implementation
    finally:
        if saved is None:
            sys.modules.pop(PUBLISHED_MODULE, None)
        else:
            sys.modules[PUBLISHED_MODULE] = saved


def run_docs(path: Path, *, impl: str = PUBLISHED_MODULE, db: str | None = None, timeout: float = 60) -> DocsReport:
    documents = find_documents(path)
    try:
        if db is not None:
            backend_of(db)  # an unknown scheme is bad input, reported before anything runs
        with implementation_as_published_name(impl) as implementation:
            with tempfile.TemporaryDirectory(prefix="dfc-docs-") as scratch, _working_directory(Path(scratch)):
                results = [
                    _run_document(name, text, implementation, db, Path(scratch), timeout) for name, text in documents
                ]
    except ImplementationError as exc:
        raise DocsError(str(exc)) from None
    except BackendUnavailable as exc:
        raise DocsError(str(exc)) from None
    database = backend_of(db) if db else "sqlite"
    return DocsReport(impl, implementation.version, database, results)


def _run_document(name, text, implementation, server_url, scratch: Path, timeout: float) -> DocumentResult:
    document = DocsDocument.from_text(text, name, [*python_parsers(), OtherBlocks()])
    result = DocumentResult(name)
    failed_blocks: list[tuple[int, set[str]]] = []  # (line, names it would have defined)
    with document_database(server_url, scratch) as url, _environment("DATABASE_URL", url):
        document.namespace["database_url"] = url
        try:
            for example in document.examples():
                block = _run_block(example, failed_blocks, timeout)
                if block is None:
                    continue
                result.blocks.append(block)
                if block.outcome == "failed":
                    failed_blocks.append((block.line, diagnosis.assigned_names(str(example.parsed))))
        finally:
            with _time_limit(timeout), _captured_output():
                close_instances(document.namespace, implementation.DataFlow)
                document.close()
    return result


def _run_block(example, failed_blocks, timeout: float) -> BlockResult | None:
    """Run one example; None for a skip directive, which is not a block of its own."""
    evaluator = example.region.evaluator
    if isinstance(evaluator, Skipper):
        example.evaluate()  # installs or removes the skip for the blocks that follow
        return None
    if evaluator is not_python:
        return BlockResult(example.line, example.parsed, "skipped", f"not Python ({example.parsed})")
    language = "python" if evaluator is evaluate_python else "python (doctest)"
    source = str(example.parsed) if language == "python" else str(getattr(example.parsed, "source", ""))
    if not diagnosis.has_code(source):
        return BlockResult(example.line, language, "skipped", "no code")
    try:
        with _time_limit(timeout), _captured_output():
            example.evaluate()
    except unittest.SkipTest as exc:
        return BlockResult(example.line, language, "skipped", str(exc) or "skip directive")
    except BlockTimeout as exc:
        return BlockResult(example.line, language, "failed", str(exc))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit in an example is a failure to report too
        reason = diagnosis.unavailable(exc, PUBLISHED_MODULE)
        if reason:
            return BlockResult(example.line, language, "skipped", reason)
        return BlockResult(example.line, language, "failed", diagnosis.describe(exc, source, failed_blocks))
    return BlockResult(example.line, language, "passed")


def close_instances(namespace: dict, dataflow_class) -> None:
    """Close the DataFlow instances a document left open, so its database can be dropped."""
    for value in list(namespace.values()):
        if isinstance(dataflow_class, type) and isinstance(value, dataflow_class):
            with contextlib.suppress(Exception):
                value.close()


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt a block that runs longer than `seconds` (SIGALRM: main thread on POSIX only)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise BlockTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _captured_output():
    """Keep what examples (and the libraries they call, logging included) print out of the report."""
    with tempfile.TemporaryFile() as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def _environment(name: str, value: str):
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@contextlib.contextmanager
def _working_directory(path: Path):
    """Examples that write files (`sqlite:///app.db`) write them in a scratch directory."""
    saved = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)
