"""The TENANT tests bite: copies of the reference with one deliberate isolation bug each must fail them."""

import shutil
from pathlib import Path

import dataflow_reference
import pytest

REFERENCE = Path(dataflow_reference.__file__).parent

# name -> (file, original code, mutated code)
MUTANTS = {
    "count_ignores_tenant": (
        "crud.py",
        "stmt = self.visible(select(func.count()).select_from(self.table).where(where))",
        "stmt = select(func.count()).select_from(self.table).where(where)",
    ),
    "update_takes_tenant_from_fields": (
        "crud.py",
        'values = self.check_fields(fields, where="fields", partial=True)\n        if not values:\n'
        '            self.fail("fields", "names no field to update")\n        values["updated_at"]',
        'values = self.check_fields({k: v for k, v in fields.items() if k != "tenant_id"}, where="fields", '
        'partial=True) | {k: v for k, v in fields.items() if k == "tenant_id"}\n        if not values:\n'
        '            self.fail("fields", "names no field to update")\n        values["updated_at"]',
    ),
    "bulk_delete_ignores_tenant": (
        "bulk.py",
        "stmt = self.store.visible(sql_delete(self.table).where(where))",
        "stmt = sql_delete(self.table).where(where)",
    ),
}


def make_mutant(directory: Path, name: str) -> str:
    file, original, mutated = MUTANTS[name]
    module = f"mutant_{name}"
    shutil.copytree(REFERENCE, directory / module, ignore=shutil.ignore_patterns("__pycache__"))
    target = directory / module / file
    source = target.read_text(encoding="utf-8")
    assert source.count(original) == 1, f"mutation {name}: the code to mutate is not in {file} exactly once"
    target.write_text(source.replace(original, mutated), encoding="utf-8")
    return module


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_tenant_tests_catch_the_mutant(pytester, run_pack, mutant):
    module = make_mutant(pytester.path, mutant)
    result = run_pack(f"--dataflow-impl={module}", "-k", "test_tenant", "--maxfail=1", "-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, f"no TENANT test failed against {mutant}:\n{result.stdout.str()[-2000:]}"
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
