"""What a docs example's failure means, read from its exception chain.

- It needs what this run does not have (the block is skipped, with the need named): a package that
  exists (a requirement of the implementation's distribution or one of its extras, or one the corpus's
  decisions file names) but is not installed, or a server the run does not provide.
- It is blocked by an earlier block: it uses a name that only a block which did not run to its end would
  have defined (a cascade: counted apart, with the block it depends on).
- Otherwise it failed, and its root cause is the innermost meaningful exception of the chain: what the
  implementation raised under its wrappers, its message with the values masked so that the same cause
  in different examples is one cause; an import of a module that exists nowhere is such a failure.
"""

import ast
import importlib.metadata
import importlib.util
import re
import traceback

from ..exceptions import cause_chain
from ..report.causes import mask

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A wrapper's first line that says nothing ("Error DF-401: Unknown error"): the detail is further down.
_GENERIC = re.compile(r"\b(unknown error|an error occurred|error occurred|runtime execution error)\b", re.IGNORECASE)
_DETAIL = re.compile(r"^[-*•\s]*(?:error_message|error|reason|cause|details?|message)\s*[:=]\s*(?P<text>\S.*)$", re.I)
_NODE_TYPE = re.compile(
    r"\b(?P<model>[A-Z]\w*?)(?:Create|Read|Update|Delete|List|Upsert|Count|BulkCreate|BulkUpdate|BulkDelete|BulkUpsert)Node\b"
)
_IDENTIFIER = re.compile(r"'([A-Za-z_][\w.]*)'")
WRAPPED = ("original_error", "original_exception", "inner_exception")  # wrappers that keep the cause aside


def innermost(exc: BaseException) -> BaseException:
    """The innermost exception of the chain, following `raise ... from`, a handler's own raise, and the
    attributes in which some wrappers keep what they caught (DataFlow's `original_error`)."""
    current = exc
    for _ in range(20):
        inner = cause_chain(current)[-1]
        kept = next(
            (getattr(inner, name) for name in WRAPPED if isinstance(getattr(inner, name, None), BaseException)), None
        )
        if kept is None or kept is inner:
            return inner
        current = kept
    return current


def message(exc: BaseException) -> str:
    """The line of an exception's message that says what went wrong (not a wrapper's generic headline)."""
    text = without_paths(_ANSI.sub("", str(exc))).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0].lstrip("❌ ").strip()
    if isinstance(exc, AssertionError) and not first.startswith("assert "):
        # a rewritten assert with a message: "the count" over "assert 2 == 3", the values
        compared = next((line for line in lines[1:] if line.startswith("assert ")), None)
        return f"{first}: {compared}" if compared else first
    if _GENERIC.search(first):
        for line in lines[1:]:
            if match := _DETAIL.match(line):
                return f"{match.group('text')} ({first})"
        if len(lines) > 1:
            return f"{first}: {' '.join(lines[1:3])}"
    return first


def headline(exc: BaseException) -> str:
    """`Type: meaningful line` of the innermost exception."""
    inner = innermost(exc)
    text = message(inner)
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def cause_key(exc: BaseException) -> str:
    """The root cause as a group key: the headline with values masked but names kept (`'adapter'` in
    "has no attribute 'adapter'" is the cause, not a value)."""
    text = _IDENTIFIER.sub(lambda m: f"⟨{m.group(1)}⟩", headline(exc))
    return re.sub("⟨([^⟩]*)⟩", lambda m: f"'{m.group(1)}'", mask(text))


def where(exc: BaseException, page: str, packages: tuple[str, ...]) -> str:
    """Where the root cause was raised: the deepest frame in the implementation's packages, else the page."""
    found = None
    for link in reversed(cause_chain(exc)):
        for frame, line in traceback.walk_tb(link.__traceback__):
            module = frame.f_globals.get("__name__", "")
            if any(module == p or module.startswith(p + ".") for p in packages):
                found = f"{module}:{frame.f_code.co_name}"
            elif frame.f_code.co_filename == page and found is None:
                found = f"{page}:{line}"
        if found:
            return found
    return page


def page_line(exc: BaseException, page: str) -> str | None:
    """`page:line` of the statement of the page's own code that raised (or called what raised), if any."""
    lines = [line for frame, line in traceback.walk_tb(exc.__traceback__) if frame.f_code.co_filename == page]
    return f"{page}:{lines[-1]}" if lines else None


# -- what the run lacks ----------------------------------------------------------------------------------


