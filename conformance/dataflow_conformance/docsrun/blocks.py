"""The blocks of a Markdown document, found by a CommonMark parser (markdown-it-py), and how they run.

Sybil's Markdown lexers find fences with regular expressions: a four-backtick fence that shows a
three-backtick one inside it, a tilde fence or a fence inside a list item defeat them (two parsers then
claim overlapping regions and Sybil stops with `ValueError: ... overlaps`). markdown-it-py parses the
document as CommonMark does, so every fence a Markdown renderer shows is one block here, nested or not.

One lexer serves both consumers: the project's doc tests (`doctests/`, Sybil under pytest: `regions`
turns blocks into Sybil regions) and `dataflow-conformance docs` (`page.py` runs the blocks of one page).
Top-level `await` works in both: such a block compiles to a coroutine, which runs on the document's own
event loop (one per document, so objects bound to a loop survive from one block to the next).
"""

import ast
import asyncio
import copy
import inspect
import re
from dataclasses import dataclass
from functools import cached_property

from _pytest.assertion.rewrite import rewrite_asserts
from markdown_it import MarkdownIt
from sybil import Document, Region
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.skip import Skipper
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.abstract.skip import SKIP_ARGUMENTS_PATTERN
from sybil.region import Lexeme

PYTHON_LANGUAGES = ("python", "py", "python3", "py3", "pycon")
# A paragraph that introduces what the block before it prints: "Output:", "**Expected output:**", "This prints:".
OUTPUT_LABEL = re.compile(r"^\W*(expected output|output|this prints|it prints|prints)\W*$", re.IGNORECASE)
_DIRECTIVE = re.compile(r"^<!--\s*skip:\s*(?P<arguments>.*?)\s*-->\s*$", re.DOTALL)
_INVISIBLE = re.compile(r"^<!--\s*invisible-code-block:\s*python\s*\n(?P<source>.*?)-->\s*$", re.DOTALL)
_MARKDOWN = MarkdownIt("commonmark")


@dataclass(frozen=True)
class Block:
    """A fenced block, an invisible code block or a skip directive, where the document has it."""

    kind: str  # "fence" | "invisible" (<!-- invisible-code-block: python ... -->) | "directive" (<!-- skip: ... -->)
    line: int  # 1-based line of the opening fence (or comment)
    end_line: int  # 1-based line after the block
    start: int  # character offsets in the document's text, for Sybil's regions
    end: int
    info: str = ""  # a fence's info string ("python", "bash run", "")
    source: str = ""  # the fence's content, as a reader copies it (indentation of a list item removed)
    closed: bool = True  # False: the fence runs to the end of its container (CommonMark allows it)
    label: str = ""  # the paragraph just before the block ("Output:" ...)

    @property
    def language(self) -> str:
        return self.info.split(maxsplit=1)[0].lower() if self.info.strip() else ""

    @property
    def first_source_line(self) -> int:
        """The document line of the source's first line (the line after the opening fence or comment)."""
        return self.line + 1

    @cached_property
    def is_python(self) -> bool:
        return self.kind == "invisible" or (self.kind == "fence" and self.language in PYTHON_LANGUAGES)

    @property
    def is_shell_run(self) -> bool:
        """A ```bash run block: a command the docs run as written (this kit's convention, doctests/commands.py)."""
        return self.kind == "fence" and self.info.split() == ["bash", "run"]

    @property
    def is_session(self) -> bool:
        """A `>>>` session (doctest): statements with the output each one prints."""
        return self.is_python and self.source.lstrip().startswith(">>>")

    @property
    def directive(self) -> tuple[str, str | None]:
        """(action, reason) of a skip directive, as Sybil reads it; ValueError when it does not parse."""
        match = SKIP_ARGUMENTS_PATTERN.match(self.source)
        if match is None:
            raise ValueError(f"line {self.line}: malformed skip directive: {self.source!r}")
        return match.group(1), match.group(2)


def lex(text: str) -> list[Block]:
    """Every fenced block, invisible code block and skip directive of a Markdown text, in order."""
    starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def offset(line: int) -> int:  # 0-based line -> character offset (the end of the text past the last line)
        return starts[line] if line < len(starts) else len(text)

    tokens = _MARKDOWN.parse(text)
    blocks = []
    for index, token in enumerate(tokens):
        if token.map is None or token.type not in ("fence", "html_block"):
            continue
        first, after = token.map
        where = {"line": first + 1, "end_line": after + 1, "start": offset(first), "end": offset(after)}
        if token.type == "fence":
            closing = text[offset(after - 1) : offset(after)].strip()
            closed = after - first >= 2 and closing.startswith(token.markup) and not closing.strip(token.markup[0])
            label = (
                tokens[index - 2].content.strip() if index >= 2 and tokens[index - 1].type == "paragraph_close" else ""
            )
            blocks.append(
                Block("fence", **where, info=token.info.strip(), source=token.content, closed=closed, label=label)
            )
        elif match := _DIRECTIVE.match(token.content.strip()):
            blocks.append(Block("directive", **where, source=match.group("arguments")))
        elif match := _INVISIBLE.match(token.content.strip()):
            blocks.append(Block("invisible", **where, source=match.group("source")))
    return blocks


