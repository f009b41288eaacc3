"""The clause registry, the contract pages (rules and *Tests:* lines) and the suite's clause markers
cannot drift apart."""

import sys
import textwrap
from pathlib import Path

import pytest
from dataflow_conformance.cli import main
from dataflow_conformance.contract import clauses

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "contract"


def test_registry_is_generated_from_the_pages():
    assert clauses.load() == clauses.parse_pages(CONTRACT), "run `dataflow-conformance clauses --write`"


def test_pages_list_the_tests_that_check_each_clause():
    by_clause = clauses.tests_by_clause(clauses.suite_markers())
    stale = {
        cid: (clause.page, clause.tests, by_clause.get(cid, ()))
        for cid, clause in clauses.parse_pages(CONTRACT).items()
        if clause.tests != by_clause.get(cid, ())
    }
    assert not stale, f"*Tests:* lines differ from the markers (run `dataflow-conformance clauses --write`): {stale}"


def test_every_test_names_known_clauses():
    registry = clauses.load()
    tests = clauses.suite_markers()
    assert tests, "no conformance tests found"
    unnamed = [name for name, ids in tests.items() if not ids]
    unknown = {name: [c for c in ids if c not in registry] for name, ids in tests.items() if set(ids) - set(registry)}
    assert not unnamed, f"tests without @pytest.mark.clause: {unnamed}"
    assert not unknown, f"tests naming clauses missing from docs/contract: {unknown}"


def test_the_contract_readme_lists_every_page():
    readme = (CONTRACT / "README.md").read_text(encoding="utf-8")
    unlisted = [
        page.name
        for page in sorted(CONTRACT.glob("*.md"))
        if page.name != "README.md" and f"]({page.name})" not in readme
    ]
    assert not unlisted, f"docs/contract/README.md does not link {unlisted}"


def test_every_clause_has_a_test():
    covered = {cid for ids in clauses.suite_markers().values() for cid in ids}
    missing = sorted(set(clauses.load()) - covered)
    assert not missing, f"clauses without a conformance test: {missing}"


# -- the parser, the generator and the drift check on pages written for the purpose -------------


def _page(tmp_path, body, name="x.md"):
    (tmp_path / name).write_text(body, encoding="utf-8")
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


PAGE = """# X

```python
# a comment in an example is not a heading
setup = True
```

### ABC-001 · SHOULD · capability `savepoints`
First line
continued.
*Source:* the docs.
*Tests:* `test_x.py::test_a`, `test_x.py::test_b`

```python
### not a heading either
example = True
```

### ABC-002 · MUST
Second rule.
*Source:* a choice.
"""


def test_page_parsing(tmp_path):
    parsed = clauses.parse_pages(_page(tmp_path, PAGE))
    first = parsed["ABC-001"]
    assert (first.level, first.capability, first.text, first.source, first.tests) == (
        "SHOULD",
        "savepoints",
        "First line continued.",
        "the docs.",
        ("test_x.py::test_a", "test_x.py::test_b"),
    )
    assert (parsed["ABC-002"].text, parsed["ABC-002"].tests) == ("Second rule.", ())


def test_tests_lines_are_written_after_the_source_line_and_nothing_else_changes(tmp_path):
    _page(tmp_path, PAGE)
    markers = {"test_x.py::test_b": ["ABC-001"], "test_y.py::TestC::test_d": ["ABC-002", "ABC-001"]}
    assert clauses.write_tests_lines(tmp_path, markers) == ["x.md"]
    text = (tmp_path / "x.md").read_text(encoding="utf-8")
    assert "*Source:* the docs.\n*Tests:* `test_x.py::test_b`, `test_y.py::TestC::test_d`\n" in text
    assert "*Source:* a choice.\n*Tests:* `test_y.py::TestC::test_d`\n" in text
    assert text.replace("*Tests:* `test_x.py::test_b`, `test_y.py::TestC::test_d`", "") == PAGE.replace(
        "*Tests:* `test_x.py::test_a`, `test_x.py::test_b`", ""
    ).replace("*Source:* a choice.\n", "*Source:* a choice.\n*Tests:* `test_y.py::TestC::test_d`\n")
    assert clauses.write_tests_lines(tmp_path, markers) == [], "a second run must change nothing"


def test_drift_names_every_disagreement(tmp_path):
    _page(tmp_path, PAGE)
    markers = {"test_x.py::test_a": ["ABC-001"], "test_x.py::test_b": ["ABC-001", "ZZZ-009"], "test_x.py::test_c": []}
    problems = clauses.drift(tmp_path, markers)
    assert "clauses.json differs from the contract pages" in problems  # the package's registry is not this page's
    assert "ABC-002 has no conformance test" in problems
    assert "test_x.py::test_b names ZZZ-009, which no contract page defines" in problems
    assert "test_x.py::test_c names no clause (@pytest.mark.clause)" in problems
    assert not any("line of ABC-001" in p for p in problems)
    markers["test_x.py::test_d"] = ["ABC-001"]
    assert "x.md: the *Tests:* line of ABC-001 differs from the suite's markers" in clauses.drift(tmp_path, markers)


def test_markers_are_read_from_functions_classes_and_modules(tmp_path, monkeypatch):
    package = tmp_path / "fakesuite"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "test_one.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from .test_two import test_imported  # collected where it is defined, not here

            pytestmark = pytest.mark.clause("MOD-001")

            @pytest.mark.clause("FUN-001", "FUN-002")
            def test_function():
                pass

            @pytest.mark.clause("CLS-001")
            class TestGroup:
                @pytest.mark.clause("MET-001")
                def test_method(self):
                    pass

            def helper():
                pass
            """
        )
    )
    (package / "test_two.py").write_text("def test_imported():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        markers = clauses.suite_markers("fakesuite")
    finally:
        for name in [m for m in sys.modules if m.startswith("fakesuite")]:
            del sys.modules[name]
    assert markers == {
        "test_one.py::test_function": ["MOD-001", "FUN-001", "FUN-002"],
        "test_one.py::TestGroup::test_method": ["MOD-001", "CLS-001", "MET-001"],
        "test_two.py::test_imported": [],
    }


def test_the_command_fails_on_drift(tmp_path, capsys):
    _page(tmp_path, PAGE)
    assert main(["clauses", "--contract-dir", str(tmp_path)]) == 1
    assert "run `dataflow-conformance clauses --write`" in capsys.readouterr().err


def test_the_command_refuses_a_missing_directory(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["clauses", "--contract-dir", str(tmp_path / "nope")])
    assert exit_info.value.code == 2 and "is not a directory" in capsys.readouterr().err


def test_the_capability_vocabulary_is_the_registrys():
    from dataflow_conformance.contract import capabilities

    named = {clause.capability for clause in clauses.load().values() if clause.capability}
    assert named == set(capabilities.CAPABILITIES), "every SHOULD clause's capability is declared, and no other"
    for name in capabilities.CAPABILITIES:
        assert getattr(capabilities, name.upper()) == name, f"{name} has no constant (with its docstring)"
