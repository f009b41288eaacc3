"""Blocks that show part of a program rather than a program: a signature, a stub, an elision, an excerpt.

Docs show such blocks on purpose (`workflow.add_node("UserCreateNode", "create", {...})`: the reader
supplies the fields), so running them reports the docs' shorthand, not their errors. A fragment is
recognised here, stated with its kind, and not run; a block that needs a name only a fragment defines is
blocked by it. Each rule is narrow: a block that is simply broken (unclosed brackets, a typo) stays a
failure, with its SyntaxError.
"""

import ast
import re
import textwrap

_SIGNATURE_CALL = re.compile(r"^(\s*)(?:async\s+)?(?:def\s+)?[A-Za-z_][\w.]*\s*\(", re.MULTILINE)
_PLACEHOLDER = re.compile(r"<[A-Za-z_][^<>\n]*>")  # <your-database-url>, <model>


def no_code(tree: ast.Module) -> bool:
    """A block of nothing but comments and strings."""
    return not any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in tree.body)


def of_valid_code(tree: ast.Module) -> str | None:
    """The fragment kind of a block that parses, or None: an elision (`...` standing for a value the reader
    supplies) or signatures only (every statement a definition whose body is `...`, `pass` or a docstring)."""
    if no_code(tree):
        return "no code (comments only)"
    line = _elided_value(tree)
    if line is not None:
        return f"elision: `...` stands for a value the reader supplies (line {line})"
    if all(_is_stub(node) for node in tree.body):
        return "signatures only: definitions without bodies"
    return None


def of_invalid_code(source: str) -> tuple[str, str] | None:
    """(kind, the reader's reading) of a block that does not parse, if that reading parses: an excerpt
    (indented code from inside a definition), signatures (headers without bodies, or calls written with
    annotations), an elision (`...` where Python takes no value) or a `<placeholder>`."""
    repairs = [
        ("excerpt: indented code from inside a larger definition", lambda s: textwrap.dedent(s)),
        ("signatures only: definitions without bodies", _as_definitions),
        ("elision: `...` stands for code the reader supplies", _without_elisions),
        ("a <placeholder> stands for what the reader supplies", lambda s: _PLACEHOLDER.sub("placeholder", s)),
    ]
    for kind, repair in repairs:
        repaired = repair(source)
        if repaired != source and _parses(repaired):
            return kind, repaired
    return None


def of_compiled_code(error: SyntaxError) -> str | None:
    """A block that parses but cannot run on its own: a function's body shown without its function."""
    message = str(error.msg)
    if "outside function" in message or "outside async function" in message or "outside loop" in message:
        return f"excerpt: the body of a function or loop, shown without it ({message})"
    return None


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def _without_elisions(source: str) -> str:
    """`...` taken out where it stands for more entries (`{"a": 1, ...}`), else read as a value."""
    text = re.sub(r",\s*\.\.\.(?=\s*[\]})])", "", source)
    text = re.sub(r"(?<=[\[{(])\s*\.\.\.\s*,", "", text)
    return text.replace("...", "None")


def _as_definitions(source: str) -> str:
    """Headers made into stub definitions: `DataFlow(url: str, ...)` and `def f(x) -> int` get `: ...`."""
    text = _SIGNATURE_CALL.sub(lambda m: f"{m.group(1)}def _(", source)
    return re.sub(r"\)(\s*->\s*[^:\n]+)?\s*$", lambda m: f"){m.group(1) or ''}: ...", text, flags=re.MULTILINE)


def _is_stub(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return all(_is_placeholder_statement(statement) for statement in node.body)
    if isinstance(node, ast.ClassDef):
        return all(_is_stub(statement) or _is_placeholder_statement(statement) for statement in node.body)
    return False


def _is_placeholder_statement(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Pass) or (
        isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
    )


def _elided_value(tree: ast.Module) -> int | None:
    """The line of the first `...` used as a value: an argument, an element, an assigned value. A statement
    of its own (a stub's body) and a subscript (`Tuple[int, ...]`, `Callable[..., T]`) are ordinary Python."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr):
            allowed.add(id(node.value))
        elif isinstance(node, ast.Subscript):
            allowed.update(id(inner) for inner in ast.walk(node.slice))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value is ... and id(node) not in allowed:
            return node.lineno
    return None
