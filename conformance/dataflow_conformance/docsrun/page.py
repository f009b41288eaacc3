"""One page's blocks, run in a process of its own: `python -m dataflow_conformance.docsrun.page JOB RESULTS`.

runner.py starts this for every page with a job (JSON: the page's text, its database, the options) and
reads RESULTS, a JSON line per event: `start` before a block runs (so the runner can stop a block that
ignores its time limit by ending this process), one `block` per result, `end` after the page's clean-up.
The process ends with os._exit once RESULTS is written: threads that examples leave running (connection
pool monitors, event-loop workers) cannot keep it alive, and nothing is lost since every result is
already on disk.

A block's outcome: passed; warned (ran, and the implementation warned); failed (with its root cause);
blocked (it needs what an earlier block that did not complete would have defined); fragment (a
signature, stub, elision or excerpt, not run: fragments.py); skipped (a skip directive, a decision, or
it needs a package or a server this run lacks, named); not-python (another language, or the output a
Python block prints). A `bash run` block (shell.py) passes or fails as its command does.

The blocks of a page share one namespace, except those a decision puts in a program of their own (the
other application a migration guide compares with). After each block, a garbage collection runs while
the block's warnings are still recorded, so that what the block dropped warns in its own outcome rather
than in whichever later block a collection happens to run in: outcomes are the same on every run.
"""

import ast
import contextlib
import doctest
import gc
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from sybil.evaluators.doctest import DocTestRunner
from sybil.evaluators.skip import If

from . import diagnosis, fragments, output
from .blocks import Block, EventLoop, compile_block, execute, lex, shows_output_of
from .capture import BlockTimeout, captured_output, implementation_warnings, note_collection, time_limit
from .guard import NetworkGuard, UnconfiguredServer
from .redefinitions import prepare, record_constructions
from .rewrite import rewrite_source, rewrite_urls
from .shell import run_shell

PUBLISHED_MODULE = "dataflow"  # the name published docs import; the job's implementation answers to it
_MAX_CAPTURE = 20_000


class _SessionRunner(DocTestRunner):
    """Sybil's doctest runner (its output checker), keeping the first exception a statement raised."""

    error: BaseException | None = None

    def report_unexpected_exception(self, out, test, example, exc_info):
        if self.error is None:
            self.error = exc_info[1]


