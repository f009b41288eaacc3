"""nox -s mutation (tools/mutation/): every module of the reference is a target or left out with a reason, and
every target's suite modules exist, so a new module or a renamed suite cannot drop out of the score unseen."""

from pathlib import Path

from tools.mutation.targets import EXCLUDED, TARGETS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "dataflow_reference"
SUITE = ROOT / "conformance" / "dataflow_conformance" / "suite"


def test_every_reference_module_is_a_target_or_left_out_with_a_reason():
    modules = {p.relative_to(REFERENCE).with_suffix("").as_posix() for p in REFERENCE.rglob("*.py")}
    assert modules == set(TARGETS) | set(EXCLUDED)
    assert not set(TARGETS) & set(EXCLUDED)


def test_every_target_runs_existing_suite_modules_on_known_backends():
    for target in TARGETS.values():
        assert target.suites and target.backends, target.module
        for suite in target.suites:
            assert (SUITE / f"test_{suite}.py").exists(), f"{target.module}: no suite module test_{suite}.py"
        assert set(target.backends) <= {"sqlite", "postgresql", "mysql"}
        for suite in target.server_suites:
            assert (SUITE / f"test_{suite}.py").exists(), f"{target.module}: no suite module test_{suite}.py"
        assert not target.server_suites or len(target.backends) > 1, f"{target.module}: server suites, no server"
