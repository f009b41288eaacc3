"""What a docs example's failure means: something this machine lacks (the block is skipped, not
failed), or a failure to report with the hint a reader needs (a name only a failed block defined,
pseudo-code). Used by docsrun.py."""

import ast
import importlib.util
import re
import socket

from ..exceptions import exception_chain

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes some implementations put in their messages
_PLACEHOLDER = re.compile(r"\.\.\.$")  # "postgresql://...", "prod..."


def unavailable(exc: BaseException, implementation_module: str) -> str | None:
    """A block that needs what this machine does not have is skipped, not failed: a package that is not
    installed (an optional extra the docs may well be right about; the implementation's own modules never
    count, and neither does a name missing from an installed package), or a server the example names and
    this machine does not provide (refused, unknown host, or no such user there)."""
    for cause in exception_chain(exc):
        if isinstance(cause, ModuleNotFoundError) and cause.name:
            top = cause.name.split(".")[0]
            if top != implementation_module and importlib.util.find_spec(top) is None:
                return f"needs {top} (not installed)"
        if isinstance(cause, ImportError) and "pip install" in str(cause):  # the library names a missing extra
            return f"needs an optional extra ({_first_line(cause)})"
        # Drivers and implementations raise their own ConnectionError classes; the name is what they share.
        if isinstance(cause, (ConnectionError, socket.gaierror)) or type(cause).__name__ == "ConnectionError":
            return f"needs a server it cannot connect to ({_first_line(cause)})"
    return None


def _first_line(exc: BaseException) -> str:
    text = _ANSI.sub("", str(exc)).strip()
    first = (text.splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def describe(exc: BaseException, source: str, failed_blocks: list[tuple[int, set[str]]]) -> str:
    """The error as `Type: first line`, and a hint: for a NameError, the failed block that would have
    defined the name (failed_blocks: (line, names it assigns) of the blocks that failed before)."""
    text = _first_line(exc)
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        origin = [line for line, names in failed_blocks if exc.name in names]
        text += (
            f" (defined by the block at line {origin[-1]}, which failed)"
            if origin
            else " (no earlier block of the document defines it)"
        )
    elif is_pseudo_code(source):
        text += " (pseudo-code: `...` stands for code the reader must supply)"
    return text


def has_code(source: str) -> bool:
    """False for a block of nothing but comments, strings or `...`."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return True  # it is code, just not valid code: running it reports the error
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def is_pseudo_code(source: str) -> bool:
    """`...` used as a value (an argument, a dict entry, an assignment), a string that ends in `...`, or
    `...` that does not parse; `def f(): ...` is an ordinary stub, not a placeholder."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "..." in source
    if any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and _PLACEHOLDER.search(n.value)
        for n in ast.walk(tree)
    ):
        return True  # "postgresql://...", "prod..."
    stubs = {
        id(statement.value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for statement in node.body
        if isinstance(statement, ast.Expr)
    }
    return any(
        isinstance(node, ast.Constant) and node.value is ... and id(node) not in stubs for node in ast.walk(tree)
    )


def assigned_names(source: str) -> set[str]:
    """The names a block defines (assignments, functions, classes, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names