class PageRun:
    def __init__(self, job: dict, sink):
        self.job = job
        self.sink = sink
        self.page = job["page"]
        self.decisions = {int(line): tuple(d) for line, d in job.get("decisions", {}).items()}
        self.programs = {int(line): tuple(p) for line, p in job.get("programs", {}).items()}  # line -> (name, why)
        self.program = ""  # the program of the block that runs: "" is the page's own
        self.packages = diagnosis.Packages(PUBLISHED_MODULE, job.get("packages", {}))
        self.implementation_packages = tuple(job.get("implementation_packages", [PUBLISHED_MODULE]))
        self.guard = NetworkGuard(job.get("server_url"))
        self.loop = EventLoop()
        self.namespaces: dict[str, dict] = {}  # program -> its namespace
        self.skip: tuple[str, str | None] | None = None  # (action, reason) of the active skip directive
        # (line, names it defines, outcome, program) of the earlier Python blocks, and of those among them
        # that did not run to their end (a later block that needs their names is blocked by them)
        self.earlier: list[tuple[int, set[str], str, str]] = []
        self.incomplete: list[tuple[int, set[str], str, str]] = []
        self.refused_on_page: list[str] = []  # servers earlier blocks tried to reach (a lazy client fails later)
        self.needs_of_modules: dict[str, tuple[str, int]] = {}  # implementation module -> (a package it lacked, line)
        self.private = [(job["database_url"], "<the page's database>"), (str(Path(job["scratch"]).parent), "<scratch>")]

    @property
    def namespace(self) -> dict:
        """The namespace of the running block's program (the page's own, or one a decision names)."""
        if self.program not in self.namespaces:
            self.namespaces[self.program] = {"__name__": "__main__", "database_url": self.job["database_url"]}
        return self.namespaces[self.program]

    def _renew_namespace(self) -> None:
        self.namespaces.pop(self.program, None)

    def emit(self, event: str, **fields) -> None:
        """Write one event; text that quotes the machine (tracebacks, printed output) without its paths, its
        database's URL or scratch directory, and in details and warnings without object addresses (what
        changes from run to run would make reports differ where the outcomes do not)."""
        for name in ("detail", "traceback", "printed", "difference"):
            if isinstance(fields.get(name), str):
                fields[name] = self._private_masked(fields[name], volatile=name == "detail")
        if fields.get("warnings"):
            fields["warnings"] = [self._private_masked(text, volatile=True) for text in fields["warnings"]]
        self.sink.write(json.dumps({"event": event, **fields}, default=str) + "\n")
        self.sink.flush()

    def _private_masked(self, text: str, volatile: bool) -> str:
        for private, shown in self.private:
            text = text.replace(private, shown)
        text = diagnosis.without_paths(text)
        return diagnosis.without_addresses(text) if volatile else text

    def run(self) -> None:
        self.guard.install()
        gc.collect()
        gc.freeze()  # what loading the implementation made stays: the collection after each block stays fast
        gc.callbacks.append(note_collection)
        blocks = lex(self.job["text"])
        for index, block in enumerate(blocks):
            if block.kind == "directive":
                self._directive(block)
                continue
            self.emit("start", line=block.line, time=time.time())
            started = time.perf_counter()
            result = self._block(blocks, index)
            result.setdefault("seconds", round(time.perf_counter() - started, 3))
            self.emit("block", **result)
        self.emit("start", line=0, time=time.time())  # the clean-up, watched like a block
        self._close()
        self.emit("end")

    # -- one block -----------------------------------------------------------------------------------

    def _block(self, blocks: list[Block], index: int) -> dict:
        block = blocks[index]
        base = {"line": block.line, "end_line": block.end_line, "language": block.language or "no language"}
        shown = shows_output_of(blocks, index)
        if shown is not None:  # even in a python fence: a result to read, not code to run
            return base | {"outcome": "not-python", "detail": f"the output of the block at line {shown.line}"}
        self.program, why = self.programs.get(block.line, ("", ""))
        if why:
            base["notes"] = [f"runs in the program {self.program!r}, a namespace of its own: {why}"]
        if block.is_shell_run:
            return self._shell(block, base | {"language": "bash (run)", "source": block.source})
        if not block.is_python:
            return base | {"outcome": "not-python", "detail": f"not Python ({base['language']})"}
        base |= {"language": "python (>>> session)" if block.is_session else "python", "source": block.source}
        decided = self.decisions.get(block.line)
        if decided and decided[0] in ("fragment", "skip"):
            outcome = "fragment" if decided[0] == "fragment" else "skipped"
            return self._incomplete(block, base | {"outcome": outcome, "detail": f"decided: {decided[1]}"})
        if self.skip is not None:
            reason = self._skip_reason()
            if reason is not None:
                return self._incomplete(block, base | {"outcome": "skipped", "detail": f"skip directive: {reason}"})
        if not block.closed:
            return base | self._failure_of_text("the fence is never closed: it runs to the end of the page", block)
        if block.is_session:
            return self._session(block, base)
        return self._code(blocks, index, base, forced=bool(decided))

    def _code(self, blocks: list[Block], index: int, base: dict, forced: bool) -> dict:
        block = blocks[index]
        padded = "\n" * (block.first_source_line - 1) + block.source
        try:
            tree = ast.parse(padded, filename=self.page)
        except SyntaxError as error:
            reading = None if forced else fragments.of_invalid_code(padded)
            if reading:
                kind, repaired = reading
                return self._incomplete(block, base | {"outcome": "fragment", "detail": kind}, ast.parse(repaired))
            return self._incomplete(block, base | self._failure(error, block))
        kind = None if forced else fragments.of_valid_code(tree)
        if kind:
            return self._incomplete(block, base | {"outcome": "fragment", "detail": kind}, tree)
        rewritten = rewrite_urls(tree, self.job["database_url"])
        if rewritten:
            base["rewritten"] = rewritten
        try:
            code = compile_block(tree, self.page, block.first_source_line)
        except SyntaxError as error:
            kind = None if forced else fragments.of_compiled_code(error)
            outcome = {"outcome": "fragment", "detail": kind} if kind else self._failure(error, block)
            return self._incomplete(block, base | outcome, tree)
        if self.job.get("isolation") == "block":
            self.loop.close()
            self._renew_namespace()
        notes = prepare(tree, self.namespace)
        if notes:
            base["notes"] = base.get("notes", []) + notes
            gc.collect()  # what the runner replaced goes now, not during the block (its warnings are not the block's)
        namespace = self.namespace
        result = self._execute(block, base, lambda: execute(code, namespace, self.loop.run_coroutine))
        if result.get("outcome") in ("passed", "warned"):
            result = self._compare_output(blocks, index, result)
        return self._track(block, result, diagnosis.defined_names(tree))

    def _session(self, block: Block, base: dict) -> dict:
        """A `>>>` session: each statement runs and what it prints is compared with what the page shows."""
        try:
            examples = doctest.DocTestParser().get_examples(block.source, self.page)
        except ValueError as error:
            return base | self._failure_of_text(f"the >>> session does not parse: {error}", block)
        rewritten = []
        for example in examples:
            example.source, replaced = rewrite_source(example.source, self.job["database_url"])
            rewritten += replaced
            example.lineno += block.first_source_line - 1
        if rewritten:
            base["rewritten"] = rewritten
        report: list[str] = []
        test = doctest.DocTest(examples, self.namespace, self.page, self.page, 0, None)

        def run_session():
            runner = _SessionRunner(output.OUTPUT_FLAGS | doctest.FAIL_FAST)
            runner.run(test, clear_globs=False, out=report.append)
            self.namespace.pop("__builtins__", None)
            if runner.error is not None:
                raise runner.error  # classified like a code block's exception (a need, a cascade, a failure)

        result = self._execute(block, base, run_session)
        if result["outcome"] in ("passed", "warned") and "".join(report).strip():
            result |= self._mismatch("".join(report).strip(), block)
        return self._track(block, result, set())

    def _shell(self, block: Block, base: dict) -> dict:
        """A `bash run` block (this kit's convention for a command the docs run as written): run in bash in
        the page's scratch directory, with no database configured, as doctests/commands.py runs it."""
        return self._track(
            block, self._execute(block, base, lambda: run_shell(block.source, self.job["timeout"])), set()
        )

    def _track(self, block: Block, result: dict, names: set[str]) -> dict:
        """Remember the block for the cascades of later blocks: what it defines, and whether it completed."""
        entry = (block.line, names, result["outcome"], self.program)
        self.earlier.append(entry)
        if result["outcome"] not in ("passed", "warned"):
            self.incomplete.append(entry)
        return result

    def _execute(self, block: Block, base: dict, action) -> dict:
        caught: list[str] = []
        self.guard.take_refused()
        with tempfile.TemporaryFile() as sink:
            try:
                with (
                    time_limit(self.job["timeout"]),
                    captured_output(sink),
                    implementation_warnings(self.implementation_packages, caught),
                ):
                    try:
                        action()
                    finally:
                        # The block's garbage goes now, while its warnings are recorded: objects its code
                        # dropped warn here (an unclosed instance), never in whichever later block a
                        # collection happens to run.
                        gc.collect()
            except BlockTimeout as exc:
                outcome = self._failure(exc, block)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - SystemExit in an example is a failure to report too
                outcome = self._classify(exc, block)
            else:
                outcome = {"outcome": "warned" if caught else "passed"}
            sink.seek(0)
            printed = sink.read(_MAX_CAPTURE).decode("utf-8", "replace")
        self.refused_on_page += self.guard.refused  # what a block that passed tried to reach (a lazy client)
        result = base | outcome | {"printed": printed}
        if caught:
            result["warnings"] = caught
            if result["outcome"] == "warned":
                result["detail"] = f"the implementation warned: {caught[0][:200]}"
        return result

    def _classify(self, exc: BaseException, block: Block) -> dict:
        need, hint = self.packages.missing(exc)
        module = diagnosis.where(exc, self.page, self.implementation_packages).split(":")[0]
        if need:
            if module != self.page:  # the implementation's code needed it: its later calls may fail for it
                self.needs_of_modules.setdefault(module, (need, block.line))
            return {"outcome": "skipped", "detail": need}
        if module in self.needs_of_modules and _about_a_connection(exc):
            need, line = self.needs_of_modules[module]
            return {"outcome": "skipped", "detail": f"{need}: {module} could not connect without it (line {line})"}
        refused = self.guard.take_refused()
        if refused and not hint:
            return {"outcome": "skipped", "detail": f"needs a server: {refused[0]} (not configured for this run)"}
        if self.refused_on_page and _about_a_connection(exc):
            server = self.refused_on_page[-1]
            return {"outcome": "skipped", "detail": f"needs a server: {server} (not configured for this run)"}
        if any(isinstance(link, UnconfiguredServer) for link in diagnosis.cause_chain(exc)):
            return {"outcome": "skipped", "detail": f"needs a server ({diagnosis.message(exc)})"}
        earlier = self.earlier if self.job.get("isolation") == "block" else self.incomplete
        blocked = diagnosis.blocked_by(exc, [entry[:3] for entry in earlier if entry[3] == self.program])
        if blocked:
            line, why = blocked
            return {"outcome": "blocked", "blocked_by": line, "detail": f"{diagnosis.headline(exc)}: {why}"}
        failure = self._failure(exc, block)
        if hint:
            failure["detail"] += f" ({hint})"
        elif isinstance(diagnosis.innermost(exc), NameError):
            failure["detail"] += " (no earlier block of the page defines it)"
        return failure

    def _failure(self, exc: BaseException, block: Block) -> dict:
        return {
            "outcome": "failed",
            "detail": diagnosis.headline(exc)[:500],
            "at": diagnosis.page_line(exc, self.page),
            "cause": {
                "error": diagnosis.cause_key(exc),
                "where": diagnosis.where(exc, self.page, self.implementation_packages),
            },
            "traceback": diagnosis.format_traceback(exc, self.page),
        }

    def _failure_of_text(self, text: str, block: Block) -> dict:
        return {"outcome": "failed", "detail": text, "cause": {"error": text, "where": self.page}}

    def _mismatch(self, difference: str, block: Block) -> dict:
        text = "printed output differs from the output the page shows"
        return {
            "outcome": "failed",
            "detail": text,
            "difference": difference[:4000],
            "cause": {"error": text, "where": self.page},
        }

    def _incomplete(self, block: Block, result: dict, tree: ast.Module | None = None) -> dict:
        return self._track(block, result, diagnosis.defined_names(tree) if tree is not None else set())

    def _compare_output(self, blocks: list[Block], index: int, result: dict) -> dict:
        note, difference = output.compare(blocks, index, result.get("printed", ""))
        if difference is not None:
            return result | self._mismatch(difference, blocks[index])
        return result | ({"output": note} if note else {})

    # -- skip directives, as Sybil reads them (sybil.evaluators.skip) --------------------------------------

    def _directive(self, block: Block) -> None:
        try:
            action, reason = block.directive
        except ValueError as error:
            self.emit("block", line=block.line, end_line=block.end_line, language="skip directive", outcome="failed",
                      detail=str(error), cause={"error": "malformed skip directive", "where": self.page})  # fmt: skip
            return
        if action == "end":
            self.skip = None
        elif action in ("start", "next"):
            self.skip = (action, reason)

    def _skip_reason(self) -> str | None:
        action, reason = self.skip
        if action == "next":
            self.skip = None
        text = (reason or "").strip()
        if not text:
            return "no reason given"
        namespace = dict(self.namespace)
        if text.startswith("if"):
            namespace["if_"] = If(text[2:])
            text = "if_" + text[2:]
        try:
            return eval(text, namespace) or None
        except Exception as exc:  # noqa: BLE001 - a reason that does not evaluate is still a reason to report
            return f"{text} (does not evaluate: {exc})"

    # -- around the blocks -------------------------------------------------------------------------------------

    def _close(self) -> None:
        """Close what the page left open (DataFlow instances, its event loop), within the time limit."""
        dataflow_class = getattr(sys.modules.get(PUBLISHED_MODULE), "DataFlow", None)
        with tempfile.TemporaryFile() as sink, contextlib.suppress(Exception, BlockTimeout):
            with time_limit(self.job["timeout"]), captured_output(sink):
                for namespace in self.namespaces.values():
                    close_instances(namespace, dataflow_class)
                self.loop.close()