class Packages:
    """Which missing modules are packages a reader can install: the requirements of the implementation's
    distribution and of its extras (e.g. kailash-dataflow[mongodb] -> motor), and the modules a corpus's
    decisions file names."""

    def __init__(self, implementation_module: str, known: dict[str, str]):
        self.implementation_module = implementation_module
        self.known = dict(known)  # module -> "package (why)"
        for distribution in importlib.metadata.packages_distributions().get(implementation_module, []):
            for requirement in importlib.metadata.requires(distribution) or []:
                name = re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]
                if _module_name(name) == _module_name(distribution):
                    continue  # an extra that names other extras of the same distribution

                extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)", requirement)
                note = (
                    f"{name}, from {distribution}[{extra.group(1)}]"
                    if extra
                    else f"{name}, a requirement of {distribution}"
                )
                self.known.setdefault(_module_name(name), note)
        self.distributions = {_module_name(d.metadata["Name"]) for d in importlib.metadata.distributions()}

    def missing(self, exc: BaseException) -> tuple[str | None, str | None]:
        """(skip reason, failure hint) for an exception that may be a missing module."""
        for link in reversed(cause_chain(exc)):
            if not (isinstance(link, ModuleNotFoundError) and link.name):
                continue
            top = link.name.split(".")[0]
            if importlib.util.find_spec(top) is not None:
                return None, f"`{top}` is installed but has no module `{link.name}`"
            if top in self.known:
                return f"needs the package {self.known[top]} (not installed)", None
            if top in self.distributions:
                return None, f"no module `{top}`: that is a distribution's name, not a module it installs"
            return None, f"no module `{top}` exists in the implementation, its requirements or the decisions file"
        for link in cause_chain(exc):
            if isinstance(link, ImportError) and "pip install" in str(link):  # the library names a missing extra
                return f"needs an optional extra ({message(link)[:160]})", None
        return None, None


def _module_name(distribution: str) -> str:
    return re.sub(r"[-.]+", "_", distribution).lower()


# -- cascades --------------------------------------------------------------------------------------------


def blocked_by(exc: BaseException, incomplete: list[tuple[int, set[str], str]]) -> tuple[int, str] | None:
    """(line, why) of the earlier block this failure follows from: a NameError for a name that only a block
    which did not complete defines, or a generated node of a model that such a block declares.
    `incomplete`: (line, names it defines, its outcome) of the blocks that did not run to their end."""
    inner = innermost(exc)
    name = getattr(inner, "name", None) if isinstance(inner, NameError) else None
    wanted = {name} if name else set()
    if not wanted:
        wanted = {m.group("model") for m in _NODE_TYPE.finditer(str(inner))}
    for line, names, outcome in reversed(incomplete):
        if wanted & names:
            return line, f"uses {', '.join(sorted(wanted & names))} from the block at line {line} ({outcome})"
    return None


def defined_names(tree: ast.Module) -> set[str]:
    """The names a block defines at its top level or anywhere below (assignments, functions, classes, imports)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def format_traceback(exc: BaseException, page: str, limit: int = 60) -> str:
    """The traceback for the verbose view: the whole chain from the page's own frames on (the runner's
    frames above them say nothing about the docs), its last `limit` lines, without machine paths."""
    summary = traceback.TracebackException.from_exception(exc)
    frames = list(summary.stack)
    first = next((i for i, frame in enumerate(frames) if frame.filename == page), 0)
    summary.stack = traceback.StackSummary.from_list(frames[first:])
    lines = "".join(summary.format()).splitlines()
    if len(lines) > limit:
        lines = [f"... ({len(lines) - limit} lines above)", *lines[-limit:]]
    return without_paths(_ANSI.sub("", "\n".join(lines)))


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b|(?<=_)\d{12,}\b")  # <object at 0x7f3a...>, df_140572372335440


def without_addresses(text: str) -> str:
    """Object addresses and ids masked: they differ on every run, so the same outcome would read differently."""
    return _ADDRESS.sub("…", text)


_PATH = re.compile(r"(?<![\w:/.~-])(?P<path>/[^\s\"'():,<>]+)")  # not the path of a URL (scheme://host/path)


def without_paths(text: str) -> str:
    """Absolute paths shortened to what identifies the file: from site-packages/ or pythonX.Y/ on, else
    the file's name (reports are committed and compared; machine paths would differ on every machine)."""

    def shorten(match: re.Match) -> str:
        path = match.group("path")
        for marker in ("site-packages/", "dist-packages/"):
            if marker in path:
                return path.split(marker, 1)[1]
        if m := re.search(r"/lib/(python3\.\d+/.*)$", path):
            return m.group(1)
        return path.rsplit("/", 1)[-1] if path.count("/") > 1 else path

    return _PATH.sub(shorten, text)