def shows_code(text: str) -> bool:
    """Whether a Markdown text has any fenced block at all."""
    return any(block.kind == "fence" for block in lex(text))


def shows_output_of(blocks: list[Block], index: int) -> Block | None:
    """The Python block whose printed output blocks[index] shows ("Output:" just before it), if any."""
    block = blocks[index]
    if block.kind != "fence" or not OUTPUT_LABEL.match(block.label) or index == 0:
        return None
    previous = blocks[index - 1]
    return previous if previous.is_python and not previous.is_session else None


# -- running a block ---------------------------------------------------------------------------------


def compile_block(source: str | ast.Module, path: str, first_line: int):
    """Compile a block so that tracebacks show the document's lines; top-level `await` allowed.

    Its `assert` statements are rewritten by pytest's own assertion rewriter (the one that rewrites test
    modules), so a failing assert says which values it compared (`assert ['passed'] == ['failed']`), in
    the doc tests and in `dataflow-conformance docs` alike, rather than a bare AssertionError."""
    if isinstance(source, str):
        source = ast.parse("\n" * (first_line - 1) + source, filename=path)
    tree = copy.deepcopy(source)  # the caller's tree stays as the page wrote it
    rewrite_asserts(tree, b"", path)  # (the source text serves only pytest's assertion-pass hook, off here)
    return compile(tree, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def execute(code, namespace: dict, run_coroutine) -> None:
    """Run compiled block code in a namespace; a block with top-level await evaluates to a coroutine."""
    try:
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            run_coroutine(result)
    finally:
        # eval adds __builtins__, and the assertion rewriter its helpers ("@py_assert1": names no example
        # can write): the namespace holds only the examples' names
        for name in [name for name in namespace if name == "__builtins__" or name.startswith("@py")]:
            del namespace[name]


class EventLoop:
    """A document's own event loop, made on first use, closed (what examples left running cancelled) at its end."""

    loop: asyncio.AbstractEventLoop | None = None

    def run_coroutine(self, coroutine):
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
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


# -- Sybil: the project's own doc tests ------------------------------------------------------------


class DocsDocument(Document, EventLoop):
    """A Markdown document whose examples share one namespace and one event loop."""


def evaluate_python(example) -> None:
    """Sybil evaluator: run one Python block in the document's namespace, awaiting at top level if it does."""
    __tracebackhide__ = True
    code = compile_block(str(example.parsed), example.path, example.line + 1 + example.parsed.line_offset)
    execute(code, example.namespace, example.document.run_coroutine)


class ReasonedSkipper(Skipper):
    """Sybil's skip directive (`<!-- skip: next "reason" -->`)."""

    def __init__(self):
        super().__init__("skip")


def skip_region(block: Block, path: str, skipper: Skipper) -> Region:
    """A skip directive as Sybil's region, refusing `start` or `next` without a reason: a skipped example
    must say why (a silent skip would pass as if it ran)."""
    action, reason = block.directive
    if action in ("start", "next") and not (reason or "").strip():
        raise ValueError(f'{path}, line {block.line}: "skip: {action}" needs a reason')
    return Region(block.start, block.end, (action, reason), skipper)


class PythonBlocks:
    """Sybil parser: the Python blocks of a Markdown document (markdown-it's fences and invisible code
    blocks; a `>>>` session becomes one doctest example per statement) and the skip directives."""

    def __init__(self):
        self.skipper = ReasonedSkipper()
        self.doctests = DocTestStringParser(DocTestEvaluator())

    def __call__(self, document: Document):
        starts = [0, *(m.end() for m in re.finditer("\n", document.text))]
        for block in lex(document.text):
            if block.kind == "directive":
                yield skip_region(block, document.path, self.skipper)
            elif block.is_session:
                yield from self._session(block, document, starts)
            elif block.is_python:
                parsed = Lexeme(block.source, offset=0, line_offset=0)
                yield Region(block.start, block.end, parsed, evaluate_python)

    def _session(self, block: Block, document: Document, starts: list[int]):
        """One region per `>>>` statement, placed on the document lines it comes from."""
        source_lines = block.source.count("\n", 0)
        for region in self.doctests(block.source, document.path):
            first = block.source.count("\n", 0, region.start)
            last = min(block.source.count("\n", 0, region.end), source_lines)
            line = block.line + first  # 0-based document line of the statement (the fence is block.line - 1)
            start = starts[line]
            end = starts[block.line + last] if block.line + last < len(starts) else len(document.text)
            region.parsed.lineno = 0
            yield Region(start, max(end, start + 1), region.parsed, region.evaluator)


def python_parsers() -> list:
    """The parsers that find the runnable Python blocks of a Markdown document, and the skip directive."""
    return [PythonBlocks()]
