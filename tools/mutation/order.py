"""A pytest plugin for a mutant's pack (reach.py): `DFC_MUTATION_FIRST` names a JSON list of node ids, the tests
that reach the mutated line, fastest first; they run first, in that order, then every other test in its own
order. Nothing is added or left out: the run is the mapped suites, reordered. The baseline sets
`DFC_MUTATION_DURATIONS` instead: a file where each test's time (setup, call and teardown) is written at the
end, which orders the tests of later mutants."""

import json
import os
from pathlib import Path

import pytest

_durations: dict[str, float] = {}


@pytest.hookimpl(trylast=True)  # after the suite's own ordering; twins.py only drops items, so either may go first
def pytest_collection_modifyitems(items):
    if not (path := os.environ.get("DFC_MUTATION_FIRST")):
        return
    rank = {test: place for place, test in enumerate(json.loads(Path(path).read_text(encoding="utf-8")))}
    items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))  # stable: the others keep their order


def pytest_runtest_logreport(report):
    if os.environ.get("DFC_MUTATION_DURATIONS"):
        _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    if (path := os.environ.get("DFC_MUTATION_DURATIONS")) and not hasattr(session.config, "workerinput"):
        Path(path).write_text(json.dumps(_durations, sort_keys=True) + "\n", encoding="utf-8")
