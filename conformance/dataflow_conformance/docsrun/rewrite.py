"""Database URLs written in examples, pointed at the run's database.

Docs write the URL a reader would replace with theirs: `"postgresql://user:password@localhost/mydb"`,
`"postgresql://..."`, `f"mysql://{user}@{host}/app"`. A docs run does what that reader does: every such
literal becomes the page's database on the configured backend, in the block's syntax tree (so the
document's line numbers stay), and the report lists each block it rewrote. On a SQLite run a SQLite URL
that reaches no server and stays in the page's scratch directory (`sqlite:///:memory:`, a relative file
such as `sqlite:///app.db`) stays: it is what the reader runs; on a server run it is mapped too, so the
examples exercise that server. A URL that is compared rather than connected to (in an `assert` or a
comparison: `assert config.url == "postgresql://..."`) is data, and stays as written.
"""

import ast
import re
from dataclasses import dataclass, field

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://")
FAMILIES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
ASYNC_DRIVERS = {"postgresql": "asyncpg", "mysql": "aiomysql", "sqlite": "aiosqlite"}
_ASYNC = {"asyncpg", "aiomysql", "aiosqlite", "asyncmy", "psycopg_async", "aiopg"}


@dataclass
class UrlRewriter(ast.NodeTransformer):
    """Replaces database URL literals (plain or f-strings) with `url`, recording what it replaced."""

    url: str  # the page's database, e.g. postgresql://postgres@127.0.0.1:5432/dfc_docs_1a2b
    replaced: list[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return FAMILIES[_URL.match(self.url).group("scheme")]

    def visit_Compare(self, node: ast.Compare):
        return node  # a URL the example compares with is data, not a database to reach

    def visit_Assert(self, node: ast.Assert):
        return node

    def visit_Constant(self, node: ast.Constant):
        if isinstance(node.value, str) and (target := self._target(node.value)):
            self.replaced.append(node.value)
            return ast.copy_location(ast.Constant(target), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr):
        head = node.values[0] if node.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str) and (target := self._target(head.value)):
            self.replaced.append(ast.unparse(node))
            return ast.copy_location(ast.Constant(target), node)
        return self.generic_visit(node)

    def _target(self, text: str) -> str | None:
        match = _URL.match(text.strip())
        if match is None or match.group("scheme").lower() not in FAMILIES:
            return None
        if self.family == "sqlite" and _stays_local(text):
            return None
        if match.group("driver") in _ASYNC:  # a URL for an async engine keeps an async driver
            return self.url.replace("://", f"+{ASYNC_DRIVERS[self.family]}://", 1)
        return self.url


def _stays_local(text: str) -> bool:
    """A SQLite URL of memory or of a file relative to the working directory (the page's scratch directory):
    `sqlite:///app.db` has three slashes and a relative path, `sqlite:////var/app.db` an absolute one."""
    match = _URL.match(text.strip())
    if FAMILIES[match.group("scheme").lower()] != "sqlite":
        return False
    path = text.strip()[match.end() :].split("?")[0]
    relative = path.startswith("/") and not path.startswith("//") and ".." not in path.split("/")
    return ":memory:" in text or path in ("", "/") or relative


def rewrite_urls(tree: ast.Module, url: str) -> list[str]:
    """Rewrite the database URLs of a parsed block in place; the literals it replaced, in order."""
    rewriter = UrlRewriter(url)
    rewriter.visit(tree)
    ast.fix_missing_locations(tree)
    return rewriter.replaced


def rewrite_source(source: str, url: str) -> tuple[str, list[str]]:
    """The same for one statement of a `>>>` session (doctest compiles source text, not trees)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, []
    replaced = rewrite_urls(tree, url)
    return (ast.unparse(tree) + "\n" if replaced else source), replaced
