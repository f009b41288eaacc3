"""The clause registry, the contract pages and the suite's clause markers cannot drift apart."""

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from dataflow_conformance import clauses, suite

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "contract"


def suite_tests() -> dict[str, list[str]]:
    """test name -> clause ids, read from the @pytest.mark.clause markers of the shipped suite."""
    found = {}
    for info in pkgutil.iter_modules(suite.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{suite.__name__}.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and function.__module__ == module.__name__:
                marks = [m for m in getattr(function, "pytestmark", []) if m.name == "clause"]
                found[f"{info.name}::{name}"] = [cid for mark in marks for cid in mark.args]
    return found


def test_registry_is_generated_from_the_pages():
    assert clauses.load() == clauses.parse_pages(CONTRACT), "run `dataflow-conformance clauses --write`"


def test_every_test_names_known_clauses():
    registry = clauses.load()
    tests = suite_tests()
    assert tests, "no conformance tests found"
    unnamed = [name for name, ids in tests.items() if not ids]
    unknown = {name: [c for c in ids if c not in registry] for name, ids in tests.items() if set(ids) - set(registry)}
    assert not unnamed, f"tests without @pytest.mark.clause: {unnamed}"
    assert not unknown, f"tests naming clauses missing from docs/contract: {unknown}"


def test_every_clause_has_a_test():
    covered = {cid for ids in suite_tests().values() for cid in ids}
    missing = sorted(set(clauses.load()) - covered)
    assert not missing, f"clauses without a conformance test: {missing}"


def _page(tmp_path, body):
    (tmp_path / "x.md").write_text(body, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "body, problem",
    [
        ("### ABC-001 · MUST\nRule.\n*Source:* s\n### ABC-001 · MUST\nRule.\n*Source:* s\n", "twice"),
        ("### ABC-002 · SHOULD\nRule.\n*Source:* s\n", "capability"),
        ("### ABC-003 · MUST\nRule without source.\n", "Source"),
        ("### ABC-4 · MUST\nRule.\n*Source:* s\n", "malformed"),
    ],
)
def test_malformed_pages_are_rejected(tmp_path, body, problem):
    with pytest.raises(ValueError, match=problem):
        clauses.parse_pages(_page(tmp_path, body))


def test_page_parsing(tmp_path):
    parsed = clauses.parse_pages(
        _page(
            tmp_path,
            (
                "# X\n\n### ABC-001 · SHOULD · capability `savepoints`\nFirst line\ncontinued.\n"
                "```python\nignored = True\n```\n*Source:* the docs.\n"
            ),
        )
    )
    clause = parsed["ABC-001"]
    assert (clause.level, clause.capability, clause.text, clause.source) == (
        "SHOULD",
        "savepoints",
        "First line continued.",
        "the docs.",
    )
