"""The docs runner's readers, in process: markdown-it's blocks, fragments, database URL rewriting."""

import ast

import pytest
from dataflow_conformance.docsrun import fragments
from dataflow_conformance.docsrun.blocks import compile_block, execute, lex
from dataflow_conformance.docsrun.rewrite import rewrite_source, rewrite_urls

NESTED = """# Page

````markdown
```python
inner = 1
```
````

~~~py
tilde = 2
~~~

<!-- skip: next "why" -->

<!-- invisible-code-block: python
hidden = 3
-->

```python
open_to_the_end = 4
"""


def test_lex_finds_each_fence_once_and_where_it_is():
    blocks = lex(NESTED)
    assert [(b.kind, b.line, b.language, b.closed) for b in blocks] == [
        ("fence", 3, "markdown", True),  # the inner python fence is its content, not a block
        ("fence", 9, "py", True),
        ("directive", 13, "", True),
        ("invisible", 15, "", True),
        ("fence", 19, "python", False),
    ]
    assert blocks[0].source == "```python\ninner = 1\n```\n"
    assert blocks[2].directive == ("next", '"why"')
    assert blocks[3].source == "hidden = 3\n" and blocks[3].is_python
    assert NESTED[blocks[1].start : blocks[1].end] == "~~~py\ntilde = 2\n~~~\n"


@pytest.mark.parametrize(
    "source, kind",
    [
        ("DataFlow(url: str = None, pool_size: int = 10)", "signatures only"),
        ("def create(self, data: dict) -> dict", "signatures only"),
        ("    def method(self):\n        return 1\n", "excerpt"),
        ('config = {..., "debug": True}', "elision"),
        ("db = DataFlow(<your-database-url>)", "<placeholder>"),
    ],
)
def test_fragments_that_do_not_parse(source, kind):
    with pytest.raises(SyntaxError):
        ast.parse(source)
    found, repaired = fragments.of_invalid_code(source)
    assert kind in found and ast.parse(repaired)


def test_a_block_that_is_simply_broken_is_no_fragment():
    assert fragments.of_invalid_code("DataFlow(url, pool_size=0") is None


@pytest.mark.parametrize(
    "source, kind",
    [
        ('workflow.add_node("UserCreateNode", "create", {...})', "elision"),
        ("x = ...", "elision"),
        ("def f(x): ...\nclass C:\n    def g(self): pass\n", "signatures only"),
        ("# just a comment\n", "no code"),
        ("from typing import Tuple\n\npair: Tuple[int, ...] = (1, 2)\n", None),
        ("def f():\n    ...\n\nf()\n", None),
        ("class User:\n    name: str\n", None),
    ],
)
def test_fragments_that_parse(source, kind):
    found = fragments.of_valid_code(ast.parse(source))
    assert (found is None) if kind is None else (kind in found), found


def test_database_urls_are_rewritten_in_the_tree():
    tree = ast.parse(
        'a = DataFlow("postgresql://user:pw@localhost/app")\n'
        'b = create_async_engine("postgresql+asyncpg://...")\n'
        'c = f"mysql://{user}@{host}/db"\n'
        'd = DataFlow("sqlite:///:memory:")\n'
        'e = "redis://localhost:6379"\n'
    )
    replaced = rewrite_urls(tree, "sqlite:////tmp/page.db")
    assert replaced == ["postgresql://user:pw@localhost/app", "postgresql+asyncpg://...", "f'mysql://{user}@{host}/db'"]
    values = [node.value.args[0].value if isinstance(node.value, ast.Call) else node.value.value for node in tree.body]
    assert values == [
        "sqlite:////tmp/page.db",
        "sqlite+aiosqlite:////tmp/page.db",
        "sqlite:////tmp/page.db",
        "sqlite:///:memory:",  # in memory on a SQLite run: nothing to reach
        "redis://localhost:6379",  # not a database DataFlow runs on: the network guard stops it
    ]
    server = "postgresql://postgres@127.0.0.1:5432/dfc_docs"
    assert rewrite_source('DataFlow("sqlite:///:memory:")', server) == (
        f"DataFlow('{server}')\n",
        ["sqlite:///:memory:"],
    )


@pytest.mark.parametrize(
    "url, on_sqlite",
    [
        ("sqlite:///app.db", "sqlite:///app.db"),  # a file in the working directory: the page's scratch directory
        ("sqlite:///./data/app.db", "sqlite:///./data/app.db"),
        ("sqlite:////var/lib/app.db", "sqlite:////tmp/page.db"),  # an absolute path: outside the scratch directory
        ("sqlite:///../../app.db", "sqlite:////tmp/page.db"),
    ],
)
def test_sqlite_files_stay_on_a_sqlite_run_only_where_they_stay_in_the_scratch_directory(url, on_sqlite):
    assert rewrite_source(f"DataFlow({url!r})", "sqlite:////tmp/page.db")[0].strip() == f"DataFlow({on_sqlite!r})"
    server = "postgresql://postgres@127.0.0.1:5432/dfc_docs"
    assert rewrite_source(f"DataFlow({url!r})", server) == (f"DataFlow({server!r})\n", [url])  # a server run


def test_urls_an_example_compares_with_are_data():
    source = 'assert config.url == "postgresql://localhost/app"\nsame = db.url != "mysql://h/d"\n'
    tree = ast.parse(source)
    assert rewrite_urls(tree, "sqlite:////tmp/page.db") == []
    assert ast.unparse(tree) == ast.unparse(ast.parse(source))


def test_a_failing_assert_shows_its_values_and_the_block_keeps_its_names():
    namespace = {"expected": 3}
    code = compile_block("count = 2\nassert count == expected, 'the count'\n", "page.md", 10)
    with pytest.raises(AssertionError) as failure:
        execute(code, namespace, run_coroutine=None)
    assert str(failure.value).splitlines()[:2] == ["the count", "assert 2 == 3"]
    assert failure.traceback[-1].lineno + 1 == 11  # the page's own line (pytest counts from 0)
    assert sorted(namespace) == ["count", "expected"]  # not the rewriter's helpers (@py_assert1, @pytest_ar)