def close_instances(namespace: dict, dataflow_class) -> None:
    """Close the DataFlow instances a document left open, so that its database can be dropped."""
    for value in list(namespace.values()):
        if isinstance(dataflow_class, type) and isinstance(value, dataflow_class):
            with contextlib.suppress(Exception):
                value.close()


def _about_a_connection(exc: BaseException) -> bool:
    """An error that says a connection is missing ("Not connected to MongoDB"), from a client whose
    server an earlier block could not reach, or whose driver it could not load."""
    inner = diagnosis.innermost(exc)
    text = f"{type(inner).__name__} {diagnosis.message(inner)}".lower()
    return "connect" in text


@contextlib.contextmanager
def implementation_as_published_name(module_name: str):
    """While examples run, `import dataflow` gives the implementation under test."""
    from ..plugin.implementation import load

    implementation = load(module_name)
    if module_name != PUBLISHED_MODULE:
        sys.modules[PUBLISHED_MODULE] = implementation.module
    yield implementation


def describe(module_name: str) -> dict:
    """The implementation's version and packages, or the error that loading it gives."""
    from ..plugin.implementation import ImplementationError

    try:
        with implementation_as_published_name(module_name) as implementation:
            return {
                "version": implementation.version,
                "distribution": implementation.distribution,
                "packages": sorted(implementation.packages),
            }
    except ImplementationError as exc:
        return {"error": str(exc)}


