"""Run the Python examples of any project's Markdown docs against a DataFlow implementation.

`dataflow-conformance docs PATH...` uses this module. Each page runs in a process of its own (page.py),
on a database of its own (a SQLite file, or a database created on the configured server and dropped
afterwards), in a scratch directory of its own, with `--jobs` pages at a time. A process per page,
rather than one process that ends with os._exit after its report:

- pages cannot affect each other: DataFlow and Kailash keep models and nodes in process-wide registries,
  so page order would change results in one process;
- a block that ignores its time limit (a C call that never returns, an example that catches every
  exception) is stopped by ending its page's process; the page's other results are already on disk;
- threads the examples leave behind (connection pool monitors, event-loop workers) end with the page's
  process, and processes they start end with its process group, so this process exits on its own once
  the report is written.

A run that is stopped (Ctrl-C, SIGTERM) ends every page's process group and drops every database it
created before it exits (status 128 + the signal's number). The databases of a run share a prefix of its
own (`dfc_docs_<run>_`), so concurrent runs on one server never touch each other's.
"""

import concurrent.futures
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from ..backends.provision import WorkerDatabase
from ..backends.resolve import Backend, BackendUnavailable, backend_of
from . import corpus
from . import decisions as decisions_file
from .blocks import lex
from .corpus import DocsError
from .report import DocsReport, PageResult

GRACE = 15  # seconds past a block's limit before its page's process is ended (its own alarm comes first)


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM), handled as Ctrl-C is."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signal.Signals(signum).name}")
        self.signum = signum


# -- running -------------------------------------------------------------------------------------


@contextlib.contextmanager
def document_database(server_url: str | None, scratch: Path, run: str = "docs"):
    """The URL of a fresh, empty database for one document: a new SQLite file in `scratch`, or a database
    created on the server of `server_url` (named `dfc_<run>_<random>`, dropped afterwards), so documents
    cannot see each other."""
    if server_url is None or backend_of(server_url) == "sqlite":
        yield f"sqlite:///{scratch / f'docs-{uuid.uuid4().hex[:8]}.db'}"
        return
    backend = Backend(backend_of(server_url), server_url, "--dataflow-dburi")
    database = WorkerDatabase(backend, run)
    database.create()
    try:
        yield database.url
    finally:
        database.drop()


@dataclass
class Settings:
    implementation: str = "dataflow"
    server_url: str | None = None
    timeout: float = 60
    isolation: str = "page"  # page | block
    jobs: int = 2
    decisions: decisions_file.Decisions = None
    packages: tuple[str, ...] = ("dataflow",)
    run: str = "docs"  # the prefix of the run's databases: dfc_<run>_...
    stop: threading.Event = field(default_factory=threading.Event)  # set: end every page's process now


