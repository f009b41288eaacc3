"""The doc tests' pytest plugin (doctests/plugin.py), run on small projects written for the purpose."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["sqlite"] + [name for name in ("postgresql", "mysql") if os.environ.get(f"DFC_{name.upper()}_URL")]

SHARED = """# Shared namespace

```python
from dataflow_reference import DataFlow

db = DataFlow(database_url)


@db.model
class Note:
    text: str
```

```python
import os

assert os.environ["DATABASE_URL"] == database_url  # the same database, for code that reads the environment
db.express_sync.create("Note", {"text": "first"})
```

```python
assert await db.express.count("Note") == 1  # top-level await; a fresh database: no note from another document
```

<!-- skip: next "shows a server that does not exist" -->

```python
DataFlow("postgresql://user:secret@db.example.invalid/app").health_check()
```

```bash
dataflow-conformance matrix reports/a.json --page docs/support-matrix.md
```
"""

OTHER = """# Another document, with its own database

```python
from dataflow_reference import DataFlow

db = DataFlow(database_url)


@db.model
class Note:
    title: str  # another Note: only possible because the documents do not share tables


assert db.express_sync.count("Note") == 0
```
"""

BROKEN = """# A failing block and a command that does not parse

```python
assert 1 + 1 == 3, "arithmetic"
```

```bash
dataflow-conformance matrix --no-such-option
```
"""


@pytest.fixture
def docs_project(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    pytester.mkdir("docs")

    def write(**pages):
        for name, text in pages.items():
            (pytester.path / "docs" / f"{name}.md").write_text(text, encoding="utf-8")

    def run(*args):
        return pytester.runpytest_subprocess("-p", "doctests.plugin", "-p", "no:cacheprovider", *args)

    return write, run


def test_documents_run_in_order_on_every_backend_and_the_count_is_printed(docs_project):
    write, run = docs_project
    write(shared=SHARED, other=OTHER, broken=BROKEN)
    result = run("docs")
    n = len(BACKENDS)
    # Per backend: 4 python blocks of shared.md pass and 1 is skipped, other.md passes, broken.md fails;
    # the two bash blocks are checked once.
    result.assert_outcomes(passed=5 * n + 1, failed=n + 1, skipped=n)
    # The count leaves out the skip directive (an item that pytest runs, but not a block).
    per_backend = "; ".join(f"{name} {7 if name == 'sqlite' else 5} run, 1 skipped" for name in BACKENDS)
    result.stdout.fnmatch_lines(
        [f"doc blocks: {5 * n + 2} run, {4 * n + 1} passed, {n + 1} failed, {n} skipped ({per_backend})"]
    )
    result.stdout.fnmatch_lines(["*AssertionError: arithmetic*", "*dataflow-conformance matrix --no-such-option*"])
    result.stdout.fnmatch_lines(["E*assert (1 + 1) == 3", "docs/broken.md:4: AssertionError"])  # values and line
    assert result.ret == 1


def test_a_skip_without_a_reason_is_refused(docs_project):
    write, run = docs_project
    write(silent="# Silent\n\n<!-- skip: next -->\n\n```python\nassert False\n```\n\n```python\nx = 1\n```\n")
    result = run("docs")
    result.stdout.fnmatch_lines(['*"skip: next" needs a reason*'])
    assert result.ret != 0


def test_a_block_that_skips_itself_without_a_reason_fails_the_run(docs_project):
    write, run = docs_project
    write(quiet='# Quiet\n\n```python\nimport pytest\n\npytest.skip("")\n```\n')
    result = run("docs", "-p", "no:xdist")
    result.stdout.fnmatch_lines(["*skipped without a reason (a skip must say why): docs/quiet.md::sybil:sqlite*"])
    assert result.ret == 1


def test_a_document_that_shows_code_must_run_some(docs_project):
    write, run = docs_project
    write(prose="# Prose\n\nNo code here.\n", shown="# Shown\n\n```bash\npip install something\n```\n")
    result = run("docs")
    result.stdout.fnmatch_lines(["*shown.md shows code but has no block that runs*"])
    assert "prose.md" not in result.stdout.str()
    assert result.ret != 0


def test_blocks_of_a_document_stay_together_under_xdist(docs_project):
    write, run = docs_project
    write(shared=SHARED, other=OTHER)
    refused = run("docs", "-n", "2")
    refused.stderr.fnmatch_lines(["*the blocks of a document must run in order on one worker*--dist loadfile*"])
    assert refused.ret == 4
    grouped = run("docs", "-n", "2", "--dist", "loadfile")
    grouped.assert_outcomes(passed=5 * len(BACKENDS) + 1, skipped=len(BACKENDS))


def test_the_root_conftest_exposes_every_hook_of_the_plugin():
    import importlib.util

    import doctests.plugin

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    hooks = {name for name in vars(doctests.plugin) if name.startswith("pytest_")}
    missing = sorted(hooks - set(vars(conftest)))
    assert hooks and not missing, f"add {missing} to conftest.py"
