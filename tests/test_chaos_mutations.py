"""The history checker bites: copies of the reference with one deliberate, plausible bug each must fail
the CHAOS history test, with the anomaly the bug causes named in the failure (as tests/test_mutations.py
does for the rest of the pack)."""

from dataclasses import dataclass

import pytest

HISTORY_TEST = "test_history_under_faults and local"  # the workflow path runs every kind of write


@dataclass(frozen=True)
class Mutant:
    file: str
    original: str
    mutated: str
    anomaly: str  # what the checker must report: "lost: ...", "partial: ..."


MUTANTS = {
    # A lost acknowledged write: the commit node rolls the scope back and reports success.
    "scope_commit_rolls_back": Mutant(
        "transactions.py",
        "await commit(self.connection, self._root, self.database.dialect)",
        "await self._root.rollback()",
        "lost: records of op",
    ),
    # A lost acknowledged write: an upsert that finds the record answers with it, unchanged.
    "upsert_skips_the_update": Mutant(
        "crud.py",
        "            if update_values:\n                values = {**update_values",
        "            if update_values and False:\n                values = {**update_values",
        "(acknowledged in a later round) was lost",
    ),
    # A partially applied bulk write: each batch committed on its own, so a batch refused by the database
    # (a taken unique key) leaves the batches before it behind.
    "bulk_create_commits_each_batch": Mutant(
        "bulk.py",
        "            return await write_all(conn, self.store, batched(inserter.insert, records, list(range(len(rows))), size))",
        "            batches = batched(inserter.insert, records, list(range(len(rows))), size)\n"
        "        total = 0\n"
        "        for batch in batches:\n"
        "            async with self.store.transaction(write=True) as conn:\n"
        "                total += await write_all(conn, self.store, [batch])\n"
        "        return total",
        "partial: ",
    ),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_history_checker_catches_the_mutant(run_pack, mutate_reference, name):
    module = mutate_reference(f"chaos_mutant_{name}", MUTANTS[name])
    result = run_pack(f"--dataflow-impl={module}", "--dataflow-db", "sqlite", "-k", HISTORY_TEST, "-q")
    output = result.stdout.str() + result.stderr.str()
    assert result.parseoutcomes().get("failed", 0) == 1, (
        f"the history test did not fail against {name}:\n{output[-2000:]}"
    )
    assert MUTANTS[name].anomaly in output, f"the failure does not report {MUTANTS[name].anomaly!r}:\n{output[-3000:]}"
    assert "INTERNALERROR" not in output
