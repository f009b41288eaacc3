"""No blind area: a reference broken in one area the way the published package is (timestamps returned as
text, unique constraints global instead of per tenant, records missing a field) is caught by that area,
and the pack still judges the others: an independent bug in another area is caught beside it, its tests
fail on their own rule (not blocked), and without that second bug they pass."""

import json

import pytest
from test_mutations import MUTANTS, Mutant

AREA_BREAKERS = {
    # TYPE: timestamps come back as ISO text (the published package on SQLite)
    "timestamps_as_text": Mutant(
        "crud.py",
        "    def record(self, row) -> dict:\n        return dict(row._mapping)",
        "    def record(self, row) -> dict:\n"
        '        stamps = ("created_at", "updated_at")\n'
        "        return {k: v.isoformat() if k in stamps and v is not None else v for k, v in row._mapping.items()}",
        "test_automatic_timestamps_read_back_as_datetimes",
    ),
    # TENANT-007: unique indexes hold across tenants, not within each
    "unique_across_tenants": Mutant(
        "model.py",
        "                index_fields.insert(0, TENANT_FIELD)  # unique within a tenant, not across tenants",
        "                pass",
        "test_the_same_unique_value_in_two_tenants",
        extra=[  # ... and the bulk upsert's conflict target follows the global index
            Mutant(
                "bulk.py",
                "keys = [TENANT_FIELD, *keys] if self.spec.multi_tenant else keys",
                "keys = list(keys)",
                "",
            )
        ],
    ),
    # CRUD-001: the records the operations return lack a field
    "records_lack_a_field": Mutant(
        "crud.py",
        "    def record(self, row) -> dict:\n        return dict(row._mapping)",
        '    def record(self, row) -> dict:\n        return {k: v for k, v in row._mapping.items() if k != "nickname"}',
        "test_create_stores_and_returns_record",
    ),
}
# (area breaker, independent mutant of another area, the tests that must catch the second one)
PAIRS = [
    ("timestamps_as_text", "upsert_update_keeps_updated_at", "test_every_update_advances_updated_at_only"),
    ("unique_across_tenants", "count_ignores_tenant", "test_every_operation_touches_only_the_bound_tenant"),
    ("records_lack_a_field", "offset_needs_limit", "test_offset_without_limit"),
]


def both(first: Mutant, second: Mutant) -> Mutant:
    """One mutant that applies two (each changes its own places of the reference)."""
    return Mutant(first.file, first.original, first.mutated, second.tests, extra=[*first.extra, second, *second.extra])


def outcomes(pytester) -> dict[str, int]:
    report = json.loads((pytester.path / "conformance-report.json").read_text(encoding="utf-8"))
    counted: dict[str, int] = {}
    for test in report["tests"]:
        counted[test["outcome"]] = counted.get(test["outcome"], 0) + 1
    return counted


@pytest.mark.parametrize("breaker, second, tests", PAIRS, ids=[p[0] for p in PAIRS])
def test_an_area_broken_as_published_leaves_the_others_judged(
    run_pack, mutate_reference, pytester, breaker, second, tests
):
    sqlite = ("--dataflow-db", "sqlite", "-q")
    broken = mutate_reference(f"broken_{breaker}", AREA_BREAKERS[breaker])
    # the breaker is caught by its own area
    own = run_pack(f"--dataflow-impl={broken}", *sqlite, "-k", AREA_BREAKERS[breaker].tests)
    assert outcomes(pytester).get("failed", 0) >= 1, f"{breaker} was not caught:\n{own.stdout.str()[-1500:]}"
    # ... and does not disturb the other area's tests
    alone = run_pack(f"--dataflow-impl={broken}", *sqlite, "-k", tests)
    assert set(outcomes(pytester)) == {"passed"}, f"{breaker} alone disturbs {tests}:\n{alone.stdout.str()[-1500:]}"
    # the other area's bug, beside it, is caught by those tests on their own rule
    twice = mutate_reference(f"broken_{breaker}_and_{second}", both(AREA_BREAKERS[breaker], MUTANTS[second]))
    run_pack(f"--dataflow-impl={twice}", *sqlite, "-k", tests)
    seen = outcomes(pytester)
    assert seen.get("failed", 0) >= 1 and "blocked" not in seen, f"{second} beside {breaker}: {seen}"