def _end_with_the_runner(runner: int) -> None:
    """End this page's process group when the runner is gone (killed outright, with no chance to end its
    pages): a page's process runs in a session of its own, which nothing else would end."""
    while os.getppid() == runner:
        time.sleep(1)
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> None:
    if argv[0] == "--describe":
        print(json.dumps(describe(argv[1])))
        sys.stdout.flush()
        os._exit(0)
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    threading.Thread(target=_end_with_the_runner, args=(os.getppid(),), daemon=True).start()
    with open(argv[1], "a", encoding="utf-8") as sink:
        try:
            logging.disable(logging.INFO)  # Kailash logs every node at INFO; a block's warnings are recorded apart
            os.chdir(job["scratch"])
            for name in job.get("environment", []):
                os.environ[name] = job["database_url"]
            with implementation_as_published_name(job["implementation"]) as implementation:
                record_constructions(implementation.DataFlow)
                PageRun(job, sink).run()
        except BaseException:  # noqa: BLE001 - the runner reports it as a harness error of this page
            sink.write(json.dumps({"event": "harness-error", "traceback": traceback.format_exc()}) + "\n")
        sink.flush()
        os.fsync(sink.fileno())
    os._exit(0)  # see the module's docstring: threads the examples left behind end with the process


if __name__ == "__main__":
    main(sys.argv[1:])
