"""tools/mutation/reach.py and order.py: a mutant's pack runs the tests that reach its line first, fastest
first, then every other mapped test in its own order: the same tests, reordered, so the map can change how
soon a mutant falls, never its verdict."""

import json
from pathlib import Path

from tools.mutation.reach import changed_lines, reaching

ROOT = Path(__file__).resolve().parents[1]

FOUND = {
    "sqlite": {
        "lines": {"3": ["t.py::slow", "t.py::fast"], "4": ["t.py::middle"]},
        "durations": {"t.py::slow": 9.0, "t.py::fast": 0.1, "t.py::middle": 1.0},
    }
}


def test_the_changed_lines_are_the_originals_line_numbers(tmp_path):
    original, mutated = tmp_path / "a.py", tmp_path / "b.py"
    original.write_text("x = 1\ny = 2\nif x < y:\n    pass\n")
    mutated.write_text("x = 1\ny = 2\nif x <= y:\n    pass\n")
    assert changed_lines(original, mutated) == {3}
    assert changed_lines(original, original) == set()


def test_the_reaching_tests_come_fastest_first_over_every_changed_line():
    assert reaching(FOUND, "sqlite", {3}) == ["t.py::fast", "t.py::slow"]
    assert reaching(FOUND, "sqlite", {3, 4}) == ["t.py::fast", "t.py::middle", "t.py::slow"]
    # a line no test ran (import time, or unreached), or a backend without a map: the suites in their own order
    assert reaching(FOUND, "sqlite", {1}) == []
    assert reaching(FOUND, "postgresql", {3}) == []


def test_the_reaching_tests_run_first_in_their_order_then_every_other_in_its_own(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_t="def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\ndef test_d(): pass\n")
    first = pytester.path / "first.json"
    first.write_text(json.dumps(["test_t.py::test_c", "test_t.py::test_a"]))
    monkeypatch.setenv("DFC_MUTATION_FIRST", str(first))
    result = pytester.runpytest_subprocess("-p", "tools.mutation.order", "-p", "no:cacheprovider", "-v")
    ran = [line.split(" ")[0] for line in result.outlines if " PASSED" in line]
    assert ran == ["test_t.py::test_c", "test_t.py::test_a", "test_t.py::test_b", "test_t.py::test_d"]


def test_the_baseline_writes_each_tests_time(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("DFC_MUTATION_DURATIONS", str(pytester.path / "durations.json"))
    pytester.makepyfile(test_t="import time\ndef test_slow(): time.sleep(0.2)\ndef test_fast(): pass\n")
    pytester.runpytest_subprocess("-p", "tools.mutation.order", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    durations = json.loads((pytester.path / "durations.json").read_text())
    assert set(durations) == {"test_t.py::test_slow", "test_t.py::test_fast"}
    assert durations["test_t.py::test_slow"] >= 0.2 > durations["test_t.py::test_fast"]
