"""A pytest plugin for a mutant's pack run in two passes (reach.py): `DFC_MUTATION_TESTS` names a JSON file
{"pass": "reaching" | "rest", "tests": [node ids]}: the first pass runs only those tests, in that order; the
second every other test. The baseline sets `DFC_MUTATION_DURATIONS` instead: a file where each test's time
(setup, call and teardown) is written at the end, which orders the first pass of later mutants."""

import json
import os
from pathlib import Path

import pytest

_durations: dict[str, float] = {}


@pytest.hookimpl(trylast=True)  # after the twins plugin has dropped the twins
def pytest_collection_modifyitems(config, items):
    if not (path := os.environ.get("DFC_MUTATION_TESTS")):
        return
    chosen = json.loads(Path(path).read_text(encoding="utf-8"))
    listed = {test: rank for rank, test in enumerate(chosen["tests"])}
    if chosen["pass"] == "reaching":
        kept = sorted((item for item in items if item.nodeid in listed), key=lambda item: listed[item.nodeid])
    else:
        kept = [item for item in items if item.nodeid not in listed]
    dropped = [item for item in items if (item.nodeid in listed) != (chosen["pass"] == "reaching")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_runtest_logreport(report):
    if os.environ.get("DFC_MUTATION_DURATIONS"):
        _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    if (path := os.environ.get("DFC_MUTATION_DURATIONS")) and not hasattr(session.config, "workerinput"):
        Path(path).write_text(json.dumps(_durations, sort_keys=True) + "\n", encoding="utf-8")
