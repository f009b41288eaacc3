"""Every command the project documents starts: each entry point of the comparisons (and the kit's own
command) prints its help and exits 0. A stale import (a module that moved) fails here, not in a long run."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# As the noxfile and the docs run them, from the checkout.
COMMANDS = {
    "loadtests": [sys.executable, "-m", "loadtests", "--help"],
    "harness": [sys.executable, "-m", "harness", "--help"],
    "security": [sys.executable, "-m", "security", "--help"],
    "migration": [sys.executable, "-m", "migration", "--help"],
    "lifecycle_soak": [sys.executable, "-m", "benchmarks.lifecycle_soak", "--help"],
    "permission_check": [sys.executable, "-m", "benchmarks.permission_check", "--help"],
    "node_overhead": [sys.executable, "-m", "benchmarks.node_overhead", "--help"],
    "bulk_throughput": [sys.executable, "-m", "benchmarks.bulk_throughput", "--help"],
    "dataflow-conformance": [str(Path(sys.executable).with_name("dataflow-conformance")), "--help"],
}
NEEDS = {  # the extra an entry point's imports need
    "loadtests": "locust",
    "harness": "django",
    "security": "django_otp",
    "migration": "django",
    "permission_check": "django",
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_entry_point_prints_its_help(name):
    # find_spec, not importorskip: importing Locust monkey-patches this process with gevent.
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        pytest.skip(f"{name} needs {NEEDS[name]}: pip install -e '.[loadtests,security]'")
    done = subprocess.run(
        COMMANDS[name], cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""}
    )
    assert done.returncode == 0, f"{' '.join(COMMANDS[name])} exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert "usage:" in done.stdout, done.stdout[:500]
