"""Markdown code blocks as runnable examples, parsed and evaluated with Sybil.

One engine serves the project's doc tests (`doctests/`, through pytest) and `dataflow-conformance docs`
(any project's docs): Sybil's Markdown lexers find the fenced blocks, and `evaluate_python` runs a Python
block in its document's shared namespace. Top-level `await` works: such a block compiles to a coroutine,
which runs on the document's own event loop (one per document, so objects bound to a loop survive from
one block to the next).
"""

import ast
import asyncio
import inspect
import re
from pathlib import Path

from sybil import Document, Region
from sybil.evaluators.python import pad
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser
from sybil.parsers.markdown import SkipParser as SybilSkipParser
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

PYTHON_LANGUAGES = ("python", "py", "python3")


class DocsDocument(Document):
    """A Markdown document whose examples share one namespace and one event loop."""

    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_text(cls, text: str, path: str, parsers) -> "DocsDocument":
        """Parse text that is not (or not only) a file, e.g. a README taken from a wheel's METADATA."""
        document = cls(text, path)
        for parser in parsers:
            for region in parser(document):
                document.add(region)
        return document

    def run_coroutine(self, coroutine):
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        """Finish the document's event loop: cancel what the examples left running, then close it."""
        loop, self.loop = self.loop, None
        if loop is None or loop.is_closed():
            return
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def evaluate_python(example) -> None:
    """Sybil evaluator: run one Python block in the document's namespace, awaiting at top level if it does."""
    __tracebackhide__ = True
    source = pad(example.parsed, example.line + example.parsed.line_offset)  # tracebacks show the doc's lines
    code = compile(source, example.path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    result = eval(code, example.namespace)  # a block with top-level await evaluates to a coroutine
    if inspect.iscoroutine(result):
        example.document.run_coroutine(result)
    example.namespace.pop("__builtins__", None)  # eval adds it; the namespace holds only the examples' names


class PythonBlocks(PythonCodeBlockParser):
    """Sybil's Markdown parser for Python blocks (a `>>>` session becomes doctest examples; an
    `<!-- invisible-code-block: python -->` comment runs unseen), with `evaluate_python` for plain code."""

    def __init__(self, language: str = "python"):
        super().__init__()
        self.codeblock_parser = CodeBlockParser(language, evaluate_python)


class ReasonedSkipParser(SybilSkipParser):
    """Sybil's `<!-- skip: next "reason" -->` directive, refusing `start` or `next` without a reason:
    a skipped example must say why (a silent skip would pass as if it ran)."""

    def __call__(self, document: Document):
        for region in super().__call__(document):
            action, reason = region.parsed
            if action in ("start", "next") and not (reason or "").strip():
                line = document.text.count("\n", 0, region.start) + 1
                raise ValueError(f'{document.path}, line {line}: "skip: {action}" needs a reason')
            yield region


class NotPython(Exception):
    """Raised for a fenced block in another language: a report lists it, nothing runs it."""


def not_python(example) -> None:
    raise NotPython(example.parsed)


class OtherBlocks:
    """Every fenced block that the Python parsers do not take (other languages, or none), so that a
    report can account for it. Its evaluator raises NotPython."""

    _lexer = RawFencedCodeBlockLexer(
        info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE), mapping={"info": "info", "source": "source"}
    )

    def __call__(self, document: Document):
        for region in self._lexer(document):
            info = region.lexemes["info"]
            if info in PYTHON_LANGUAGES:
                continue
            language = info.strip().split(maxsplit=1)[0] if info.strip() else "no language"
            yield Region(region.start, region.end, language, not_python)


def python_parsers() -> list:
    """The parsers that find the runnable Python blocks of a Markdown document, and the skip directive."""
    return [*(PythonBlocks(language) for language in PYTHON_LANGUAGES), ReasonedSkipParser()]


def parse_file(path: Path, parsers) -> DocsDocument:
    return DocsDocument.parse(str(path), *parsers)


def shows_code(text: str) -> bool:
    """Whether a Markdown text has any fenced block at all."""
    return any(True for _ in OtherBlocks._lexer(Document(text, "")))