def run_docs(
    paths: list[Path] | Path,
    *,
    impl: str = "dataflow",
    db: str | None = None,
    timeout: float = 60,
    isolation: str = "page",
    jobs: int = 1,
    include: list[str] = (),
    exclude: list[str] = (),
    decisions: str | None = None,
    commit: str | None = None,
    progress=None,
    started=None,
) -> DocsReport:
    """Run every page's blocks; `started(line)` is called once with what the run does and where, and
    `progress(done, total, page_result)` as each page finishes."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    try:
        chosen = decisions_file.load(decisions)
    except decisions_file.DecisionsError as exc:
        raise DocsError(str(exc)) from None
    documents = corpus.find_documents(paths, list(include) or chosen.include, [*exclude, *chosen.exclude])
    python_lines = {d.name: {b.line for b in lex(d.text) if b.is_python} for d in documents}
    try:
        chosen.check(python_lines)
        database = backend_of(db) if db else "sqlite"  # an unknown scheme is bad input, reported before anything runs
    except (decisions_file.DecisionsError, BackendUnavailable) as exc:
        raise DocsError(str(exc)) from None
    described = _describe(impl)
    settings = Settings(impl, db, timeout, isolation, max(1, jobs), chosen, tuple(described["packages"]))
    settings.run = f"docs_{uuid.uuid4().hex[:6]}"
    if started is not None:
        server = make_url(db).render_as_string(hide_password=True) if db else ""
        where = f"databases dfc_{settings.run}_* on {server}" if database != "sqlite" else "a SQLite file per page"
        started(f"docs run: {len(documents)} pages, {settings.jobs} at a time, {where}")
    began = time.perf_counter()
    results: dict[str, PageResult] = {}
    with _stopped_by_sigterm(), concurrent.futures.ThreadPoolExecutor(max_workers=settings.jobs) as pool:
        futures = {pool.submit(_run_page, document, settings): document for document in documents}
        try:
            for future in concurrent.futures.as_completed(futures):
                page = future.result()
                results[page.name] = page
                if progress is not None:
                    progress(len(results), len(documents), page)
        except BaseException:  # Ctrl-C, SIGTERM: pages not started never start, running ones end now
            settings.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)  # each page drops its database as it ends
            raise
    return DocsReport(
        implementation=impl,
        version=described["version"],
        distribution=described.get("distribution"),
        database=database,
        pages=[results[d.name] for d in documents],
        corpus=corpus.describe(paths, commit),
        options={
            "timeout": timeout,
            "isolation": isolation,
            "jobs": settings.jobs,
            "decisions": Path(chosen.source).name if chosen.source else None,
        },
        seconds=round(time.perf_counter() - began, 1),
    )


@contextlib.contextmanager
def _stopped_by_sigterm():
    """SIGTERM stops the run as Ctrl-C does (an exception in the main thread), so that the clean-up runs:
    without it, the pages' processes would run on and their databases would never be dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; the caller's own handling applies
        return

    def stop(signum, frame):
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _describe(impl: str) -> dict:
    """Load the implementation in a process of its own: its version, or why it cannot be loaded."""
    done = subprocess.run(
        [sys.executable, "-m", "dataflow_conformance.docsrun.page", "--describe", impl],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    lines = done.stdout.strip().splitlines()
    try:
        described = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise DocsError(f"--dataflow-impl={impl}: loading it failed: {done.stderr.strip()[-2000:]}") from None
    if "error" in described:
        raise DocsError(described["error"])
    return described


def _run_page(document: corpus.Document, settings: Settings) -> PageResult:
    started = time.perf_counter()
    if settings.stop.is_set():
        raise Stopped(signal.SIGTERM)
    if not any(block.is_python for block in lex(document.text)):  # nothing to run: no process, no database
        page = PageResult(document.name)
        _account_for_a_stop(document, page, None)
        return page
    with tempfile.TemporaryDirectory(prefix="dfc-docs-") as scratch, contextlib.ExitStack() as database:
        scratch = Path(scratch)
        try:
            url = database.enter_context(document_database(settings.server_url, scratch, settings.run))
        except Exception as exc:  # noqa: BLE001 - the server refused (too many connections, no privilege)
            page = PageResult(document.name, seconds=round(time.perf_counter() - started, 2))
            page.harness_error = f"the page's database could not be created on {settings.server_url}: {exc}"
            return page
        page_decisions = settings.decisions.for_page(document.name)
        job = {
            "page": document.name,
            "text": document.text,
            "implementation": settings.implementation,
            "implementation_packages": list(settings.packages),
            "database_url": url,
            "server_url": settings.server_url,
            "timeout": settings.timeout,
            "isolation": settings.isolation,
            "scratch": str(scratch / "work"),
            "decisions": {line: [d.decision, d.reason] for line, d in page_decisions.items()},
            "programs": settings.decisions.programs_of(document.name),
            "packages": settings.decisions.packages,
            "environment": settings.decisions.database_url_variables,
        }
        (scratch / "work").mkdir()
        (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
        events, stop = _watch(scratch, settings, url)
    return _page_result(document, events, stop, time.perf_counter() - started)


def _watch(scratch: Path, settings: Settings, url: str) -> tuple[list[dict], dict | None]:
    """Run the page's process and read its events; end the process when a block outlives its limit, or
    when the run is stopped. Returns the events and, when the process did not finish the page,
    {"line": ..., "why": ...}."""
    results = scratch / "results.jsonl"
    results.touch()
    timeout = settings.timeout
    grace = min(GRACE, max(2.0, timeout or GRACE))
    with open(scratch / "process.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dataflow_conformance.docsrun.page", str(scratch / "job.json"), str(results)],
            cwd=scratch / "work",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_page_environment(url),
            start_new_session=True,  # a process group of its own: what the examples start ends with it
        )
        stop = None
        try:
            while process.poll() is None:
                if settings.stop.wait(0.2):
                    raise Stopped(signal.SIGTERM)
                events = _events(results)
                last = events[-1] if events else None
                if last and last["event"] == "start" and time.time() - last["time"] > (timeout or 3600) + grace:
                    stop = {"line": last["line"], "why": f"did not stop at its time limit ({timeout:g} s)"}
                    break
                if last and last["event"] == "end":
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(grace)
                    break
        finally:
            _end_group(process)
    events = _events(results)
    last = events[-1] if events else None
    if stop is None and last is not None and last["event"] == "start":  # the process died while a block ran
        stop = {"line": last["line"], "why": f"its page's process ended (exit status {process.returncode})"}
    elif stop is None and (last is None or last["event"] not in ("end", "harness-error")):
        log_text = (scratch / "process.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        events.append(
            {"event": "harness-error", "traceback": f"the page's process ended ({process.returncode}):\n{log_text}"}
        )
    return events, stop


def _page_environment(url: str) -> dict[str, str]:
    """The page's process: its database as DATABASE_URL; the modules of the directory the command runs in
    importable, as they are for a reader who runs the examples there (`python` puts it on sys.path; the
    page's process runs in a scratch directory); one hash seed, so that what examples print of sets (an
    error naming "unknown parameters {...}") reads the same on every run."""
    path = os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONHASHSEED": "0", **os.environ, "DATABASE_URL": url, "PYTHONPATH": path}


def _end_group(process: subprocess.Popen) -> None:
    """End the page's process and every process it started (still running, or left behind)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _events(path: Path) -> list[dict]:
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line the process was writing when it was ended
            events.append(json.loads(line))
    return events


def _page_result(document: corpus.Document, events: list[dict], stop: dict | None, seconds: float) -> PageResult:
    blocks = [{"detail": ""} | {k: v for k, v in e.items() if k != "event"} for e in events if e["event"] == "block"]
    page = PageResult(document.name, blocks, seconds=round(seconds, 2))
    errors = [e["traceback"] for e in events if e["event"] == "harness-error"]
    if errors:
        page.harness_error = errors[0]
    if stop is not None:
        _account_for_a_stop(document, page, stop)
    return page


def _account_for_a_stop(document: corpus.Document, page: PageResult, stop: dict | None) -> None:
    """The blocks a stopped process never reported: the one it stopped in failed, the rest are blocked by
    it (stop=None: a page without Python blocks, whose other blocks are reported here)."""
    reported = {b["line"] for b in page.blocks}
    for block in lex(document.text):
        if block.kind == "directive" or block.line in reported:
            continue
        base = {"line": block.line, "end_line": block.end_line, "language": block.language or "no language"}
        if not block.is_python:
            page.blocks.append(base | {"outcome": "not-python", "detail": f"not Python ({base['language']})"})
        elif block.line == stop["line"]:
            cause = {"error": stop["why"], "where": document.name}
            page.blocks.append(
                base | {"outcome": "failed", "detail": stop["why"], "cause": cause, "source": block.source}
            )
        elif block.line > stop["line"]:
            why = f"not run: {stop['why']} at line {stop['line']}"
            page.blocks.append(base | {"outcome": "blocked", "blocked_by": stop["line"], "detail": why})
    if stop is not None and stop["line"] == 0:
        page.note = f"its clean-up {stop['why']}: the process was ended"
    page.blocks.sort(key=lambda b: b["line"])
